"""Duplicate deliveries are one execution (contract §5, issue 20.6), on the real
cluster: runs created at once by a tenant (issue 22's Role, a real token), each
reconciled by a different worker of the controller under the chart's RBAC, and a
controller killed as it submits; and `orch submit --delivery-id` twice.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml

from orchapi.api import Obj
from tests.cluster import Cluster
from tests.cluster.kube import wait_for
from tests.e2e.orch_cli import orch_as
from tests.e2e.orch_controller import (
    API,
    WF_API,
    ControllerProcess,
    leading_controller,
    orchestration,
    run,
    step,
)
from tests.e2e.tenancy import Tenant, make_tenant, workflow_namespace

pytestmark = pytest.mark.e2e
NS = "deliveries"
RUNS = 20


@pytest.fixture(scope="module")
def tenant(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[tuple[Tenant, ControllerProcess]]:
    work = tmp_path_factory.mktemp("deliveries")
    who = make_tenant(cluster, workflow_namespace(cluster, NS), work)
    with leading_controller(cluster, work, "deliveries", namespaces=[NS]) as proc:
        who.kube.apply(orchestration("hook", [step("a"), step("b")]), NS)
        yield who, proc


def delivered(name: str, delivery: str) -> Obj:
    body = run(name, "hook")
    body["spec"]["deliveryId"] = delivery
    return body


def runs_of(cluster: Cluster, delivery: str) -> list[Obj]:
    return [r for r in cluster.kube.list_objects(API, "OrchestrationRun", NS)
            if (r.get("spec") or {}).get("deliveryId") == delivery]


def workflows_for(cluster: Cluster, runs: list[Obj]) -> list[Obj]:
    uids = {r["metadata"]["uid"] for r in runs}
    return [w for w in cluster.kube.list_objects(WF_API, "Workflow", NS)
            if any(o.get("uid") in uids for o in w["metadata"].get("ownerReferences") or ())]


def submitted(run_obj: Obj) -> tuple[str, str, str]:
    for c in (run_obj.get("status") or {}).get("conditions") or ():
        if c["type"] == "Submitted":
            return c["status"], c["reason"], c["message"]
    return "", "", ""


def create_at_once(who: Tenant, delivery: str) -> None:
    with ThreadPoolExecutor(RUNS) as pool:
        list(pool.map(lambda i: who.kube.apply(delivered(f"{delivery}-{i}", delivery), NS),
                      range(RUNS)))


def settled(cluster: Cluster, delivery: str) -> list[Obj]:
    """Every run of the delivery decided: one submitted, the others duplicates."""
    def done() -> list[Obj] | None:
        runs = runs_of(cluster, delivery)
        reasons = sorted(submitted(r)[1] for r in runs)
        ok = len(runs) == RUNS and reasons.count("DuplicateDelivery") == RUNS - 1 and all(
            r["status"].get("phase") == "Failed" for r in runs
            if submitted(r)[1] == "DuplicateDelivery")
        return runs if ok else None
    found: list[Obj] = wait_for(done, f"the {RUNS} runs of {delivery} decided", 120, 0.5)
    return found


def check_one_execution(cluster: Cluster, delivery: str) -> None:
    runs = settled(cluster, delivery)
    (holder,) = [r for r in runs if submitted(r)[1] != "DuplicateDelivery"]
    name = holder["metadata"]["name"]
    (wf,) = workflows_for(cluster, runs)
    assert holder["status"]["workflowRef"]["uid"] == wf["metadata"]["uid"]
    for r in runs:
        if r is not holder:
            assert f'run "{name}" already holds delivery "{delivery}"' in submitted(r)[2]
            assert not r["status"].get("workflowRef")


def test_twenty_runs_of_one_delivery_created_at_once_run_once(
        cluster: Cluster, tenant: tuple[Tenant, ControllerProcess]) -> None:
    who, proc = tenant
    create_at_once(who, "gh-1")
    check_one_execution(cluster, "gh-1")
    assert proc.popen is not None and proc.popen.poll() is None


def test_across_a_controller_killed_as_it_submits(
        cluster: Cluster, tenant: tuple[Tenant, ControllerProcess]) -> None:
    who, proc = tenant
    create_at_once(who, "gh-2")
    wait_for(lambda: workflows_for(cluster, runs_of(cluster, "gh-2")) != [],
             "the first Workflow of gh-2", 60, 0.02)
    proc.kill()  # SIGKILL: whatever was in flight is lost
    proc.start().wait_ready()
    wait_for(proc.is_leader, "the controller to lead again", 30, 0.1)
    check_one_execution(cluster, "gh-2")


def test_orch_submit_with_a_delivery_id_is_idempotent(
        cluster: Cluster, tenant: tuple[Tenant, ControllerProcess], tmp_path: Path) -> None:
    who, _ = tenant
    path = tmp_path / "hook.yaml"
    path.write_text(yaml.safe_dump(orchestration("hook", [step("a"), step("b")])))

    def submit() -> subprocess.CompletedProcess[str]:
        return orch_as(who.kubeconfig, "submit", str(path), "-n", NS, "--delivery-id", "gh-3")
    first = submit()
    assert first.returncode == 0, first.stderr
    again = submit()
    assert again.returncode == 0, again.stderr
    assert again.stdout == first.stdout  # the same run's name, for scripts
    assert f'run "{first.stdout.strip()}" already holds delivery "gh-3"' in again.stderr
    (only,) = runs_of(cluster, "gh-3")
    assert only["metadata"]["name"] == first.stdout.strip()
