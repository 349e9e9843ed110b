"""ApprovalGate and SignalWait at their edges, on the real Argo (issue 11): what
must hold however the decision and the wait are ordered in time.

- a SignalDelivery created before the run releases its waits as soon as they start
  (one of them only once an earlier step has run), and one delivery releases every
  wait on its signal: two in one Workflow, written in one update, and another run's;
- a deliveryId of any text (Argo's expression syntax, `$(`, quotes, controls,
  non-ASCII) is matched byte for byte, never case-folded or expanded;
- a denied gate with continueOnFailure lets its dependents run (Argo's continueOn
  honours a suspend node failed by `argo node set`) and the run succeeds;
- decisions made, and timeouts passed, while the controller was down are acted on
  at its restart, from its caches: denied fails, approved passes even past the
  timeout (the decision wins), undecided fails StepTimedOut; a policy denied after
  the restart is heard through the index rebuilt from the relist.
"""

from __future__ import annotations

import calendar
import time
from collections.abc import Iterator

import pytest

from controller.argo_messages import WAIT_TIMED_OUT
from tests.cluster import Cluster
from tests.cluster.cluster import TOOL_CRD
from tests.cluster.kube import wait_for
from tests.e2e.orch_controller import (
    ControllerProcess,
    apply,
    leading_controller,
    orchestration,
    run,
    run_done,
    step_table,
    wait_run,
)
from tests.e2e.test_kinds import (
    APPROVALS_API,
    HOSTILE,
    delivery,
    policy,
    set_status,
    signal_wait,
    step_status,
    unique,
    waiting,
)
from tests.support.argo import SHARED_ABSENT

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def controller(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory
               ) -> Iterator[ControllerProcess]:
    if TOOL_CRD not in cluster.crds:
        pytest.skip(f"the reference system's CRDs are not installed: {SHARED_ABSENT}")
    with leading_controller(cluster, tmp_path_factory.mktemp("waits"), "waits") as proc:
        yield proc


def test_a_delivery_that_came_first_releases_every_wait_on_its_signal(
        cluster: Cluster, controller: ControllerProcess) -> None:
    signal = unique("early") + ".v1"  # a Signal's name may have dots; deliveryIds anything
    first, second = unique("sig-first"), unique("sig-second")
    apply(cluster, delivery(unique("d"), signal, "ID.1"))
    steps = [signal_wait("by-id", signal, "ID.1"),
             {**signal_wait("by-signal", signal, None), "dependsOn": []},
             {"name": "step", "kind": "Checkpoint", "dependsOn": []},
             {**signal_wait("later", signal, None), "dependsOn": ["step"]}]
    apply(cluster, orchestration(first, steps), orchestration(second, steps[:2]),
          run(first, first), run(second, second))
    for name, count in ((first, 4), (second, 2)):
        done = wait_run(cluster, name, run_done, "released by the delivery made before", 30)
        assert step_table(done) == {s["name"]: ("Succeeded", None) for s in steps[:count]}
        assert done["status"]["phase"] == "Succeeded"


def test_a_delivery_id_of_any_text_is_matched_byte_for_byte(
        cluster: Cluster, controller: ControllerProcess) -> None:
    """deliveryId is free text in the CRD: Argo's template substitution and its copy
    of the suspend node's inputs leave the wait's value as written, so only the
    delivery with that exact text releases it, not one whose `{{workflow.name}}`
    was expanded nor one that differs in case."""
    name, signal = unique("sig-hostile"), unique("hostile")
    hostile = HOSTILE["message"] + " Ü"
    apply(cluster, orchestration(name, [signal_wait("wait", signal, hostile)]), run(name, name))
    started = wait_run(cluster, name, waiting("wait"), "waiting", 30)
    workflow = started["status"]["workflowRef"]["name"]
    # The near deliveries come first; the step's message names the one that
    # released it, so no wait is needed to see that they did not.
    apply(cluster, delivery(unique("d-expanded"), signal,
                            hostile.replace("{{workflow.name}}", workflow)),
          delivery(unique("d-case"), signal, hostile.upper()))
    exact = unique("d-exact")
    apply(cluster, delivery(exact, signal, hostile))
    done = wait_run(cluster, name, run_done, "released by the exact deliveryId", 30)
    assert step_table(done) == {"wait": ("Succeeded", None)}
    assert f"SignalDelivery {exact}" in step_status(done, "wait")["message"]


def test_a_denied_gate_that_may_fail_lets_its_dependents_run(
        cluster: Cluster, controller: ControllerProcess) -> None:
    name = unique("gate-ignored")
    gate = f"{name}.prod"  # matched exactly, dots and all
    apply(cluster, policy(gate), policy(name), orchestration(name, [
        {"name": "gate", "kind": "ApprovalGate", "policyRef": gate, "continueOnFailure": True},
        {"name": "after", "kind": "Checkpoint", "dependsOn": ["gate"]}]), run(name, name))
    wait_run(cluster, name, waiting("gate"), "waiting", 30)
    # A policy of a near name is denied first; the gate's message names the policy
    # that decided it, so no wait is needed to see that the near one did not.
    set_status(cluster, APPROVALS_API, "approvalpolicies", name, {"phase": "Denied"})
    set_status(cluster, APPROVALS_API, "approvalpolicies", gate, {"phase": "Denied"})
    done = wait_run(cluster, name, run_done, "decided", 30)
    assert step_table(done) == {"gate": ("Failed", "FailureIgnored"),
                                "after": ("Succeeded", None)}
    assert done["status"]["phase"] == "Succeeded"
    assert f"approval policy {gate} is denied" in step_status(done, "gate")["message"]


# Long enough that the controller is stopped before any gate times out (all four
# must be seen waiting first; on a loaded machine 3 s was not), short enough to wait.
DOWN_TIMEOUT = 10


def test_decisions_and_timeouts_while_the_controller_was_down(
        cluster: Cluster, controller: ControllerProcess) -> None:
    names = {what: unique(f"down-{what}")
             for what in ("denied", "approved", "undecided", "denied-after")}
    for what, name in names.items():
        timeout = DOWN_TIMEOUT if what in ("approved", "undecided") else 3600
        apply(cluster, policy(name), orchestration(name, [
            {"name": "gate", "kind": "ApprovalGate", "policyRef": name,
             "timeoutSeconds": timeout}]), run(name, name))
    started = {what: wait_run(cluster, name, waiting("gate"), "waiting", 30)
               for what, name in names.items()}
    assert controller.terminate() == 0
    set_status(cluster, APPROVALS_API, "approvalpolicies", names["denied"], {"phase": "Denied"})
    set_status(cluster, APPROVALS_API, "approvalpolicies", names["approved"],
               {"phase": "Approved"})
    # The short timeouts pass while nobody watches (the scenario): until the later
    # deadline, from the gates' startedAt (whole seconds, so one more).
    deadline = max(calendar.timegm(time.strptime(step_status(started[what], "gate")[
        "startedAt"], "%Y-%m-%dT%H:%M:%SZ")) for what in ("approved", "undecided")) \
        + DOWN_TIMEOUT + 1
    time.sleep(max(0.0, deadline - time.time()))
    controller.start().wait_ready()
    wait_for(controller.is_leader, "the restarted controller to lead", 20, 0.1)
    # Decided from the relist alone: no further event comes for these runs, so a
    # controller that waited for one would never decide them (the waits' guards).
    done = {what: wait_run(cluster, name, run_done, f"decided after the restart ({what})", 30)
            for what, name in names.items() if what != "denied-after"}
    later = names["denied-after"]  # the index rebuilt from the relist: an event wakes it
    assert step_table(wait_run(cluster, later, waiting("gate"), "still waiting", 5)) == {
        "gate": ("Running", None)}
    set_status(cluster, APPROVALS_API, "approvalpolicies", later, {"phase": "REJECTED"})
    done["denied-after"] = wait_run(cluster, later, run_done, "rejected after the restart", 30)
    assert step_table(done["denied-after"]) == {"gate": ("Failed", "StepFailed")}
    assert step_table(done["denied"]) == {"gate": ("Failed", "StepFailed")}
    assert step_table(done["approved"]) == {"gate": ("Succeeded", None)}
    assert step_table(done["undecided"]) == {"gate": ("Failed", "StepTimedOut")}
    assert WAIT_TIMED_OUT in step_status(done["undecided"], "gate")["message"]
