"""Issue 22.5: SubOrchestration width is bounded per root run (contract §6,
`maxDescendants`), attacked by a tenant with issue 22's Role against the controller
under the chart's RBAC.

Under kwok nothing executes: each child run a SubOrchestration step would create is
created here from the manifest Argo handed its executor pod (`ARGO_TEMPLATE`), as
Argo's executor would, so the budget a child carries is the one the compiled step
wrote.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import yaml

from orchapi.api import Obj
from tests.cluster import Cluster
from tests.cluster.kube import wait_for
from tests.e2e.orch_controller import API, WF_API, ControllerProcess, leading_controller, run
from tests.e2e.tenancy import Tenant, make_tenant, workflow_namespace

pytestmark = [pytest.mark.e2e, pytest.mark.security]
NS = "width-tenant"
MAX_DESCENDANTS = 10
# What the compiled step writes on the child (orchapi.api.DESCENDANTS_ANNOTATION).
DESCENDANTS_ANNOTATION = "orchestration.proompteng.ai/descendants"


@pytest.fixture(scope="module")
def tenant(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[tuple[Tenant, ControllerProcess]]:
    work = tmp_path_factory.mktemp("width")
    who = make_tenant(cluster, workflow_namespace(cluster, NS), work)
    with leading_controller(cluster, work, "width", namespaces=[NS],
                            env={"ORCH_MAX_DESCENDANTS": str(MAX_DESCENDANTS)}) as proc:
        yield who, proc


def fan(name: str, calls: str | None, width: int) -> Obj:
    steps = [{"name": f"c{i}", "kind": "SubOrchestration", "orchestrationRef": {"name": calls},
              "dependsOn": []} for i in range(width)] if calls else [
        {"name": "leaf", "kind": "Checkpoint"}]
    return {"apiVersion": API, "kind": "Orchestration", "metadata": {"name": name},
            "spec": {"steps": steps}}


def manifests(cluster: Cluster, run_name: str, width: int) -> list[Obj]:
    """The child runs the run's SubOrchestration steps hand their executors."""
    def found() -> list[Obj] | None:
        pods = cluster.kube.list_objects("v1", "Pod", NS,
                                         f"orchestration.proompteng.ai/run={run_name}")
        out = []
        for pod in pods:
            for c in pod["spec"].get("containers", []) + pod["spec"].get("initContainers", []):
                for e in c.get("env") or []:
                    if e["name"] == "ARGO_TEMPLATE":
                        out.append(yaml.safe_load(json.loads(e["value"])["resource"]["manifest"]))
        return out if len(out) == width else None
    got: list[Obj] = wait_for(found, f"{run_name}: {width} child manifests", 60, 0.2)
    return got


def status_of(cluster: Cluster, name: str) -> Obj:
    return (cluster.kube.get(API, "OrchestrationRun", name, NS) or {}).get("status") or {}


def submitted_reason(status: Obj) -> str | None:
    return next((c["reason"] for c in status.get("conditions") or ()
                 if c["type"] == "Submitted"), None)


def test_five_children_per_level_stop_at_the_root_budget(
        cluster: Cluster, tenant: tuple[Tenant, ControllerProcess]) -> None:
    """w0 -> 5 x w1 -> 5 x w2 -> 5 x w3: 155 runs without a budget (issue 22.5). With
    maxDescendants 10 the root's 5 children each get 1 run below them, so none of
    them may create its 5: they are refused and the tree holds 5 runs below the root."""
    who, proc = tenant
    for i, calls in enumerate(("w1", "w2", "w3", None)):
        who.kube.apply(fan(f"w{i}", calls, 5), NS)
    who.kube.apply(run("wide-1", "w0"), NS)
    children = manifests(cluster, "wide-1", 5)
    assert sorted(c["metadata"]["annotations"][DESCENDANTS_ANNOTATION] for c in children) \
        == ["1"] * 5  # 10 - 5 children, shared evenly (each needs 30)
    names = [cluster.kube.apply(child, NS)["metadata"]["name"] for child in children]
    for name in names:
        def decided(n: str = name) -> bool:
            return submitted_reason(status_of(cluster, n)) is not None
        wait_for(decided, f"child {name} decided", 60, 0.2)
        status = status_of(cluster, name)
        assert (status.get("phase"), submitted_reason(status)) == ("Failed", "TooManyDescendants")
        message = next(c["message"] for c in status["conditions"] if c["type"] == "Submitted")
        assert "up to 5 child runs" in message and "budget is 1" in message
        assert cluster.kube.list_objects(WF_API, "Workflow", NS,
                                         f"orchestration.proompteng.ai/run={name}") == []
    assert proc.popen is not None and proc.popen.poll() is None


def test_a_root_whose_own_children_do_not_fit_is_refused(
        cluster: Cluster, tenant: tuple[Tenant, ControllerProcess]) -> None:
    who, _ = tenant
    who.kube.apply(fan("too-wide", "w3", MAX_DESCENDANTS + 1), NS)
    who.kube.apply(run("too-wide-1", "too-wide"), NS)
    wait_for(lambda: status_of(cluster, "too-wide-1").get("phase") == "Failed",
             "the root refused", 60, 0.2)
    status = status_of(cluster, "too-wide-1")
    assert submitted_reason(status) == "TooManyDescendants"
    assert "this install allows 10" in next(
        c["message"] for c in status["conditions"] if c["type"] == "Submitted")


def test_a_chain_within_the_budget_runs_whole(
        cluster: Cluster, tenant: tuple[Tenant, ControllerProcess]) -> None:
    """A narrow tree is not starved by the split: each child gets what the rest of its
    chain needs, and more."""
    who, _ = tenant
    for i, calls in enumerate(("chain-1", "chain-2", None)):
        who.kube.apply(fan(f"chain-{i}", calls, 1), NS)
    who.kube.apply(run("chain-run", "chain-0"), NS)
    current = "chain-run"
    for depth in (1, 2):
        (child,) = manifests(cluster, current, 1)
        assert int(child["metadata"]["annotations"][DESCENDANTS_ANNOTATION]) == \
            MAX_DESCENDANTS - depth
        current = cluster.kube.apply(child, NS)["metadata"]["name"]

        def submitted(c: str = current) -> bool:
            return bool(status_of(cluster, c).get("workflowRef"))
        wait_for(submitted, f"depth {depth} submitted", 60, 0.2)
