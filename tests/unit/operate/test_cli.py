"""The cluster commands' contract before any cluster is reached: usage errors (2),
invalid files (1), an unusable kubeconfig or an unreachable apiserver (4), each
as one line; and `orch compile` never loading cluster code."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from operate.cli import main

GOOD = """\
apiVersion: orchestration.proompteng.ai/v1alpha1
kind: Orchestration
metadata: {name: hello}
spec:
  steps:
    - {name: a, kind: Container, image: alpine}
"""


@pytest.fixture
def good(tmp_path: Path) -> str:
    path = tmp_path / "good.yaml"
    path.write_text(GOOD)
    return str(path)


@pytest.fixture
def nowhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A kubeconfig whose apiserver does not answer."""
    path = tmp_path / "kubeconfig"
    path.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "c",
        "clusters": [{"name": "k", "cluster": {"server": "https://127.0.0.1:1",
                                               "insecure-skip-tls-verify": True}}],
        "users": [{"name": "u", "user": {"token": "t"}}],
        "contexts": [{"name": "c", "context": {"cluster": "k", "user": "u"}}]}))
    monkeypatch.setenv("KUBECONFIG", str(path))
    return path


@pytest.mark.parametrize("argv,message", [
    (["submit", "{good}", "--param", "novalue"], "--param 'novalue': expected KEY=VALUE"),
    (["submit", "{good}", "--name", "Not_A_Name"],
     '--name "Not_A_Name" is not a valid Kubernetes object name'),
    (["submit", "{good}", "--orchestration", "other"], 'no Orchestration "other" in the file'),
    (["submit", "{good}", "-n", "b", "--namespace", "b"], None),
    (["get"], "the following arguments are required: RUN"),
    (["watch", "r", "--bogus"], "unrecognized arguments: --bogus"),
    # Names no object can have are never sent (`.` is the list, `a/b` a subresource):
    # a usage error, not the cluster's 4 (issue 22.11).
    (["get", "."], 'OrchestrationRun name "." is not a valid Kubernetes object name'),
    (["watch", "victim/release"],
     'OrchestrationRun name "victim/release" is not a valid Kubernetes object name'),
    (["cancel", "ok", ".."], 'OrchestrationRun name ".." is not a valid'),
    (["resume", "a/status"], 'OrchestrationRun name "a/status" is not a valid'),
    (["get", "r", "-n", "../x"], 'namespace "../x" is not a valid namespace'),
], ids=["param", "name", "orchestration", "namespace-flag", "get-no-run", "unknown-flag",
        "get-dot", "watch-subresource", "cancel-dotdot", "resume-subresource",
        "namespace-path"])
def test_usage_errors_exit_2_with_one_line(argv: list[str], message: str | None, good: str,
                                           nowhere: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    argv = [a.replace("{good}", good) for a in argv]
    if message is None:  # a namespace flag is fine; the cluster is what fails here
        assert main(argv) == 4
        return
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse exits itself
        code = int(exc.code or 0)
    err = capsys.readouterr().err
    assert code == 2
    assert message in err
    assert "Traceback" not in err


def test_the_file_namespace_and_the_flag_must_agree(tmp_path: Path, nowhere: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "ns.yaml"
    path.write_text(GOOD.replace("{name: hello}", "{name: hello, namespace: a}"))
    assert main(["submit", str(path), "-n", "b"]) == 2
    assert capsys.readouterr().err == (
        f'orch: error: the Orchestration in {path} is in namespace "a", not "b"; pass '
        "--namespace a or drop it from the file\n")


def test_an_invalid_file_exits_1_with_the_compilers_diagnostics_before_any_cluster_call(
        tmp_path: Path, nowhere: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(GOOD.replace("image: alpine", "image: alpine, dependsOn: [nope]"))
    assert main(["submit", str(path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"{path}:6: spec.steps[0].dependsOn[0]: ")
    assert err.rstrip().endswith("[MissingDependency]")


def test_a_parameter_the_compiler_refuses_is_named_by_its_flag(
        good: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "none"))  # refused before any cluster
    assert main(["submit", good, "--param", "bad name=x"]) == 1
    err = capsys.readouterr().err
    assert err.startswith('--param bad name: "bad name" is not a valid Argo parameter name')
    assert err.endswith("[InvalidField]\n") and len(err.splitlines()) == 1


@pytest.mark.parametrize("argv", [["get", "r"], ["list", "-A"], ["cancel", "r"],
                                  ["resume", "r"], ["watch", "r"]])
def test_an_unreachable_apiserver_exits_4_with_one_line(
        argv: list[str], nowhere: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 4
    err = capsys.readouterr().err
    assert err.startswith("orch: error: cannot reach https://127.0.0.1:1: ")
    assert len(err.splitlines()) == 1


def test_no_kubeconfig_exits_4_saying_what_to_do(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert main(["list"]) == 4
    assert capsys.readouterr().err == (
        "orch: error: kubeconfig: no kubeconfig: pass --kubeconfig FILE or set KUBECONFIG "
        "(~/.kube/config does not exist)\n")


def test_compile_loads_no_cluster_code(good: str) -> None:
    """`orch compile` (through the same entry point) imports none of the modules the
    cluster commands need: its cold start is the compiler's."""
    probe = ("import sys; from operate.cli import main; main(['compile', sys.argv[1]]); "
             "print(sorted(m for m in sys.modules if m.startswith('operate') "
             "or m in ('ssl', 'http.client', 'kubernetes')), file=sys.stderr)")
    done = subprocess.run([sys.executable, "-c", probe, good], capture_output=True, text=True,
                          check=True)
    assert done.stdout.startswith("apiVersion: argoproj.io/v1alpha1")
    # the entry and the file commands; no client, kubeconfig, cluster reads or views
    assert done.stderr.strip() == str(sorted([
        "operate", "operate.cli", "operate.errors", "operate.reading", "operate.compiling",
        "operate.planning", "operate.commands", "operate.toolsource"]))


@pytest.mark.parametrize("argv", [
    ["-n", "team-b", "list"], ["--namespace", "team-b", "list"], ["--namespace=team-b", "list"],
    ["-nteam-b", "list"], ["--context", "x", "-n", "team-b", "get", "r"],
])
def test_cluster_flags_before_the_command_are_read_as_kubectl_reads_them(
        argv: list[str], nowhere: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`kubectl orch -n team-b list` (issue 21: a usage error): the flags reach the
    command, which then asks the cluster (here unreachable: exit 4, not 2)."""
    code = main(argv)
    err = capsys.readouterr().err
    if "--context" in argv:  # the flag was read: the kubeconfig has no such context
        assert (code, err.splitlines()[0]) == (
            4, f'orch: error: kubeconfig: context "x" not found in {nowhere} (contexts: '
               "c)")
    else:
        assert code == 4 and err.startswith("orch: error: cannot reach https://127.0.0.1:1: ")


def test_hoisting_moves_only_the_leading_cluster_flags() -> None:
    from operate.cli import hoist_cluster_flags

    assert hoist_cluster_flags(["-n", "a", "get", "r", "-o", "wide"]) == [
        "get", "-n", "a", "r", "-o", "wide"]
    assert hoist_cluster_flags(["get", "-n", "a", "r"]) == ["get", "-n", "a", "r"]
    assert hoist_cluster_flags(["--version"]) == ["--version"]
    assert hoist_cluster_flags(["-n", "a"]) == ["-n", "a"]  # no command: argparse says so
