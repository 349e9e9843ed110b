"""The terminal commands against the real cluster: `orch submit/get/watch/list`
as a person runs them (subprocesses, the admin kubeconfig), the controller as a
subprocess with only the chart's RBAC, kwok's pods, the real Argo; and
`kubectl orch` through the real kubectl finding the plugin on PATH.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest
import yaml

from orchapi.api import GENERATION_ANNOTATION, Obj
from tests.cluster import Cluster
from tests.cluster.kube import wait_for
from tests.cluster.kwok import Failures
from tests.e2e.orch_cli import BIN, ORCH, orch, orch_as
from tests.e2e.orch_controller import (
    API,
    ControllerProcess,
    leading_controller,
    orchestration,
    service_account_kubeconfig,
    step,
    workflows_of,
)

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def controller(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory
               ) -> Iterator[ControllerProcess]:
    work = tmp_path_factory.mktemp("operate-controller")
    with leading_controller(cluster, work, "operate") as proc:
        yield proc


def write(path: Path, *docs: Obj) -> str:
    path.write_text(yaml.safe_dump_all(docs, sort_keys=False))
    return str(path)


#   a
#  / \
# b   c
#  \ /
#   d -- e
def diamond(name: str) -> Obj:
    return orchestration(name, [step("a", []), step("b", ["a"]), step("c", ["a"]),
                                step("d", ["b", "c"]), step("e", ["d"])])


def run_status(cluster: Cluster, name: str) -> Obj:
    obj = cluster.kube.get(API, "OrchestrationRun", name, cluster.namespace)
    assert obj is not None
    return dict(obj["status"])


def test_submit_watch_succeeds_then_get_and_list_show_the_run(
        cluster: Cluster, controller: ControllerProcess, tmp_path: Path) -> None:
    path = write(tmp_path / "ok.yaml", diamond("op-ok"))
    done = orch(cluster, "submit", path, "--apply", "--param", "greeting=hi", "--watch")
    assert done.returncode == 0, done.stderr + done.stdout
    name = done.stdout.splitlines()[0]
    assert name.startswith("op-ok-")
    assert f"{name} Succeeded after" in done.stdout
    assert "5 succeeded, 0 running, 0 failed, 0 skipped, 0 pending" in done.stdout
    assert 'Orchestration "op-ok" applied' in done.stderr
    # The log has a line for each step that ended, and the run's last line.
    ended = [line.split()[1] for line in done.stdout.splitlines()
             if " Succeeded " in f" {line} " and line[:2].isdigit()]
    assert set(ended) >= {"a", "b", "c", "d", "e", "run"}

    got = orch(cluster, "get", name, "-o", "json")
    assert got.returncode == 0, got.stderr
    assert json.loads(got.stdout)["status"] == run_status(cluster, name)

    tree = orch(cluster, "get", name)
    rows = [line.split() for line in tree.stdout.split("\n\n")[1].splitlines()[1:]]
    assert [r[1] for r in rows] == [name, "a", "b", "c", "d", "e"]  # DAG order
    assert all(r[2] == "Succeeded" for r in rows)
    assert all(r[-1].startswith(f"pod/{name}-") for r in rows[1:])  # what each step created

    listed = orch(cluster, "list")
    line = next(line.split() for line in listed.stdout.splitlines() if line.startswith(name))
    assert line[:4] == [name, "op-ok", "Succeeded", "5/5"]


def test_submit_watch_of_a_failing_run_exits_1_naming_the_failure_and_what_it_skipped(
        cluster: Cluster, controller: ControllerProcess, fail_pods: Failures,
        tmp_path: Path) -> None:
    fail_pods.steps("op-fail", ["b"])
    path = write(tmp_path / "fail.yaml", diamond("op-fail"))
    done = orch(cluster, "submit", path, "--apply", "--watch")
    assert done.returncode == 1, done.stderr + done.stdout
    name = done.stdout.splitlines()[0]
    final = done.stdout[done.stdout.index(f"{name} Failed after"):].splitlines()
    failed = [line.split() for line in final if line.strip().startswith("✖")]
    assert [f[:4] for f in failed] == [["✖", "b", "Failed", "StepFailed"]]
    # CREATED names the failed step's pod, as `orch get` does (issue 21: it was empty)
    (pod,) = [cell for cell in failed[0] if cell.startswith("pod/")]
    assert pod.startswith(f"pod/{name}-")
    assert "      skipped because of it: d, e" in final
    assert final[-1] == "2 succeeded, 0 running, 1 failed, 2 skipped, 0 pending"
    got = orch(cluster, "get", name)
    rows = {r[1]: r for r in (line.split() for line in got.stdout.splitlines())
            if len(r) > 2 and r[0].endswith(("✔", "✖", "○"))}
    assert rows["d"][2:6] == ["Skipped", "DependencyFailed", "←", "b"]
    assert rows["e"][2:6] == ["Skipped", "DependencyFailed", "←", "d"]


def test_watch_on_a_terminal_redraws_in_place(cluster: Cluster, controller: ControllerProcess,
                                              tmp_path: Path) -> None:
    import pty

    path = write(tmp_path / "tty.yaml", diamond("op-tty"))
    created = orch(cluster, "submit", path, "--apply")
    assert created.returncode == 0, created.stderr
    name = created.stdout.strip()
    pid, fd = pty.fork()
    if pid == 0:  # the child: orch watch on the terminal
        os.environ.update(KUBECONFIG=str(cluster.kubeconfig), COLUMNS="100", LINES="30")
        os.execv(ORCH, [ORCH, "watch", name, "-n", cluster.namespace])
    out = b""
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    _, status = os.waitpid(pid, 0)
    text = out.decode()
    assert os.waitstatus_to_exitcode(status) == 0, text
    assert "\x1b[J" in text and "\x1b[?25l" in text  # cleared and redrawn, cursor hidden
    assert text.rstrip().endswith("5 succeeded, 0 running, 0 failed, 0 skipped, 0 pending")
    assert "\x1b[32m" in text  # colour on a terminal


def test_kubectl_orch_through_the_real_kubectl(cluster: Cluster, controller: ControllerProcess,
                                               tmp_path: Path) -> None:
    path = write(tmp_path / "k.yaml", orchestration("op-kubectl", [step("only")]))
    done = orch(cluster, "submit", path, "--apply", "--watch")
    assert done.returncode == 0, done.stderr
    name = done.stdout.splitlines()[0]
    env = {"PATH": f"{BIN}{os.pathsep}/usr/bin{os.pathsep}/bin", "HOME": str(tmp_path),
           "KUBECONFIG": str(cluster.kubeconfig)}
    plugins = subprocess.run([str(cluster.bin_dir / "kubectl"), "plugin", "list"],
                             capture_output=True, text=True, env=env, timeout=30)
    assert str(BIN / "kubectl-orch") in plugins.stdout, plugins.stdout + plugins.stderr
    got = subprocess.run([str(cluster.bin_dir / "kubectl"), "orch", "get", name, "-n",
                          cluster.namespace, "-o", "json"],
                         capture_output=True, text=True, env=env, timeout=30)
    assert got.returncode == 0, got.stderr
    assert json.loads(got.stdout)["status"] == run_status(cluster, name)
    # The namespace before the command, as kubectl takes it (issue 21: a usage error).
    listed = subprocess.run([str(cluster.bin_dir / "kubectl"), "orch", "-n", cluster.namespace,
                             "list", "-o", "name"],
                            capture_output=True, text=True, env=env, timeout=30)
    assert listed.returncode == 0, listed.stderr
    assert f"orchestrationrun.orchestration.proompteng.ai/{name}" in listed.stdout.split()


def test_an_exec_credential_plugin_and_the_cluster_errors(
        cluster: Cluster, controller: ControllerProcess, tmp_path: Path) -> None:
    """The ServiceAccount's token handed out by an exec plugin, as EKS/GKE do; and a
    run that does not exist, a server that does not answer: one line, exit 4."""
    sa = service_account_kubeconfig(cluster, [cluster.namespace], cluster.namespace,
                                    "orch-e2e-operate", tmp_path / "sa")
    config = yaml.safe_load(sa.read_text())
    token = config["users"][0]["user"].pop("token")
    plugin = tmp_path / "token-plugin"
    plugin.write_text("#!/bin/sh\nprintf '%s' '" + json.dumps({
        "apiVersion": "client.authentication.k8s.io/v1", "kind": "ExecCredential",
        "status": {"token": token}}) + "'\n")
    plugin.chmod(0o755)
    config["users"][0]["user"]["exec"] = {
        "apiVersion": "client.authentication.k8s.io/v1", "command": "./token-plugin",
        "interactiveMode": "Never"}
    (tmp_path / "exec-kubeconfig").write_text(yaml.safe_dump(config))
    listed = orch(cluster, "list", "--kubeconfig", str(tmp_path / "exec-kubeconfig"))
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.splitlines()[0].split()[:2] == ["NAME", "ORCHESTRATION"]

    missing = orch(cluster, "get", "no-such-run")
    assert (missing.returncode, missing.stdout) == (4, "")
    assert missing.stderr == (f'orch: error: OrchestrationRun "no-such-run" not found in '
                              f'namespace "{cluster.namespace}"\n')
    config["clusters"][0]["cluster"]["server"] = "https://127.0.0.1:1"
    (tmp_path / "dead").write_text(yaml.safe_dump(config))
    dead = orch(cluster, "list", "--kubeconfig", str(tmp_path / "dead"))
    assert dead.returncode == 4
    assert dead.stderr.startswith("orch: error: cannot reach https://127.0.0.1:1: ")
    assert len(dead.stderr.splitlines()) == 1


def test_watch_of_a_run_deleted_while_watched_exits_4(
        cluster: Cluster, controller: ControllerProcess, fail_pods: Failures,
        tmp_path: Path) -> None:
    fail_pods.hold_steps("op-held", ["slow"])
    path = write(tmp_path / "held.yaml", orchestration("op-held", [step("slow", [])]))
    created = orch(cluster, "submit", path, "--apply")
    assert created.returncode == 0, created.stderr
    name = created.stdout.strip()
    env = {**os.environ, "KUBECONFIG": str(cluster.kubeconfig)}
    watcher = subprocess.Popen([ORCH, "watch", name, "-n", cluster.namespace],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env=env)
    try:
        assert watcher.stdout is not None
        seen = []
        for line in watcher.stdout:  # one line per change: wait for the step to run
            seen.append(line)
            if line.split()[1:3] == ["slow", "Running"]:
                break
        cluster.kube.delete(API, "OrchestrationRun", name, cluster.namespace)
        code = watcher.wait(30)
    finally:
        watcher.kill()
    assert code == 4, seen
    assert watcher.stderr is not None
    assert watcher.stderr.read() == (
        f'orch: error: OrchestrationRun "{name}" was deleted while watched\n')


def first_workflow(cluster: Cluster, run_name: str) -> Obj | None:
    return next(iter(workflows_of(cluster, run_name)), None)


def test_submit_apply_of_an_edited_orchestration_runs_the_generation_just_applied(
        cluster: Cluster, controller: ControllerProcess, tmp_path: Path) -> None:
    """`orch submit --apply` stores the edited Orchestration and creates the run right
    after it: the run's Workflow is compiled from that generation, never from the
    controller's cache of the one before (the cache may not have seen the edit yet;
    tests/unit/controller/test_reconcile_live_orchestration.py makes the lag certain).
    Four edits in a row, each run checked."""
    for size in range(1, 5):
        steps = [step(f"s{i}", [f"s{i - 1}"] if i else []) for i in range(size)]
        path = write(tmp_path / f"gen{size}.yaml", orchestration("op-gen", steps))
        created = orch(cluster, "submit", path, "--apply")
        assert created.returncode == 0, created.stderr
        name = created.stdout.strip()
        wf: Obj = wait_for(partial(first_workflow, cluster, name), f"{name}: its Workflow",
                           30, 0.1)
        entry = next(t for t in wf["spec"]["templates"]
                     if t["name"] == wf["spec"]["entrypoint"])
        assert [t["name"] for t in entry["dag"]["tasks"]] == [s["name"] for s in steps]
        stored = cluster.kube.get(API, "Orchestration", "op-gen", cluster.namespace)
        assert stored is not None
        assert wf["metadata"]["annotations"][GENERATION_ANNOTATION] == \
            str(stored["metadata"]["generation"])


def test_compile_reads_a_missing_tool_from_the_cluster_when_asked(
        cluster: Cluster, tmp_path: Path) -> None:
    """`--tools-from-cluster` (issue 21): the Tool a ToolRun step names and the
    input lacks is read from the current kube context, as the controller does at
    submission; without the flag the ToolNotFound names it."""
    from tests.cluster.cluster import TOOL_CRD

    if TOOL_CRD not in cluster.crds:
        pytest.skip(f"the Tool CRD comes from ../shared/reference ({TOOL_CRD} not installed)")
    cluster.kube.apply({"apiVersion": "tools.proompteng.ai/v1alpha1", "kind": "Tool",
                        "metadata": {"name": "op-linter"},
                        "spec": {"image": "registry.example/linter:1.2",
                                 "command": ["lint", "{{parameters.path}}"]}},
                       cluster.namespace)
    path = write(tmp_path / "lint.yaml", {
        "apiVersion": API, "kind": "Orchestration",
        "metadata": {"name": "op-lint", "namespace": cluster.namespace},
        "spec": {"steps": [
            {"name": "lint", "kind": "ToolRun", "toolRef": {"name": "op-linter"},
             "with": {"path": "src/"}},
            {"name": "gone", "kind": "ToolRun", "toolRef": {"name": "op-absent"}}]}})
    orch_offline = partial(orch_as, cluster.kubeconfig)

    without = orch_offline("validate", path)
    assert without.returncode == 1
    assert [line.rsplit(" [", 1)[1] for line in without.stderr.splitlines()] == [
        "ToolNotFound]", "ToolNotFound]"]
    assert "or pass --tools-from-cluster to read it" in without.stderr
    with_flag = orch_offline("validate", "--tools-from-cluster", path)
    assert with_flag.returncode == 1
    (line,) = with_flag.stderr.splitlines()
    at = Path(path).read_text().splitlines().index("      name: op-absent") + 1
    assert line.startswith(f'{path}:{at}: spec.steps[1].toolRef.name: Tool "op-absent" is not in '
                           f'the input nor in namespace "{cluster.namespace}" of context ')
    assert line.endswith("[ToolNotFound]")
    # With only the Tool that exists, compile writes its container, rendered.
    Path(path).write_text(Path(path).read_text().split("  - name: gone")[0])
    compiled = orch_offline("compile", "--tools-from-cluster", path)
    assert compiled.returncode == 0, compiled.stderr
    (workflow,) = yaml.safe_load_all(compiled.stdout)
    container = next(t["container"] for t in workflow["spec"]["templates"] if "container" in t)
    assert (container["image"], container["command"]) == (
        "registry.example/linter:1.2", ["lint", "src/"])


def test_a_run_refused_for_a_missing_tool_ends_with_its_steps_resolved(
        cluster: Cluster, controller: ControllerProcess, tmp_path: Path) -> None:
    """On the cluster a missing Tool is said in the cluster's words, and the ended
    run's steps are resolved (issue 21: every step stayed Pending, with no
    stepStatuses, and `orch watch` said "2 pending" of a Failed run)."""
    path = write(tmp_path / "notool.yaml", orchestration("op-notool", [
        step("checkout", []),
        {"name": "lint", "kind": "ToolRun", "toolRef": {"name": "op-nowhere"},
         "dependsOn": ["checkout"]}]))
    submitted = orch(cluster, "submit", path, "--apply")
    assert submitted.returncode == 0, submitted.stderr
    name = submitted.stdout.strip()
    watched = orch(cluster, "watch", name)
    assert watched.returncode == 1, watched.stdout + watched.stderr
    status = run_status(cluster, name)
    condition = next(c for c in status["conditions"] if c["type"] == "Submitted")
    assert (condition["status"], condition["reason"]) == ("False", "ToolNotFound")
    assert condition["message"] == (
        f'spec.steps[1].toolRef.name: Tool "op-nowhere" is not in namespace '
        f'"{cluster.namespace}" (create the Tool (tools.proompteng.ai/v1alpha1) in namespace '
        f'"{cluster.namespace}", or fix the step\'s toolRef)')
    assert "to the input" not in condition["message"]
    assert status["progress"] == "2/2"
    assert [(s["name"], s["phase"], s["reason"]) for s in status["stepStatuses"]] == [
        ("checkout", "Skipped", "NotSubmitted"), ("lint", "Skipped", "NotSubmitted")]
    lines = watched.stdout.splitlines()
    assert lines[-1] == "0 succeeded, 0 running, 0 failed, 2 skipped, 0 pending"
    assert "  never started: checkout, lint" in lines


@pytest.mark.timeout(180)
def test_a_run_no_controller_watches_says_what_to_check(cluster: Cluster,
                                                         tmp_path: Path) -> None:
    """A run in a namespace no controller watches stays Pending for ever; `orch get`
    and `orch watch` say that nothing has observed it, and what to check (issue 21:
    no hint at all). ORCH_UNOBSERVED_AFTER=0 makes "after a while" now."""
    ns = "op-unwatched"
    cluster.kube.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    cluster.kube.apply(orchestration("op-lonely", [step("a", [])]), ns)
    cluster.kube.apply({"apiVersion": API, "kind": "OrchestrationRun",
                        "metadata": {"name": "op-lonely-1"},
                        "spec": {"orchestrationRef": {"name": "op-lonely"}}}, ns)
    hint = (f'no orch controller seems to watch namespace "{ns}". Check that one runs '
            "(kubectl get pods -A -l app.kubernetes.io/name=orch) and that its "
            f'orchestrationController.namespaces include "{ns}" (or "*")')
    got = orch_as(cluster.kubeconfig, "get", "op-lonely-1", "-n", ns, timeout=60,
                  ORCH_UNOBSERVED_AFTER="0")
    assert got.returncode == 0, got.stderr
    (note,) = [line for line in got.stdout.splitlines() if line.startswith("Note:")]
    assert "nothing has observed this run in " in note and note.endswith(hint)
    # A quiet default: right after creation nothing is said.
    quiet = orch_as(cluster.kubeconfig, "get", "op-lonely-1", "-n", ns, timeout=60,
                    ORCH_UNOBSERVED_AFTER="3600")
    assert "Note:" not in quiet.stdout
    env = {**os.environ, "KUBECONFIG": str(cluster.kubeconfig), "ORCH_UNOBSERVED_AFTER": "0"}
    watch = subprocess.Popen([ORCH, "watch", "op-lonely-1", "-n", ns],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert watch.stdout is not None
        seen = []
        for line in watch.stdout:
            seen.append(line)
            if " note: nothing has observed this run in " in line:
                assert line.rstrip("\n").endswith(hint)
                break
        else:
            raise AssertionError(f"watch ended without the note: {seen}")
        cluster.kube.delete(API, "OrchestrationRun", "op-lonely-1", ns)
        assert watch.wait(timeout=60) == 4
    finally:
        if watch.poll() is None:
            watch.kill()
