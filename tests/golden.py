"""Golden cases: `golden/valid/<case>.yaml` -> `<case>.argo.yaml` (stdout of
`orch compile`), `golden/invalid/<case>.yaml` -> `<case>.diagnostics.txt` (its
stderr and exit code). A case whose first line is `# orch compile FLAGS` is
compiled with those flags; one compiled under an install's pod policy other than
the default has it beside it, `<case>.pod-policy.json` (`--pod-policy @FILE`).
`python -m tests.golden` (`make golden`) rewrites the expected files; the tests
only compare, and with CI=true nothing is written.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from operate.cli import main

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "golden"
VALID = GOLDEN / "valid"
INVALID = GOLDEN / "invalid"


@dataclass(frozen=True)
class Result:
    code: int
    stdout: str
    stderr: str


def inputs(folder: Path) -> list[Path]:
    return sorted(p for p in folder.glob("*.yaml") if not p.name.endswith(".argo.yaml"))


def policy_flags(case: Path) -> list[str]:
    """The pod policy the case is compiled under, as flags (none: the default)."""
    policy = case.with_name(case.stem + ".pod-policy.json")
    return ["--pod-policy", f"@{policy}"] if policy.exists() else []


FLAGS = "# orch compile "


def flags(case: Path) -> list[str]:
    """The flags the case's first line gives (`# orch compile --max-steps 200`) and
    its pod policy."""
    with case.open(encoding="utf-8") as fh:
        first = fh.readline()
    given = first.removeprefix(FLAGS).split() if first.startswith(FLAGS) else []
    return given + policy_flags(case)


def run_compile(case: Path) -> Result:
    """`orch compile` in-process, with the path as a user would type it from the
    repository root (so diagnostics name `golden/...`)."""
    out, err = io.StringIO(), io.StringIO()
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            # the file commands alone, as `orch` is without a cluster: the
            # goldens need none (no --tools-from-cluster hint)
            code = main(["compile", *flags(case), str(case.relative_to(ROOT))], cluster=False)
    finally:
        os.chdir(cwd)
    return Result(code, out.getvalue(), err.getvalue())


def expected_output(case: Path) -> Path:
    return case.with_name(case.stem + ".argo.yaml")


def expected_diagnostics(case: Path) -> Path:
    return case.with_name(case.stem + ".diagnostics.txt")


STEP_KINDS_DOC = ROOT / "docs/step-kinds.md"
TABLE_BEGIN, TABLE_END = "<!-- field-table:begin -->\n", "<!-- field-table:end -->"


def with_field_table(doc: str) -> str:
    """The docs page with its table of fields rendered from `compiler.step_fields`."""
    from compiler.step_fields import field_table

    head, rest = doc.split(TABLE_BEGIN, 1)
    return head + TABLE_BEGIN + field_table() + TABLE_END + rest.split(TABLE_END, 1)[1]


def render_invalid(result: Result) -> str:
    return f"exit {result.code}\n{result.stderr}"


def regenerate() -> int:
    if os.environ.get("CI") == "true":
        sys.stderr.write("CI=true: golden files are never rewritten in CI\n")
        return 2
    changed = 0
    for case in inputs(VALID):
        result = run_compile(case)
        if result.code != 0:
            sys.stderr.write(
                f"{case}: expected to compile, got exit {result.code}\n{result.stderr}"
            )
            return 1
        changed += _write(expected_output(case), result.stdout)
    for case in inputs(INVALID):
        result = run_compile(case)
        if result.code == 0:
            sys.stderr.write(f"{case}: expected to be refused, but it compiled\n")
            return 1
        changed += _write(expected_diagnostics(case), render_invalid(result))
    changed += _write(STEP_KINDS_DOC, with_field_table(STEP_KINDS_DOC.read_text(encoding="utf-8")))
    from tests.operate_golden import FOLDER, cases

    FOLDER.mkdir(exist_ok=True)
    for name, make in cases().items():
        changed += _write(FOLDER / name, make())
    sys.stderr.write(f"{changed} golden file(s) changed; review them with `git diff golden/`\n")
    return 0


def _write(path: Path, text: str) -> int:
    if path.exists() and path.read_text(encoding="utf-8") == text:
        return 0
    path.write_text(text, encoding="utf-8")
    sys.stderr.write(f"wrote {path.relative_to(ROOT)}\n")
    return 1


if __name__ == "__main__":
    sys.exit(regenerate())
