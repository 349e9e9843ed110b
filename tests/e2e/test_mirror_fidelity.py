"""Real Argo outcomes mirrored as contract §3/§5 say, through the controller
(a subprocess with the chart's RBAC): `argo stop`, `argo terminate`, a Workflow
past its activeDeadlineSeconds, retries exhausted by timeouts, termination
messages and kubelet words that mention "shutdown" and "timeout", and a Workflow
Argo refuses as invalid. Each asserts the run's phase, every step's phase and
reason, and the conditions.

All runs start at once (one module fixture) and each test then acts on its own,
so the module costs about as long as its slowest scenario. kwok stands in for
the kubelet (tests/cluster/kwok.py): it holds a pod Running, fails it with a
termination message or the kubelet's own node-shutdown words, or ends it at its
activeDeadlineSeconds as the kubelet does.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator

import pytest

from orchapi.api import Obj
from tests.cluster import Cluster
from tests.cluster.kwok import Failures
from tests.e2e.orch_controller import (
    WF_API,
    ControllerProcess,
    condition,
    leading_controller,
    orchestration,
    run,
    run_done,
    step,
    step_table,
    wait_run,
    workflows_of,
)

pytestmark = pytest.mark.e2e

NODE_SHUTDOWN = "Pod was terminated in response to imminent node shutdown."  # the kubelet's
USER_WORDS = "imminent node shutdown; deadline exceeded; timeout"

SCENARIOS: dict[str, list[Obj]] = {
    # a (held) -> b      stopped while a runs; c succeeded and d failed before
    # c, d
    "fid-stop": [step("a", []), step("b", ["a"]), step("c", []), step("d", [])],
    # a (held, retries 2) -> b      terminated during a's first attempt
    "fid-term": [step("a", [], retries=2), step("b", ["a"])],
    # a (held) -> b      the Workflow's activeDeadlineSeconds passes while a runs
    # c
    "fid-deadline": [step("a", []), step("b", ["a"]), step("c", [])],
    # a (retries 1, timeout 5s) -> b      every attempt runs into its timeout
    # c* (retries 1, timeout 5s) -> d     the same, best-effort
    # (a timeout under 3 s never gets a pod: see controller/argo_messages.py)
    "fid-timeout": [step("a", [], retries=1, timeoutSeconds=5), step("b", ["a"]),
                    step("c", [], retries=1, timeoutSeconds=5, continueOnFailure=True),
                    step("d", ["c"])],
    # a* -> b      the kubelet ends a's pod for a node shutdown; b runs
    "fid-nodedown": [step("a", [], continueOnFailure=True), step("b", ["a"])],
    # a (timeout 60s) -> b      a's program fails, writing USER_WORDS as its
    #                           termination message
    "fid-words": [step("a", [], timeoutSeconds=60), step("b", ["a"])],
    # t -> u      t names a WorkflowTemplate that does not exist: Argo refuses it
    "fid-invalid": [{"name": "t", "kind": "Template", "dependsOn": [],
                     "templateRef": {"name": "fid-missing", "template": "x"}},
                    step("u", ["t"])],
}


@pytest.fixture(scope="module")
def controller(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory
               ) -> Iterator[ControllerProcess]:
    with leading_controller(cluster, tmp_path_factory.mktemp("fidelity"), "fidelity") as proc:
        yield proc


@pytest.fixture(scope="module")
def started(cluster: Cluster, controller: ControllerProcess) -> Iterator[dict[str, Obj]]:
    """Every scenario's Orchestration and run, applied at once, with kwok told what
    each pod does; yields the runs by name once each has its Workflow."""
    pods = Failures(cluster.kube)
    pods.hold_steps("fid-stop", ["a"])
    pods.steps("fid-stop", ["d"])
    pods.hold_steps("fid-term", ["a"])
    pods.hold_steps("fid-deadline", ["a"])
    pods.deadline_steps("fid-timeout", ["a", "c"])
    pods.steps("fid-nodedown", ["a"], pod_reason="Terminated", pod_message=NODE_SHUTDOWN)
    pods.steps("fid-words", ["a"], message=USER_WORDS)
    try:
        for name, steps in SCENARIOS.items():
            cluster.kube.apply(orchestration(name, steps), cluster.namespace)
            cluster.kube.apply(run(f"{name}-1", name), cluster.namespace)
        yield {name: wait_run(cluster, f"{name}-1", lambda o: bool(
            (o.get("status") or {}).get("workflowRef")), "submitted", 60)
            for name in SCENARIOS}
    finally:
        pods.clear()


def phases_are(**phases: str) -> Callable[[Obj], bool]:
    """The run shows these step phases (so the scene is set for the next act)."""
    return lambda o: all(step_table(o).get(k, ("",))[0] == v for k, v in phases.items())


def argo(cluster: Cluster, *args: str) -> None:
    subprocess.run([str(cluster.bin_dir / "argo"), *args, "-n", cluster.namespace],
                   env=cluster.env(), check=True, capture_output=True, timeout=60)


def succeeded(obj: Obj) -> tuple[str, str, str]:
    c = condition(obj, "Succeeded")
    return c["status"], c["reason"], c["message"]


def agrees(cluster: Cluster, run_name: str, done: Obj) -> None:
    """Argo's own phase says what the run says (contract §3)."""
    (wf,) = workflows_of(cluster, run_name)
    argo_says = "Succeeded" if wf["status"]["phase"] == "Succeeded" else "Failed"
    assert argo_says == done["status"]["phase"]
    c = condition(done, "ArgoPhaseAgrees")
    assert (c["status"], c["reason"]) == ("True", "SamePhase")


@pytest.mark.parametrize(("scenario", "command", "words"), [
    pytest.param("fid-stop", "stop", "Stop", id="argo-stop"),
    pytest.param("fid-term", "terminate", "Terminate", id="argo-terminate"),
])
def test_argo_stop_and_terminate(cluster: Cluster, started: dict[str, Obj], scenario: str,
                                 command: str, words: str) -> None:
    name = f"{scenario}-1"
    ready = (phases_are(a="Running", c="Succeeded", d="Failed") if scenario == "fid-stop"
             else phases_are(a="Running"))
    wait_run(cluster, name, ready, "a running", 60)
    argo(cluster, command, name)
    done = wait_run(cluster, name, run_done, "ended", 60)
    expected: dict[str, tuple[str, str | None]] = {
        "a": ("Failed", "WorkflowEnded"), "b": ("Skipped", "WorkflowEnded")}
    if scenario == "fid-stop":
        expected |= {"c": ("Succeeded", None), "d": ("Failed", "StepFailed")}
    assert step_table(done) == expected
    assert done["status"]["phase"] == "Failed"
    status, reason, message = succeeded(done)
    assert (status, reason) == ("False", "WorkflowEnded")
    assert f"the Workflow was shut down (spec.shutdown: {words})" in message
    assert f"Argo: Stopped with strategy '{words}'" in message
    agrees(cluster, name, done)


def test_workflow_past_its_active_deadline(cluster: Cluster, started: dict[str, Obj]) -> None:
    name = "fid-deadline-1"
    wait_run(cluster, name, phases_are(a="Running", c="Succeeded"), "a running, c done", 60)
    (wf,) = workflows_of(cluster, name)
    # A deadline already behind it, as Argo's workflowDefaults or a person could set.
    cluster.kube.resource(WF_API, "Workflow").patch(
        name=wf["metadata"]["name"], namespace=cluster.namespace,
        body={"spec": {"activeDeadlineSeconds": 1}},
        content_type="application/merge-patch+json")
    done = wait_run(cluster, name, run_done, "ended", 60)
    assert step_table(done) == {"a": ("Failed", "WorkflowEnded"),
                                "b": ("Skipped", "WorkflowEnded"), "c": ("Succeeded", None)}
    assert done["status"]["phase"] == "Failed"
    status, reason, message = succeeded(done)
    assert (status, reason) == ("False", "WorkflowEnded")
    assert "the Workflow passed its activeDeadlineSeconds" in message
    agrees(cluster, name, done)


def test_retries_exhausted_by_timeouts(cluster: Cluster, started: dict[str, Obj]) -> None:
    name = "fid-timeout-1"
    done = wait_run(cluster, name, run_done, "ended", 90)
    assert step_table(done) == {"a": ("Failed", "StepTimedOut"),
                                "b": ("Skipped", "DependencyFailed"),
                                "c": ("Failed", "FailureIgnored"), "d": ("Succeeded", None)}
    attempts = {s["name"]: s.get("attempt") for s in done["status"]["stepStatuses"]}
    assert (attempts["a"], attempts["c"]) == (2, 2)
    assert done["status"]["phase"] == "Failed"
    assert succeeded(done)[:2] == ("False", "StepsFailed")
    agrees(cluster, name, done)


def test_kubelet_and_program_words_are_not_argos(cluster: Cluster,
                                                 started: dict[str, Obj]) -> None:
    # a best-effort step killed for a node shutdown is its own (ignored) failure
    done = wait_run(cluster, "fid-nodedown-1", run_done, "ended", 60)
    assert step_table(done) == {"a": ("Failed", "FailureIgnored"), "b": ("Succeeded", None)}
    assert done["status"]["phase"] == "Succeeded"
    assert succeeded(done)[:2] == ("True", "FailuresIgnored")
    a = next(s for s in done["status"]["stepStatuses"] if s["name"] == "a")
    assert NODE_SHUTDOWN in a["message"]
    agrees(cluster, "fid-nodedown-1", done)
    # a program that writes "shutdown", "deadline", "timeout" simply failed
    done = wait_run(cluster, "fid-words-1", run_done, "ended", 60)
    assert step_table(done) == {"a": ("Failed", "StepFailed"),
                                "b": ("Skipped", "DependencyFailed")}
    assert done["status"]["phase"] == "Failed"
    assert succeeded(done)[:2] == ("False", "StepsFailed")
    a = next(s for s in done["status"]["stepStatuses"] if s["name"] == "a")
    assert USER_WORDS in a["message"]
    agrees(cluster, "fid-words-1", done)


def test_workflow_argo_refuses_as_invalid(cluster: Cluster, started: dict[str, Obj]) -> None:
    done = wait_run(cluster, "fid-invalid-1", run_done, "ended", 60)
    assert step_table(done) == {"t": ("Skipped", "WorkflowEnded"),
                                "u": ("Skipped", "WorkflowEnded")}
    assert done["status"]["phase"] == "Failed"
    status, reason, message = succeeded(done)
    assert (status, reason) == ("False", "WorkflowEnded")
    (wf,) = workflows_of(cluster, "fid-invalid-1")
    assert wf["status"]["message"].startswith("invalid spec: ")
    assert message.endswith(f"Argo: {wf['status']['message']}")
    assert condition(done, "Submitted")["status"] == "True"
    agrees(cluster, "fid-invalid-1", done)

