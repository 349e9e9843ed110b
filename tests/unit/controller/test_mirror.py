"""The status mirror on hand-written Argo node maps (contract §5 table)."""

from __future__ import annotations

from typing import Any

import pytest

from compiler.compiled import decode_nodes, graph_from_workflow
from controller.argo_messages import WAIT_TIMED_OUT
from controller.mirror import (
    mirror_deleted,
    mirror_workflow,
    pending_statuses,
)
from tests.unit.controller.helpers import attempts, compiled, container, node, with_status

NOW = "2026-01-01T00:02:00Z"
ARGO_FINISHED = "2026-01-01T00:01:00Z"  # tests.unit.controller.helpers.with_status

#   a
#  / \
# b   c
#  \ /
#   d
DIAMOND = [container("a", []), container("b", ["a"]), container("c", ["a"]),
           container("d", ["b", "c"])]


def steps(m: Any) -> dict[str, tuple[str, str | None]]:
    return {s["name"]: (s["phase"], s.get("reason")) for s in m.step_statuses}


def condition(m: Any, type_: str) -> tuple[str, str]:
    c = next(c for c in m.conditions if c.type == type_)
    return str(c.status), c.reason


@pytest.mark.parametrize("compress", [False, True], ids=["nodes", "compressedNodes"])
def test_diamond_one_branch_fails(compress: bool) -> None:
    wf = with_status(compiled(DIAMOND), "Failed", [
        node("a", "Succeeded"), node("b", "Failed", message="Error (exit code 1)"),
        node("c", "Succeeded"), node("d", "Omitted", message="omitted: depends condition not met"),
    ], compress=compress)
    m = mirror_workflow(wf, {}, NOW)
    assert steps(m) == {"a": ("Succeeded", None), "b": ("Failed", "StepFailed"),
                        "c": ("Succeeded", None), "d": ("Skipped", "DependencyFailed")}
    assert m.phase == "Failed"
    assert condition(m, "Succeeded") == ("False", "StepsFailed")
    assert condition(m, "Submitted") == ("True", "WorkflowCreated")
    assert m.progress == "4/4"
    assert m.finished_at == ARGO_FINISHED  # when Argo's Workflow ended, not when it was seen
    kinds = {s["name"]: s["kind"] for s in m.step_statuses}
    assert kinds == dict.fromkeys("abcd", "Container")


def test_continue_on_failure_lets_dependents_run() -> None:
    spec = [container("a", []), container("b", ["a"], continueOnFailure=True),
            container("c", ["a"]), container("d", ["b", "c"])]
    wf = with_status(compiled(spec), "Succeeded", [
        node("a", "Succeeded"), node("b", "Failed", message="Error (exit code 1)"),
        node("c", "Succeeded"), node("d", "Succeeded")])
    m = mirror_workflow(wf, {}, NOW)
    assert steps(m)["b"] == ("Failed", "FailureIgnored")
    assert steps(m)["d"] == ("Succeeded", None)
    assert m.phase == "Succeeded"
    assert condition(m, "Succeeded") == ("True", "FailuresIgnored")
    assert "1 failure (b) ignored" in next(c.message for c in m.conditions
                                          if c.type == "Succeeded")


def test_running_lists_every_step_and_no_node_is_pending() -> None:
    wf = with_status(compiled(DIAMOND), "Running", [node("a", "Succeeded"), node("b", "Running"),
                                                    node("c", "Pending")])
    m = mirror_workflow(wf, {}, NOW)
    assert steps(m) == {"a": ("Succeeded", None), "b": ("Running", None),
                        "c": ("Pending", None), "d": ("Pending", None)}
    assert m.phase == "Running"
    assert condition(m, "Succeeded") == ("Unknown", "Running")
    assert m.finished_at is None
    assert m.progress == "1/4"


@pytest.mark.parametrize(("phase", "message", "extra", "expected"), [
    pytest.param("Failed", "main: Error (exit code 1)", {}, ("Failed", "StepFailed"),
                 id="failed"),
    pytest.param("Failed", "Pod was active on the node longer than the specified deadline",
                 {"timeoutSeconds": 5}, ("Failed", "StepTimedOut"), id="timeout"),
    pytest.param("Error", "pod deleted", {}, ("Failed", "StepError"), id="error"),
    pytest.param("Failed", "Stopped with strategy 'Terminate'", {"shutdown": "Terminate"},
                 ("Failed", "WorkflowEnded"), id="shutdown"),
])
def test_argo_phase_to_step(phase: str, message: str, extra: dict[str, Any],
                            expected: tuple[str, str]) -> None:
    spec = {k: v for k, v in extra.items() if k != "shutdown"}
    wf = with_status(compiled([container("a", **spec)]), "Failed",
                     [node("a", phase, message=message)],
                     **{k: v for k, v in extra.items() if k == "shutdown"})
    assert steps(mirror_workflow(wf, {}, NOW))["a"] == expected


def test_error_is_not_covered_by_continue_on_failure() -> None:
    spec = [container("a", [], continueOnFailure=True), container("b", ["a"])]
    wf = with_status(compiled(spec), "Error", [node("a", "Error", message="pod deleted"),
                                                node("b", "Omitted")])
    m = mirror_workflow(wf, {}, NOW)
    assert steps(m) == {"a": ("Failed", "StepError"), "b": ("Skipped", "DependencyFailed")}
    assert m.phase == "Failed"


def test_retry_node_counts_attempts() -> None:
    spec = [container("a", [], retries=2)]
    wf = with_status(compiled(spec), "Succeeded", [
        node("a", "Succeeded", type_="Retry", children=["x0", "x1", "x2"]),
        node("a(0)", "Failed"), node("a(1)", "Failed"), node("a(2)", "Succeeded")])
    m = mirror_workflow(wf, {}, NOW)
    assert m.step_statuses[0]["attempt"] == 3
    assert steps(m) == {"a": ("Succeeded", None)}


def test_only_nodes_inside_the_entry_boundary_count() -> None:
    spec = [container("a", []), container("b", ["a"])]
    wf = with_status(compiled(spec), "Running", [
        node("a", "Running"), node("b", "Failed", boundary="some-inner-dag")])
    assert steps(mirror_workflow(wf, {}, NOW)) == {"a": ("Running", None), "b": ("Pending", None)}


def test_workflow_ended_early_resolves_steps_without_nodes() -> None:
    spec = [container("a", []), container("b", ["a"])]
    wf = with_status(compiled(spec), "Failed", [
        node("a", "Failed", message="workflow shutdown with strategy:  Stop")], shutdown="Stop")
    m = mirror_workflow(wf, {}, NOW)
    assert steps(m) == {"a": ("Failed", "WorkflowEnded"), "b": ("Skipped", "WorkflowEnded")}
    assert condition(m, "Succeeded") == ("False", "WorkflowEnded")


def test_argo_skipped_keeps_argos_message_as_reason() -> None:
    wf = with_status(compiled([container("a")]), "Succeeded", [
        node("a", "Skipped", message="when 'false' evaluated false")])
    assert steps(mirror_workflow(wf, {}, NOW))["a"] == ("Skipped",
                                                        "when 'false' evaluated false")


def test_offloaded_node_status_is_a_condition_not_a_guess() -> None:
    wf = compiled(DIAMOND)
    wf["status"] = {"phase": "Running", "offloadNodeStatusVersion": "fnv:123"}
    assert decode_nodes(wf["status"]) is None
    listed = pending_statuses(graph_from_workflow(wf))
    listed[0] = {**listed[0], "phase": "Succeeded"}
    previous: dict[str, Any] = {"phase": "Running", "stepStatuses": listed}
    m = mirror_workflow(wf, previous, NOW)
    assert m.step_statuses == previous["stepStatuses"]
    assert condition(m, "NodeStatusAvailable") == ("False", "NodeStatusOffloaded")
    assert condition(m, "Succeeded") == ("Unknown", "NodeStatusOffloaded")
    assert m.phase == "Running"


def test_deleted_workflow_ends_the_run() -> None:
    wf = with_status(compiled(DIAMOND), "Running", [
        node("a", "Succeeded"), node("b", "Failed"), node("c", "Running")])
    before = mirror_workflow(wf, {}, NOW)
    assert steps(before)["d"] == ("Skipped", "DependencyFailed")
    previous = {"phase": "Running", "stepStatuses": before.step_statuses,
                "startedAt": "2026-01-01T00:00:00Z"}
    m = mirror_deleted(previous, NOW)
    assert steps(m) == {"a": ("Succeeded", None), "b": ("Failed", "StepFailed"),
                        "c": ("Failed", "WorkflowEnded"), "d": ("Skipped", "DependencyFailed")}
    assert m.phase == "Failed"
    assert condition(m, "Submitted") == ("False", "WorkflowDeleted")
    assert condition(m, "Succeeded") == ("False", "WorkflowEnded")
    assert m.finished_at == NOW


def test_deleted_before_any_step_ran() -> None:
    wf = compiled(DIAMOND)
    previous = {"phase": "Running", "stepStatuses": pending_statuses(graph_from_workflow(wf))}
    m = mirror_deleted(previous, NOW)
    assert set(steps(m).values()) == {("Skipped", "WorkflowEnded")}
    assert m.phase == "Failed"


def test_sequential_graph_is_read_from_the_workflow() -> None:
    spec = [container("one"), container("two"), container("three")]
    g = graph_from_workflow(compiled(spec))
    assert [(n.name, n.dependencies) for n in g.nodes] == [
        ("one", ()), ("two", ("one",)), ("three", ("two",))]


# -- classification from structure (contract §3: "ended early" from the Workflow's
# spec.shutdown and deadline, a Retry node by its last child, Argo's own fixed
# messages only) ---------------------------------------------------------------------
KUBELET_DEADLINE = "Pod was active on the node longer than the specified deadline"
NODE_SHUTDOWN = "Pod was terminated in response to imminent node shutdown."
# a -> b
CHAIN = [container("a", []), container("b", ["a"])]
# a* -> b      (a best-effort)
BEST_EFFORT_CHAIN = [container("a", [], continueOnFailure=True), container("b", ["a"])]
Row = tuple[str, str | None]


def outcome_of(m: Any) -> tuple[dict[str, Row], str, Row]:
    cond = next(c for c in m.conditions if c.type == "Succeeded")
    return steps(m), m.phase, (str(cond.status), cond.reason)


FIDELITY_CASES = [
    pytest.param(
        # a* -> b     the kubelet killed a's pod for a node shutdown; Argo ran b
        with_status(compiled(BEST_EFFORT_CHAIN), "Succeeded", [
            node("a", "Failed", message=NODE_SHUTDOWN), node("b", "Succeeded")]),
        ({"a": ("Failed", "FailureIgnored"), "b": ("Succeeded", None)},
         "Succeeded", ("True", "FailuresIgnored")),
        id="best-effort-pod-killed-by-node-shutdown-is-its-own-failure",
    ),
    pytest.param(
        # a (retries 1, timeout 5s): both attempts hit the pod deadline Argo set
        with_status(compiled([container("a", [], retries=1, timeoutSeconds=5)]), "Failed",
                    attempts("a", ("Failed", "No more retries left"),
                             ("Failed", KUBELET_DEADLINE), ("Failed", KUBELET_DEADLINE))),
        ({"a": ("Failed", "StepTimedOut")}, "Failed", ("False", "StepsFailed")),
        id="retries-exhausted-by-timeouts-is-step-timed-out",
    ),
    pytest.param(
        # a -> b      past activeDeadlineSeconds (10 s) while a ran; b never started
        with_status(compiled(CHAIN), "Failed", [
            node("a", "Failed", message="Step exceeded its deadline",
                 finished="2026-01-01T00:00:10Z")],
            finished="2026-01-01T00:00:11Z", activeDeadlineSeconds=10),
        ({"a": ("Failed", "WorkflowEnded"), "b": ("Skipped", "WorkflowEnded")},
         "Failed", ("False", "WorkflowEnded")),
        id="past-active-deadline-is-workflow-ended",
    ),
    pytest.param(
        # a -> b      Argo skipped a (a `when`), so b ran (Argo's `a.Skipped`)
        with_status(compiled(CHAIN), "Succeeded", [
            node("a", "Skipped", message="when 'false' evaluated false", type_="Skipped"),
            node("b", "Succeeded")]),
        ({"a": ("Skipped", "when 'false' evaluated false"), "b": ("Succeeded", None)},
         "Succeeded", ("True", "AllStepsSucceeded")),
        id="argo-skipped-is-no-failure",
    ),
]


STOPPED = "workflow shutdown with strategy:  Stop"  # exec_control.go, two spaces
USER_WORDS = "main: Error (exit code 1): imminent node shutdown; deadline exceeded; timeout"
# a -> c
# b          (c waits for a; b is another root)
FORK = [container("a", []), container("b", []), container("c", ["a"])]
FIDELITY_CASES += [
    pytest.param(
        # a          a's container wrote those words as its termination message
        with_status(compiled([container("a", [])]), "Failed", [
            node("a", "Failed", message=USER_WORDS)]),
        ({"a": ("Failed", "StepFailed")}, "Failed", ("False", "StepsFailed")),
        id="termination-message-words-are-the-step-failure",
    ),
    pytest.param(
        # a (timeout 5s)   the same words on a step that has a timeout: still its own
        with_status(compiled([container("a", [], timeoutSeconds=5)]), "Failed", [
            node("a", "Failed", message=USER_WORDS)]),
        ({"a": ("Failed", "StepFailed")}, "Failed", ("False", "StepsFailed")),
        id="termination-message-words-with-a-timeout-are-the-step-failure",
    ),
    pytest.param(
        # a          Argo's stop message without spec.shutdown: not a shutdown
        with_status(compiled([container("a", [])]), "Failed", [
            node("a", "Failed", message="Stopped with strategy 'Stop'")]),
        ({"a": ("Failed", "StepFailed")}, "Failed", ("False", "StepsFailed")),
        id="shutdown-words-without-spec-shutdown-are-the-step-failure",
    ),
    pytest.param(
        # a -> c     stopped while a ran; b had failed on its own before; c never ran
        # b
        with_status(compiled(FORK), "Failed", [
            node("a", "Failed", message=STOPPED),
            node("b", "Failed", message="main: Error (exit code 1)")],
            message="Stopped with strategy 'Stop'", shutdown="Stop"),
        ({"a": ("Failed", "WorkflowEnded"), "b": ("Failed", "StepFailed"),
          "c": ("Skipped", "WorkflowEnded")}, "Failed", ("False", "WorkflowEnded")),
        id="stop-fails-running-steps-keeps-own-failures",
    ),
    pytest.param(
        # a (retries 2)     terminated during its first attempt
        with_status(compiled([container("a", [], retries=2)]), "Failed",
                    attempts("a", ("Failed", "Stopped with strategy 'Terminate'"),
                             ("Failed", "workflow shutdown with strategy:  Terminate")),
                    shutdown="Terminate"),
        ({"a": ("Failed", "WorkflowEnded")}, "Failed", ("False", "WorkflowEnded")),
        id="terminate-during-a-retried-step",
    ),
    pytest.param(
        # a -> b     deadline at 00:00:10; the kubelet ended a's pod a second early
        # (Argo truncates the pod's activeDeadlineSeconds to whole seconds)
        with_status(compiled(CHAIN), "Failed", [
            node("a", "Failed", message=KUBELET_DEADLINE, finished="2026-01-01T00:00:09Z")],
            finished="2026-01-01T00:00:11Z", activeDeadlineSeconds=10),
        ({"a": ("Failed", "WorkflowEnded"), "b": ("Skipped", "WorkflowEnded")},
         "Failed", ("False", "WorkflowEnded")),
        id="past-deadline-pod-ended-by-the-kubelet",
    ),
    pytest.param(
        # a -> c     a failed on its own long before the deadline; b ran past it
        # b
        with_status(compiled(FORK), "Failed", [
            node("a", "Failed", message="main: Error (exit code 1)",
                 finished="2026-01-01T00:00:02Z"),
            node("b", "Failed", message="Step exceeded its deadline",
                 finished="2026-01-01T00:00:10Z")],
            finished="2026-01-01T00:00:11Z", activeDeadlineSeconds=10),
        ({"a": ("Failed", "StepFailed"), "b": ("Failed", "WorkflowEnded"),
          "c": ("Skipped", "DependencyFailed")}, "Failed", ("False", "WorkflowEnded")),
        id="past-deadline-keeps-failures-before-it",
    ),
    pytest.param(
        # a (retries 3)   a retry was due when the deadline passed
        with_status(compiled([container("a", [], retries=3, retryBackoffSeconds=30)]),
                    "Failed",
                    attempts("a", ("Failed",
                                   "retry exceeded workflow deadline 2026-01-01 00:00:10"),
                             ("Failed", "main: Error (exit code 1)")),
                    finished="2026-01-01T00:00:11Z", activeDeadlineSeconds=10),
        ({"a": ("Failed", "WorkflowEnded")}, "Failed", ("False", "WorkflowEnded")),
        id="past-deadline-during-a-retry-backoff",
    ),
    pytest.param(
        # a (timeout 5s)   never left Pending (e.g. unschedulable) past its timeout
        with_status(compiled([container("a", [], timeoutSeconds=5)]), "Failed", [
            node("a", "Failed", message="timeout")]),
        ({"a": ("Failed", "StepTimedOut")}, "Failed", ("False", "StepsFailed")),
        id="pending-past-its-timeout",
    ),
    pytest.param(
        # a* (timeout 2s) -> b   under a second of its timeout left when Argo would
        # make the pod: Argo errors the node, and omits b (an Error is not covered by
        # continueOn.failed), so it is a StepError as every Error (found on the real Argo)
        with_status(compiled([container("a", [], timeoutSeconds=2, continueOnFailure=True),
                              container("b", ["a"])]), "Error", [
            node("a", "Error", message="run-1.a exceeded its deadline"),
            node("b", "Omitted", message="omitted: depends condition not met")]),
        ({"a": ("Failed", "StepError"), "b": ("Skipped", "DependencyFailed")},
         "Failed", ("False", "StepsFailed")),
        id="timeout-at-pod-creation-is-an-error",
    ),
    pytest.param(
        # a (retries 1, timeout 5s)   first attempt timed out, the last one failed
        with_status(compiled([container("a", [], retries=1, timeoutSeconds=5)]), "Failed",
                    attempts("a", ("Failed", "No more retries left"),
                             ("Failed", KUBELET_DEADLINE),
                             ("Failed", "main: Error (exit code 2)"))),
        ({"a": ("Failed", "StepFailed")}, "Failed", ("False", "StepsFailed")),
        id="retries-classified-by-the-last-attempt",
    ),
    pytest.param(
        # a* (retries 1, timeout 5s)   best-effort: its timeout is ignored too
        with_status(compiled([container("a", [], retries=1, timeoutSeconds=5,
                                        continueOnFailure=True)]), "Succeeded",
                    attempts("a", ("Failed", "No more retries left"),
                             ("Failed", KUBELET_DEADLINE), ("Failed", KUBELET_DEADLINE))),
        ({"a": ("Failed", "FailureIgnored")}, "Succeeded", ("True", "FailuresIgnored")),
        id="best-effort-timeout-is-ignored",
    ),
    pytest.param(
        # a (retries 2)   first attempt failed; Argo waits to retry
        with_status(compiled([container("a", [], retries=2, retryBackoffSeconds=30)]),
                    "Running", attempts("a", ("Running", "Backoff for 30 seconds"),
                                        ("Failed", "main: Error (exit code 1)"))),
        ({"a": ("Running", None)}, "Running", ("Unknown", "Running")),
        id="retry-backoff-is-running",
    ),
]


@pytest.mark.parametrize(("wf", "expected"), FIDELITY_CASES)
def test_classification_from_structure(wf: dict[str, Any],
                                       expected: tuple[dict[str, Row], str, Row]) -> None:
    assert outcome_of(mirror_workflow(wf, {}, NOW)) == expected


def test_retry_message_names_the_last_attempt() -> None:
    wf = with_status(compiled([container("a", [], retries=1, timeoutSeconds=5)]), "Failed",
                     attempts("a", ("Failed", "No more retries left"),
                              ("Failed", "main: Error (exit code 1)"),
                              ("Failed", KUBELET_DEADLINE)))
    (status,) = mirror_workflow(wf, {}, NOW).step_statuses
    assert status["attempt"] == 2
    assert status["message"] == (f"timed out (No more retries left; last attempt: "
                                 f"{KUBELET_DEADLINE})")


def succeeded(m: Any) -> Any:
    return next(c for c in m.conditions if c.type == "Succeeded")


def test_a_workflow_argo_refuses_as_invalid() -> None:
    # Argo marks it Failed with "invalid spec: ..." before any node exists
    # (operator.go setExecWorkflow, v4.0.5 l.4330): Argo's words reach the condition.
    why = ("invalid spec: templates.main.tasks.a templates.main.tasks.a.templateRef: "
           'workflowtemplates.argoproj.io "missing" not found')
    wf = with_status(compiled(CHAIN), "Failed", [], message=why)
    m = mirror_workflow(wf, {}, NOW)
    assert outcome_of(m) == ({"a": ("Skipped", "WorkflowEnded"),
                              "b": ("Skipped", "WorkflowEnded")},
                             "Failed", ("False", "WorkflowEnded"))
    assert succeeded(m).message == (
        f"the Workflow ended early; 2 steps (a, b) never started; Argo: {why}")
    assert condition(m, "ArgoPhaseAgrees") == ("True", "SamePhase")


def test_stop_is_named_in_the_condition() -> None:
    wf = with_status(compiled(FORK), "Failed", [node("a", "Failed", message=STOPPED),
                                                node("b", "Succeeded")],
                     message="Stopped with strategy 'Stop'", shutdown="Stop")
    assert succeeded(mirror_workflow(wf, {}, NOW)).message == (
        "the Workflow ended early; 1 step (a) interrupted; 1 step (c) never started; "
        "the Workflow was shut down (spec.shutdown: Stop); Argo: Stopped with strategy 'Stop'")


def test_argo_phase_agrees_only_once_the_workflow_ended() -> None:
    running = with_status(compiled(CHAIN), "Running", [node("a", "Running")])
    assert "ArgoPhaseAgrees" not in {c.type for c in mirror_workflow(running, {}, NOW).conditions}
    done = with_status(compiled(CHAIN), "Succeeded",
                       [node("a", "Succeeded"), node("b", "Succeeded")])
    assert condition(mirror_workflow(done, {}, NOW), "ArgoPhaseAgrees") == ("True", "SamePhase")


def test_argo_phase_that_differs_is_a_condition() -> None:
    # a -> b*    a failed for real; Argo omitted b, then counted b's continueOn.failed
    # and reported the Workflow Succeeded (argo-workflows#13498). A Workflow compiled
    # without the outcome task (200 steps leave no room for it) can end like this.
    spec = [container("a", []), container("b", ["a"], continueOnFailure=True)]
    wf = compiled(spec)
    tasks = wf["spec"]["templates"][0]["dag"]["tasks"]
    wf["spec"]["templates"][0]["dag"]["tasks"] = tasks[:2]
    wf = with_status(wf, "Succeeded", [node("a", "Failed", message="main: Error (exit code 1)"),
                                       node("b", "Omitted")])
    m = mirror_workflow(wf, {}, NOW)
    assert outcome_of(m) == ({"a": ("Failed", "StepFailed"), "b": ("Skipped", "DependencyFailed")},
                             "Failed", ("False", "StepsFailed"))
    assert condition(m, "ArgoPhaseAgrees") == ("False", "ArgoPhaseDiffers")


def test_argo_error_agrees_with_a_failed_run() -> None:
    wf = with_status(compiled([container("a")]), "Error", [node("a", "Error", message="x")])
    assert condition(mirror_workflow(wf, {}, NOW), "ArgoPhaseAgrees") == ("True", "SamePhase")


@pytest.mark.parametrize(("argo", "phase", "status"), [
    pytest.param("Succeeded", "Succeeded", "True", id="succeeded"),
    pytest.param("Failed", "Failed", "False", id="failed"),
    pytest.param("Error", "Failed", "False", id="error"),
])
def test_offloaded_node_status_of_an_ended_workflow_ends_the_run(argo: str, phase: str,
                                                                  status: str) -> None:
    wf = compiled(DIAMOND)
    wf["status"] = {"phase": argo, "offloadNodeStatusVersion": "fnv:7",
                    "startedAt": "2026-01-01T00:00:00Z", "finishedAt": "2026-01-01T00:01:00Z"}
    listed = pending_statuses(graph_from_workflow(wf))
    listed[0] = {**listed[0], "phase": "Succeeded"}
    m = mirror_workflow(wf, {"phase": "Running", "stepStatuses": listed}, NOW)
    assert m.phase == phase
    assert m.finished_at == "2026-01-01T00:01:00Z"
    assert condition(m, "Succeeded") == (status, "NodeStatusOffloaded")
    assert succeeded(m).message.startswith(f"Argo reports the Workflow {argo}; ")
    assert condition(m, "NodeStatusAvailable") == ("False", "NodeStatusOffloaded")
    assert m.step_statuses == listed  # as last seen, not guessed


def test_the_outcome_task_is_not_a_step() -> None:
    # a -> b*    the compiler adds a final task after the best-effort leaf b
    spec = [container("a", []), container("b", ["a"], continueOnFailure=True)]
    wf = compiled(spec)
    names = [t["name"] for t in wf["spec"]["templates"][0]["dag"]["tasks"]]
    assert names == ["a", "b", "orch-outcome"]
    assert graph_from_workflow(wf).names == ("a", "b")
    done = with_status(wf, "Succeeded", [
        node("a", "Succeeded"), node("b", "Failed", message="main: Error (exit code 1)"),
        node("orch-outcome", "Succeeded", type_="Suspend")])
    m = mirror_workflow(done, {}, NOW)
    assert [s["name"] for s in m.step_statuses] == ["a", "b"]
    assert m.progress == "2/2"


# -- ApprovalGate and SignalWait: suspend nodes the controller decides ----------------
WAITS: list[dict[str, Any]] = [
    {"name": "gate", "kind": "ApprovalGate", "policyRef": "deploy", "timeoutSeconds": 60},
    {"name": "signal", "kind": "SignalWait", "signalRef": "ready", "dependsOn": ["gate"]}]


def _wait_node(wf: dict[str, Any], step: str, phase: str, message: str | None = None
               ) -> dict[str, Any]:
    """The suspend node Argo makes of the step: the task's `wait` argument becomes
    the node's input, as Argo copies a suspend template's resolved inputs."""
    task = next(t for t in wf["spec"]["templates"][0]["dag"]["tasks"] if t["name"] == step)
    out = node(step, phase, message=message, type_="Suspend")
    out["inputs"] = {"parameters": task["arguments"]["parameters"]}
    return out


def test_a_waiting_gate_is_running_and_says_what_it_waits_for() -> None:
    wf = compiled(WAITS)
    m = mirror_workflow(with_status(wf, "Running", [_wait_node(wf, "gate", "Running")]), {},
                        NOW)
    gate = next(s for s in m.step_statuses if s["name"] == "gate")
    assert (gate["phase"], gate["message"]) == ("Running", "Waiting for approval of deploy")
    wf = with_status(wf, "Running", [_wait_node(wf, "gate", "Succeeded", "approval policy "
                                                "deploy is approved"),
                                     _wait_node(wf, "signal", "Running")])
    signal = next(s for s in mirror_workflow(wf, {}, NOW).step_statuses
                  if s["name"] == "signal")
    assert (signal["phase"], signal["message"]) == ("Running", "Waiting for signal ready")


@pytest.mark.parametrize(("message", "reason"), [
    pytest.param(WAIT_TIMED_OUT, "StepTimedOut", id="timed-out"),
    pytest.param("approval policy deploy is denied", "StepFailed", id="denied"),
])
def test_a_failed_gate(message: str, reason: str) -> None:
    wf = compiled(WAITS)
    m = mirror_workflow(with_status(wf, "Failed", [_wait_node(wf, "gate", "Failed", message),
                                                   node("signal", "Omitted")]), {}, NOW)
    assert steps(m) == {"gate": ("Failed", reason), "signal": ("Skipped", "DependencyFailed")}
    assert message in next(s for s in m.step_statuses if s["name"] == "gate")["message"]


# -- Argo v4's failedPodRestarts (contract §5) ------------------------------------------------
def test_a_pod_restarted_before_it_started_is_shown_neither_failure_nor_attempt() -> None:
    """Argo v4 (failedPodRestart enabled) recreates a pod that failed before its main
    container started, puts the node back to Pending and counts it in
    `failedPodRestarts` (operator.go l.1443, v4.0.5)."""
    restarting = node("a", "Pending", message="Pod auto-restarting due to Evicted: low disk")
    restarting["failedPodRestarts"] = 1
    m = mirror_workflow(with_status(compiled([container("a", [])]), "Running", [restarting]),
                        {}, NOW)
    (a,) = m.step_statuses
    assert (a["phase"], a.get("reason"), a["failedPodRestarts"]) == ("Pending", None, 1)
    assert a["message"] == "Pod auto-restarting due to Evicted: low disk"
    assert "attempt" not in a  # its pod has not run


def test_restarts_of_each_attempt_add_up_and_do_not_fail_the_step() -> None:
    nodes = attempts("a", ("Succeeded", ""), ("Failed", "Error (exit code 1)"),
                     ("Succeeded", ""))
    nodes[1]["failedPodRestarts"] = 2  # the first attempt's pod was recreated twice
    nodes[2]["failedPodRestarts"] = 1
    spec = [container("a", [], retries=1)]
    m = mirror_workflow(with_status(compiled(spec), "Succeeded", nodes), {}, NOW)
    (a,) = m.step_statuses
    assert (a["phase"], a["attempt"], a["failedPodRestarts"]) == ("Succeeded", 2, 3)
    assert m.phase == "Succeeded"


def test_no_restarts_no_field() -> None:
    m = mirror_workflow(with_status(compiled([container("a", [])]), "Succeeded",
                                    [node("a", "Succeeded")]), {}, NOW)
    assert "failedPodRestarts" not in m.step_statuses[0]
