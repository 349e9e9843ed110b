"""A split run (contract §8) cancelled, and one past its total deadline, on the real
Argo (the controller a subprocess with the chart's RBAC): every Workflow of the run
is stopped, or ended by its deadline, and the steps end as §3 says for one
Workflow: `Cancelled` / `RunTimedOut`, running ones `Failed`, the others `Skipped`.

The shape: a held step `h` and 230 steps behind it, each a Container step with its
own template, so the run needs two Workflows (200 templates each) and some steps
wait on `h` through a gate in another Workflow than `h`'s."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from orchapi.api import RUN_ACTIVE_FINALIZER, Obj
from tests.cluster import Cluster
from tests.cluster.kwok import Failures
from tests.e2e.orch_controller import (
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
DEADLINE = 15
FAN = 230


def fan(name: str) -> Obj:
    return orchestration(name, [step("h", []), *(step(f"x{i}", ["h"]) for i in range(FAN))])


def split_and_running(obj: Obj) -> bool:
    refs = (obj.get("status") or {}).get("workflows") or ()
    return len(refs) > 1 and all(r.get("uid") for r in refs) \
        and step_table(obj).get("h", ("",))[0] == "Running"


@pytest.fixture(scope="module")
def ended(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Obj]]:
    """Both runs started at once; the first cancelled once `h` runs. Yields each
    run as it ended."""
    pods = Failures(cluster.kube)
    pods.hold_steps("split-cancel", ["h"])
    pods.deadline_steps("split-deadline", ["h"])
    deadline = fan("split-deadline")
    deadline["spec"]["policies"] = {"timeouts": {"totalSeconds": DEADLINE}}
    try:
        with leading_controller(cluster, tmp_path_factory.mktemp("split-cancel"),
                                "split-cancel", ready_timeout=120):
            apply(cluster, fan("split-cancel"), deadline, run("split-cancel", "split-cancel"),
                  run("split-deadline", "split-deadline"))
            wait_run(cluster, "split-cancel", split_and_running, "split, h running", 180)
            cluster.kube.apply({**run("split-cancel", "split-cancel"),
                                "spec": {"orchestrationRef": {"name": "split-cancel"},
                                         "cancel": True}}, cluster.namespace)
            yield {name: wait_run(cluster, name, run_done, "ended", 240)
                   for name in ("split-cancel", "split-deadline")}
    finally:
        pods.clear()


def test_a_cancelled_split_run_stops_every_workflow(cluster: Cluster,
                                                     ended: dict[str, Obj]) -> None:
    done = ended["split-cancel"]
    assert done["status"]["phase"] == "Cancelled"
    table = step_table(done)
    assert table.pop("h") == ("Failed", "Cancelled")
    assert set(table.values()) == {("Skipped", "Cancelled")} and len(table) == FAN
    succeeded = condition(done, "Succeeded")
    assert (succeeded["status"], succeeded["reason"]) == ("False", "Cancelled")
    workflows = workflows_of(cluster, "split-cancel")
    assert len(workflows) == len(done["status"]["workflows"]) > 1
    assert {w["spec"].get("shutdown") for w in workflows} == {"Stop"}
    assert not [w for w in workflows if RUN_ACTIVE_FINALIZER in
                (w["metadata"].get("finalizers") or ())]


def test_a_split_run_past_its_deadline_times_out_in_every_workflow(
        cluster: Cluster, ended: dict[str, Obj]) -> None:
    done = ended["split-deadline"]
    table = step_table(done)
    assert table.pop("h") == ("Failed", "RunTimedOut")
    assert set(table.values()) == {("Skipped", "RunTimedOut")} and len(table) == FAN
    succeeded = condition(done, "Succeeded")
    assert (done["status"]["phase"], succeeded["reason"]) == ("Failed", "RunTimedOut")
    workflows = workflows_of(cluster, "split-deadline")
    assert len(workflows) > 1
    assert {w["spec"]["activeDeadlineSeconds"] for w in workflows} == {DEADLINE}
    assert {w["status"]["phase"] for w in workflows} <= {"Failed", "Error"}
