"""A run past its total deadline (spec.policies.timeouts.totalSeconds) on the real
Argo ends as contract §4 says (issue 20 item 4): running steps `Failed` and steps
not started `Skipped`, both `RunTimedOut`, the run `Failed` with reason
`RunTimedOut`; what ended before the deadline keeps its result.

Under kwok a pod runs until something ends it: the held step's pod is ended by the
kubelet's (emulated) active deadline, which Argo sets from the Workflow's."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.cluster import Cluster
from tests.cluster.kwok import Failures
from tests.e2e.orch_controller import (
    ControllerProcess,
    apply,
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
DEADLINE = 15  # Argo runs quick, other and starts slow well inside it, under load too
POLICY_CRD = "approvalpolicies.approvals.proompteng.ai"


@pytest.fixture(scope="module")
def controller(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory
               ) -> Iterator[ControllerProcess]:
    with leading_controller(cluster, tmp_path_factory.mktemp("deadline"), "deadline") as proc:
        yield proc


def test_a_run_past_its_total_deadline_times_out_every_step_it_stops(
        cluster: Cluster, controller: ControllerProcess, fail_pods: Failures) -> None:
    #  quick -> slow -> after         slow runs past the deadline; after never starts
    #  other                          ends before it
    #  quick -> gate                  a wait nobody releases
    #  (the gate only with the reference's ApprovalPolicy CRD, from ../shared)
    name = "deadline-run"
    steps = [step("quick", []), step("slow", ["quick"]), step("after", ["slow"]),
             step("other", [])]
    expected = {"quick": ("Succeeded", None), "other": ("Succeeded", None),
                "slow": ("Failed", "RunTimedOut"), "after": ("Skipped", "RunTimedOut")}
    if POLICY_CRD in cluster.crds:
        apply(cluster, {"apiVersion": "approvals.proompteng.ai/v1alpha1",
                        "kind": "ApprovalPolicy", "metadata": {"name": "nobody-approves"},
                        "spec": {"mode": "manual"}})
        steps.append({"name": "gate", "kind": "ApprovalGate", "policyRef": "nobody-approves",
                      "dependsOn": ["quick"]})
        expected["gate"] = ("Failed", "RunTimedOut")
    doc = orchestration(name, steps)
    doc["spec"]["policies"] = {"timeouts": {"totalSeconds": DEADLINE}}
    fail_pods.deadline_steps(name, ["slow"])
    apply(cluster, doc, run(name, name))
    done = wait_run(cluster, name, run_done, "ended", DEADLINE + 90)
    assert step_table(done) == expected
    succeeded = condition(done, "Succeeded")
    assert (done["status"]["phase"], succeeded["status"], succeeded["reason"]) == (
        "Failed", "False", "RunTimedOut")
    assert "spec.policies.timeouts.totalSeconds" in succeeded["message"]
    (workflow,) = workflows_of(cluster, name)
    assert workflow["spec"]["activeDeadlineSeconds"] == DEADLINE
    assert workflow["status"]["phase"] in ("Failed", "Error")
