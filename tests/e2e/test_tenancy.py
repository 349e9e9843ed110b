"""The tenant of the security suite has exactly the rights issue 22's attacker had:
every attack test builds on that, so it is checked against the real apiserver."""

from __future__ import annotations

from pathlib import Path

import pytest
from kubernetes.client.exceptions import ApiException

from tests.cluster import Cluster
from tests.e2e.orch_controller import API, WF_API
from tests.e2e.tenancy import make_tenant, workflow_namespace

pytestmark = [pytest.mark.e2e, pytest.mark.security]
HTTP_FORBIDDEN = 403


def _status(call: object) -> int:
    assert callable(call)
    try:
        call()
    except ApiException as e:
        return int(e.status)
    return 200


def test_a_tenant_may_do_everything_with_its_runs_and_nothing_else(
        cluster: Cluster, tmp_path: Path) -> None:
    own = workflow_namespace(cluster, "tenancy-self-a")
    other = workflow_namespace(cluster, "tenancy-self-b")
    tenant = make_tenant(cluster, own, tmp_path)
    kube = tenant.kube
    orch = {"apiVersion": API, "kind": "Orchestration", "metadata": {"name": "o"},
            "spec": {"steps": [{"name": "a", "kind": "Checkpoint"}]}}
    assert kube.apply(orch, own)["metadata"]["namespace"] == own
    assert kube.list_objects(API, "OrchestrationRun", own) == []

    assert _status(lambda: kube.apply(dict(orch, metadata={"name": "o"}), other)) == (
        HTTP_FORBIDDEN)
    assert _status(lambda: kube.list_objects("v1", "Secret", own)) == HTTP_FORBIDDEN
    assert _status(lambda: kube.list_objects("v1", "Pod", own)) == HTTP_FORBIDDEN
    assert _status(lambda: kube.list_objects(WF_API, "Workflow", own)) == HTTP_FORBIDDEN


def test_an_argo_user_tenant_may_edit_workflows_in_its_namespace_only(
        cluster: Cluster, tmp_path: Path) -> None:
    own = workflow_namespace(cluster, "tenancy-self-c")
    tenant = make_tenant(cluster, own, tmp_path, account="argo-user", edits_workflows=True)
    assert tenant.kube.list_objects(WF_API, "Workflow", own) == []
    assert _status(lambda: tenant.kube.list_objects(WF_API, "Workflow", "tenancy-self-a")) == (
        HTTP_FORBIDDEN)
    assert _status(lambda: tenant.kube.list_objects("v1", "Secret", own)) == HTTP_FORBIDDEN
