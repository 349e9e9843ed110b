"""What `orch` reads and writes at its edges (issue 10): encodings, JSON input,
`kind: List`, duplicates across files, machine output on stdout, one line per
problem, and failures of the disk or the files that never show a traceback."""

from __future__ import annotations

import codecs
import json
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml

from compiler.render import LIST_HEAD
from operate.cli import main
from tests.golden import ROOT, VALID, flags, inputs

DIAMOND = VALID / "diamond.yaml"
ORCH = [sys.executable, "-m", "operate"]


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def orchestration(name: str, namespace: str | None = None, **step: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if namespace:
        meta["namespace"] = namespace
    return {"apiVersion": "orchestration.proompteng.ai/v1alpha1", "kind": "Orchestration",
            "metadata": meta,
            "spec": {"steps": [{"name": "a", "kind": "Container", "image": "alpine", **step}]}}


def run_doc(name: str, ref: str, **parameters: str) -> dict[str, Any]:
    return {"apiVersion": "orchestration.proompteng.ai/v1alpha1", "kind": "OrchestrationRun",
            "metadata": {"name": name},
            "spec": {"orchestrationRef": {"name": ref}, "parameters": parameters}}


# --- machine output on stdout -------------------------------------------------------


def test_validate_json_is_on_stdout_and_the_note_on_stderr(
        capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["validate", "-o", "json", str(DIAMOND)], capsys)
    assert (code, json.loads(out), err) == (0, [], "1 document(s) valid\n")


def test_compile_json_of_one_workflow_is_the_object(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["compile", "-o", "json", str(DIAMOND)], capsys)
    assert code == 0 and json.loads(out)["kind"] == "Workflow"


def test_compile_json_of_several_workflows_is_a_v1_list(
        capsys: pytest.CaptureFixture[str]) -> None:
    """A bare JSON array is refused by kubectl; a `v1` `List` is what `kubectl get
    -o json` prints and what `kubectl create -f` reads."""
    code, out, _ = run(["compile", "-o", "json", str(DIAMOND), str(VALID / "sequential.yaml")],
                       capsys)
    assert code == 0
    body = json.loads(out)
    assert {k: body[k] for k in LIST_HEAD} == LIST_HEAD
    assert [w["metadata"]["generateName"] for w in body["items"]] == ["diamond-", "sequential-"]
    assert out == json.dumps(body, indent=2, ensure_ascii=False) + "\n"


def test_compile_json_problems_are_lines_on_stderr(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(orchestration("x", dependsOn=["b"])))
    code, out, err = run(["compile", "-o", "json", str(bad)], capsys)
    assert (code, out) == (1, "")
    assert err.startswith(f"{bad}:") and err.endswith("[MissingDependency]\n")


def test_every_problem_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Keys and values carry line breaks and control characters into messages and
    paths: each diagnostic still prints as exactly one line."""
    f = tmp_path / "lines.yaml"
    f.write_text(json.dumps({**run_doc("r", "x"),
                             "spec": {"orchestrationRef": {"name": "x"},
                                      "parameters": {"a\nb\u2028c\x85d": "1", "ok": 2}}}))
    code, _, err = run(["validate", str(f)], capsys)
    assert code == 1
    lines = err.split("\n")[:-1]
    # Its two own problems, and (the run salvaged: every problem at once) that its
    # Orchestration is not in the input.
    assert [line.rsplit(" ", 1)[1] for line in lines] == [
        "[InvalidField]", "[InvalidField]", "[OrchestrationNotFound]"], err
    assert any('["a\\nb\\u2028c\\x85d"]' in line for line in lines), lines


# --- encodings and JSON ----------------------------------------------------------


def test_utf16_with_a_byte_order_mark_is_read_as_kubectl_reads_it(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = DIAMOND.read_text()
    for i, (bom, codec) in enumerate(((codecs.BOM_UTF16_LE, "utf-16-le"),
                                      (codecs.BOM_UTF16_BE, "utf-16-be"),
                                      (codecs.BOM_UTF8, "utf-8"))):
        f = tmp_path / f"{i}.yaml"
        f.write_bytes(bom + text.encode(codec))
        code, out, err = run(["compile", str(f)], capsys)
        assert (code, err) == (0, "")
        assert out == run(["compile", str(DIAMOND)], capsys)[1]


@pytest.mark.parametrize(("data", "line", "column", "what"), [
    pytest.param("metadata:\n  name: caf\xe9\n".encode("latin-1"), 2, 12, "byte 0xe9",
                 id="latin-1"),
    pytest.param("a: 1\n".encode("utf-16-le"), 1, 2, "U+0000", id="utf-16-without-bom"),
    pytest.param(b"a: 1\nb: \xc2\x97\n", 2, 4, "U+0097", id="raw-c1-in-yaml"),
])
def test_undecodable_text_is_invalid_yaml_with_its_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], data: bytes, line: int, column: int,
        what: str) -> None:
    f = tmp_path / "enc.yaml"
    f.write_bytes(data)
    code, out, _ = run(["validate", "-o", "json", str(f)], capsys)
    (problem,) = json.loads(out)
    assert code == 1
    assert (problem["reason"], problem["line"], problem["column"]) == ("InvalidYAML", line, column)
    assert what in problem["message"]


def test_json_as_python_writes_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`json.dumps` escapes characters past the BMP as surrogate pairs (libyaml
    refuses each half) and, with ensure_ascii=False, writes DEL, C1 and NEL raw
    (YAML refuses them or folds NEL into a space): kubectl reads both exactly."""
    value = "smile \U0001f600 del\x7f c1\x97 nel\x85 end"
    for ensure_ascii in (True, False):
        f = tmp_path / f"{ensure_ascii}.json"
        f.write_text(json.dumps(orchestration("j", args=[value]), ensure_ascii=ensure_ascii),
                     encoding="utf-8")
        code, out, err = run(["compile", "-o", "json", str(f)], capsys)
        assert (code, err) == (0, "")
        assert json.loads(out)["spec"]["templates"][1]["container"]["args"] == [value]


def test_a_lone_surrogate_escape_is_refused_with_its_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "lone.json"
    f.write_text(json.dumps(orchestration("j", args=["ok", "\ud800"]), indent=1))
    code, out, err = run(["compile", str(f)], capsys)
    assert (code, out) == (1, "")
    assert err.startswith(f"{f}:") and "half of a surrogate pair" in err
    assert "[InvalidYAML]" in err and err.count("\n") == 1


# --- kind: List, duplicates, runs -------------------------------------------------


def test_kubectl_list_output_compiles_like_its_items(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    items = [orchestration("o"), run_doc("r", "o", x="1")]
    listed = tmp_path / "list.yaml"
    listed.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": items}))
    plain = tmp_path / "plain.yaml"
    plain.write_text(yaml.safe_dump_all(items))
    assert run(["compile", str(listed)], capsys)[:2] == run(["compile", str(plain)], capsys)[:2]


def test_duplicates_across_files_name_both_places(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    first, second = tmp_path / "a.yaml", tmp_path / "b.yaml"
    first.write_text(yaml.safe_dump_all([orchestration("o", "ns"), run_doc("r", "o")]))
    second.write_text("# again\n" + yaml.safe_dump_all(
        [orchestration("o", "ns"), orchestration("o"), run_doc("r", "o")]))
    code, out, err = run(["validate", str(first), str(second)], capsys)
    assert (code, out) == (1, "")
    lines = err.splitlines()
    assert len(lines) == 2, err

    def line_of(path: Path, text: str, nth: int = 0) -> int:
        numbers = [i for i, line in enumerate(path.read_text().splitlines(), 1) if text in line]
        return numbers[nth]

    o_first, o_second = line_of(first, "name: o"), line_of(second, "name: o")
    r_first, r_second = line_of(first, "name: r"), line_of(second, "name: r")
    assert lines[0].startswith(f"{second}:{o_second}: metadata.name: Orchestration \"o\" "
                               f"(namespace \"ns\") is defined twice: first at {first}:{o_first}")
    assert lines[1].startswith(f"{second}:{r_second}: metadata.name: OrchestrationRun \"r\" is "
                               f"defined twice: first at {first}:{r_first}")
    assert all(line.endswith("[DuplicateResource]") for line in lines)


def test_a_run_and_its_orchestration_in_any_order(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "order.yaml"
    f.write_text(yaml.safe_dump_all([run_doc("r", "o", x="1"), orchestration("o")]))
    code, out, _ = run(["compile", str(f)], capsys)
    (workflow,) = yaml.safe_load_all(out)
    assert code == 0 and workflow["metadata"]["name"] == "r"


# --- files and disks that fail ----------------------------------------------------


def test_an_unreadable_file_does_not_stop_validate(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(orchestration("x", dependsOn=["b"])))
    missing = tmp_path / "missing.yaml"
    code, out, err = run(["validate", str(missing), str(tmp_path), str(DIAMOND), str(bad)],
                         capsys)
    lines = err.splitlines()
    assert (code, out) == (2, "")
    assert lines[0] == f"orch: error: {missing}: cannot read: No such file or directory"
    assert lines[1] == f"orch: error: {tmp_path}: cannot read: Is a directory"
    assert lines[2].startswith(f"{bad}:") and lines[2].endswith("[MissingDependency]")
    assert len(lines) == 3
    code, out, err = run(["compile", str(missing), str(DIAMOND)], capsys)
    assert (code, out) == (2, "")  # nothing half-compiled on stdout


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="no /dev/full on this system")
def test_a_full_disk_is_one_line_and_exit_2() -> None:
    with open("/dev/full", "w") as full:
        proc = subprocess.run([*ORCH, "compile", str(DIAMOND)], stdout=full,
                              stderr=subprocess.PIPE, text=True, check=False)
    assert proc.returncode == 2
    assert proc.stderr == "orch: error: cannot write the output: No space left on device\n"


def test_crds_output_dir_must_name_a_directory(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, err = run(["crds", "--output-dir", ""], capsys)
    assert (code, out) == (2, "")
    assert err.startswith("orch: error: --output-dir needs a directory")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", ["Bad_SA", "-x", "a" * 254, "x.", "", "a b"])
def test_service_account_must_be_a_kubernetes_name(
        name: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["compile", f"--service-account={name}", str(DIAMOND)], capsys)
    assert (code, out) == (2, "")
    assert err.startswith("orch: error: --service-account") and err.count("\n") == 1
    assert run(["compile", "--service-account", "wf-runner.ci", str(DIAMOND)], capsys)[0] == 0


def test_controller_with_a_missing_kubeconfig_is_one_line(tmp_path: Path) -> None:
    """Refused at once, before anything waits for an apiserver: one that waited
    would hang here until the timeout (the hang guard, not a measurement)."""
    env = {**os.environ, "HOME": str(tmp_path)}
    env.pop("KUBECONFIG", None)
    env.pop("KUBERNETES_SERVICE_HOST", None)
    proc = subprocess.run([*ORCH, "controller", "--kubeconfig", "/nonexistent",
                           "--metrics-bind-address", "127.0.0.1:0",
                           "--health-probe-bind-address", "127.0.0.1:0"],
                          capture_output=True, text=True, timeout=120, env=env, check=False)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr == ("orch controller: error: cannot read the kubeconfig: /nonexistent: "
                           "No such file or directory (give --kubeconfig FILE, set KUBECONFIG, "
                           "or run in a cluster)\n")


@pytest.mark.parametrize(("text", "words"), [
    pytest.param("garbage: [\n", "not YAML", id="not-yaml"),
    pytest.param("apiVersion: v1\nkind: Config\n", "current-context", id="no-current-context"),
    pytest.param("apiVersion: v1\nkind: Config\ncurrent-context: nowhere\ncontexts: []\n",
                 "nowhere", id="unknown-context"),
])
def test_controller_with_an_invalid_kubeconfig_is_one_line(tmp_path: Path, text: str,
                                                          words: str) -> None:
    """A kubeconfig that exists but the client cannot use: one line, exit 2, before
    any port is bound (it was the client's traceback, after start-up)."""
    config = tmp_path / "config"
    config.write_text(text)
    env = {**os.environ, "HOME": str(tmp_path)}
    env.pop("KUBECONFIG", None)
    env.pop("KUBERNETES_SERVICE_HOST", None)
    proc = subprocess.run([*ORCH, "controller", "--kubeconfig", str(config),
                           "--metrics-bind-address", "127.0.0.1:0",
                           "--health-probe-bind-address", "127.0.0.1:0"],
                          capture_output=True, text=True, timeout=60, env=env, check=False)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith(f"orch controller: error: cannot use the kubeconfig {config}: ")
    assert proc.stderr.count("\n") == 1 and words in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr


# --- the documentation's example -----------------------------------------------------

DOC = ROOT / "docs" / "plan-and-graph.md"


def test_the_documented_plan_is_what_orch_prints(capsys: pytest.CaptureFixture[str],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """docs/plan-and-graph.md shows `orch plan` on a file the repository ships:
    the output printed there is the output of that file."""
    text = DOC.read_text()
    block = text.split("```\n$ orch plan ", 1)[1].split("```", 1)[0]
    command, expected = block.split("\n", 1)
    monkeypatch.chdir(ROOT)
    code, out, err = run(["plan", *command.split()], capsys)
    assert (code, err) == (0, "")
    assert out == expected


SHIPPED_EXAMPLES = sorted([*(ROOT / "docs" / "examples").glob("*.yaml"),
                           *(ROOT / "charts" / "orch" / "examples").glob("*.yaml")])


@pytest.mark.parametrize("path", SHIPPED_EXAMPLES, ids=lambda p: p.name)
def test_every_shipped_container_step_names_its_command(path: Path) -> None:
    """Argo's emissary runs a container without `command` by asking the registry for
    the image's entrypoint (or the controller's `images` setting): the examples
    people copy fail on a cluster without registry access. Issue 21: release.yaml's
    `checkout` had `args` only."""
    docs = [d for d in yaml.safe_load_all(path.read_text()) if isinstance(d, dict)]
    steps = [s for d in docs if d.get("kind") == "Orchestration"
             for s in (d.get("spec") or {}).get("steps") or ()]
    assert steps, path
    missing = [s["name"] for s in steps if s.get("kind") == "Container" and not s.get("command")]
    assert missing == [], f"{path.relative_to(ROOT)}: Container steps without command"


# --- what the commands load ---------------------------------------------------------


def _imported(argv: list[str], expect: int | None = None) -> set[str]:
    """The modules a fresh `orch ARGV` process imports (`-X importtime`)."""
    return _imported_by("import sys; from operate.cli import main; "
                        "sys.exit(main(sys.argv[1:]))", argv, expect)


def _imported_by(code: str, argv: Sequence[str] = (), expect: int | None = None) -> set[str]:
    proc = subprocess.run([sys.executable, "-X", "importtime", "-c", code, *argv],
                          capture_output=True, text=True, check=False, cwd=ROOT)
    if expect is not None:
        assert proc.returncode == expect, proc.stderr[-2000:]
    return {line.rsplit("|", 1)[1].strip() for line in proc.stderr.splitlines()
            if line.startswith("import time:") and "|" in line} - {"package"}


def test_offline_commands_load_what_compile_loads_and_little_else() -> None:
    """Start-up is import time: `plan`, `graph` and `validate` load at most a few
    small modules of their own beyond what `orch compile` loads; `crds` adds the
    pydantic schema it is generated from, and nothing else."""
    example = str(ROOT / "docs" / "examples" / "release.yaml")
    compile_ = _imported(["compile", example])
    schema = _imported_by("import orchapi.schema")
    own = {
        "plan": {"compiler.present", "orchapi.semantics"},
        "graph": {"compiler.present"},
        "validate": set(),
        "crds": {"compiler.crd", "pydantic._internal._dataclasses", "pydantic.type_adapter",
                 *schema},
    }
    for command, extra in own.items():
        loaded = _imported([command, *([] if command == "crds" else [example])])
        assert loaded - compile_ <= extra, (command, sorted(loaded - compile_ - extra))


# What a cold `orch compile` of a valid file must not load: the cluster side (the
# controller, the kubernetes client and what it stands on), hera (a test oracle),
# and pydantic, whose import and model build were half of the command's time: a
# valid document is read by `orchapi.records`, and pydantic judges only what they
# cannot accept (issue 19).
NOT_FOR_COMPILE = {"controller", "kubernetes", "hera", "pydantic", "pydantic_core",
                   "orchapi.schema", "compiler.tool_schema", "jsonschema", "deepdiff",
                   "urllib3", "requests"}


def _heavy(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if m in NOT_FOR_COMPILE
                  or m.split(".")[0] in NOT_FOR_COMPILE)


@pytest.mark.parametrize("case", inputs(VALID), ids=lambda p: p.stem)
def test_compiling_a_valid_file_loads_no_pydantic_controller_kubernetes_or_hera(
        case: Path) -> None:
    """The real `orch compile` in a fresh process, each valid golden with its
    flags: what `-X importtime` says it imported."""
    loaded = _imported(["compile", *flags(case), str(case)], expect=0)
    assert "compiler.emit" in loaded  # it did compile
    assert _heavy(loaded) == []


def test_an_invalid_document_is_judged_by_pydantic() -> None:
    """The other side of the records: a type error loads the pydantic twin, whose
    errors are the diagnostics (the goldens under golden/invalid hold their text)."""
    case = ROOT / "golden" / "invalid" / "wrong-types.yaml"
    assert case.exists()
    loaded = _imported(["compile", str(case)], expect=1)
    assert {"pydantic", "pydantic._internal._model_construction"} <= loaded  # the twin built
    assert not any(m.split(".")[0] in {"controller", "kubernetes", "hera"} for m in loaded)


def test_hera_is_not_a_runtime_dependency() -> None:
    """No runtime code imports hera (tests use its models as Argo's type oracle):
    it is in the test extra, not installed with the CLI or the image."""
    import ast
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert not any(d.startswith("hera") for d in project["dependencies"])
    assert any(d.startswith("hera") for d in project["optional-dependencies"]["test"])
    for package in ("orchapi", "compiler", "controller", "operate"):
        for source in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(source.read_text())):
                names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                         [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
                assert not any(n.split(".")[0] == "hera" for n in names), source
