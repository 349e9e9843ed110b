"""The executor (`controller.reconcile.Reconciler`) against an in-memory apiserver
behind `controller.kube`'s interface (tests/unit/controller/fake_api.py): what it
reads, writes and deletes for each decision, and how it uses the apiserver's
answers (AlreadyExists, a refusal, a 409, a delete precondition, a resource the
cluster does not serve). `decide` itself is table-tested in test_decide*.py; here
the question is whether the executor carries each decision out, once.

The caches are read through to the fake's objects unless a test makes them lag.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from compiler.emit import workflow_name
from controller.decide import SUBMIT_RETRY_BASE
from controller.events import Recorder
from controller.kube import ApiError, ConflictError
from controller.mapping import ORCHESTRATION, RUN, WORKFLOW, Key
from controller.reconcile import Caches, Reconciler, Result
from orchapi.api import (
    AGENT_RUNS,
    GENERATION_ANNOTATION,
    ORCHESTRATIONS,
    RUNS,
    STEP_KINDS_ANNOTATION,
    WORKFLOWS,
    Obj,
    Resource,
)
from orchapi.argo import ARGO_WORKFLOW_LABEL
from tests.unit.controller.fake_api import FakeApi

NS = "ns"
API = "orchestration.proompteng.ai/v1alpha1"
WF = workflow_name("r")


def orchestration(*steps: Obj, name: str = "o", generation: int = 3) -> Obj:
    return {"apiVersion": API, "kind": "Orchestration",
            "metadata": {"name": name, "namespace": NS, "generation": generation},
            "spec": {"steps": list(steps)}}


def container(name: str, *deps: str) -> Obj:
    return {"name": name, "kind": "Container", "image": "busybox:1.36", "command": ["true"],
            "dependsOn": list(deps)}


def a_run(name: str = "r", **spec: Any) -> Obj:
    return {"apiVersion": API, "kind": "OrchestrationRun",
            "metadata": {"name": name, "namespace": NS, "generation": 1},
            "spec": {"orchestrationRef": {"name": "o"}, **spec}}


class World:
    """The fake apiserver and a Reconciler whose caches read it (or, per kind, a
    cache that has not seen anything yet)."""

    def __init__(self, *objects: tuple[Resource, Obj], unserved: tuple[Resource, ...] = (),
                 blind: tuple[Resource, ...] = ()) -> None:
        self.api = FakeApi(unserved)
        for res, obj in objects:
            self.api.put(res, obj)
        self.blind = {r.plural for r in blind}
        self.reconciler = Reconciler(self.api, Caches(  # type: ignore[arg-type]
            orchestration=self._cache(ORCHESTRATIONS), run=self._cache(RUNS),
            workflow=self._cache(WORKFLOWS)), Recorder(self.api))  # type: ignore[arg-type]

    def _cache(self, res: Resource) -> Any:
        return lambda ns, name: None if res.plural in self.blind \
            else self.api.stored(res, ns, name)

    def reconcile(self, name: str = "r") -> Result:
        return self.reconciler.reconcile(Key(RUN, NS, name))

    def run(self, name: str = "r") -> Obj:
        found = self.api.stored(RUNS, NS, name)
        assert found is not None
        return found

    def condition(self, type_: str, name: str = "r") -> tuple[str, str]:
        c = next(c for c in self.run(name)["status"]["conditions"] if c["type"] == type_)
        return c["status"], c["reason"]


def test_a_new_run_is_read_live_compiled_created_once_and_shown() -> None:
    w = World((ORCHESTRATIONS, orchestration(container("a"), container("b", "a"))),
              (RUNS, a_run()))
    run_uid = w.run()["metadata"]["uid"]
    assert w.reconcile() == Result()
    wf = w.api.stored(WORKFLOWS, NS, WF)
    assert wf is not None
    # what only the executor adds to the compiled Workflow
    assert wf["metadata"]["ownerReferences"] == [{
        "apiVersion": API, "kind": "OrchestrationRun", "name": "r", "uid": run_uid,
        "controller": True}]
    annotations = wf["metadata"]["annotations"]
    assert annotations[GENERATION_ANNOTATION] == "3"
    assert json.loads(annotations[STEP_KINDS_ANNOTATION]) == {"a": "Container",
                                                            "b": "Container"}
    # read live before it compiled (never from the caches; the two reads at once),
    # created once, then shown
    assert sorted(w.api.calls[:2]) == [("get", "orchestrationruns", "r"),
                                       ("get", "orchestrations", "o")]
    assert w.api.calls[2:] == [("create", "workflows", WF),
                               ("replace_status", "orchestrationruns", "r")]
    status = w.run()["status"]
    assert status["workflowRef"] == {"name": WF, "namespace": NS,
                                     "uid": wf["metadata"]["uid"]}
    assert w.condition("Submitted") == ("True", "WorkflowCreated")
    assert [e["reason"] for e in w.api.events] == ["WorkflowCreated"]
    # the echoes of both writes are known, so the watch does not wake a reconcile
    assert w.reconciler.written == {
        Key(WORKFLOW, NS, WF): wf["metadata"]["resourceVersion"],
        Key(RUN, NS, "r"): w.run()["metadata"]["resourceVersion"]}


def test_an_orchestration_reference_that_is_no_name_is_not_read_ahead() -> None:
    """Nothing is read with a reference that is not a Kubernetes name (contract §6),
    ahead of time included: the run is refused, only the run itself read."""
    w = World((RUNS, a_run(orchestrationRef={"name": "victim/release"})))
    w.reconcile()
    assert w.api.calls[0] == ("get", "orchestrationruns", "r")
    assert not [c for c in w.api.calls if c[1] == "orchestrations"]
    assert w.condition("Submitted")[0] == "False"


def test_a_second_reconcile_of_an_unchanged_run_asks_the_apiserver_nothing() -> None:
    w = World((ORCHESTRATIONS, orchestration(container("a"))), (RUNS, a_run()))
    w.reconcile()
    before = len(w.api.calls)
    assert w.reconcile() == Result()
    assert w.api.calls[before:] == []  # all from the caches; the status is already right


def test_a_workflow_that_already_exists_and_is_ours_is_adopted_not_created_again() -> None:
    """Created by an earlier attempt whose status write was lost; the Workflow
    cache has not seen it yet."""
    w = World((ORCHESTRATIONS, orchestration(container("a"))), (RUNS, a_run()),
              blind=(WORKFLOWS,))
    w.reconcile()  # creates it; then the status write is lost:
    w.api.objects[("orchestrationruns", NS, "r")]["status"] = {}
    first = w.api.stored(WORKFLOWS, NS, WF)
    assert first is not None
    w.api.calls.clear()
    w.reconcile()
    assert w.api.verbs("create") == [("create", "workflows", WF)]  # AlreadyExists
    assert w.api.stored(WORKFLOWS, NS, WF) == first
    assert w.run()["status"]["workflowRef"]["uid"] == first["metadata"]["uid"]
    assert w.condition("Submitted") == ("True", "WorkflowCreated")


@pytest.mark.parametrize("code", [400, 403, 404, 413, 422])
def test_a_create_the_apiserver_refuses_is_shown_and_retried_with_backoff(code: int) -> None:
    w = World((ORCHESTRATIONS, orchestration(container("a"))), (RUNS, a_run()))
    quota = "exceeded quota: no-workflows"
    w.api.fail_next("create", WORKFLOWS, ApiError(code, "Forbidden", quota))
    assert w.reconcile() == Result(SUBMIT_RETRY_BASE, backoff=True)
    assert w.api.stored(WORKFLOWS, NS, WF) is None
    assert w.run()["status"]["phase"] == "Pending"
    assert w.condition("Submitted") == ("False", "WorkflowCreateFailed")
    assert [e["reason"] for e in w.api.events] == ["WorkflowCreateFailed"]


def test_a_create_that_fails_for_the_cluster_is_an_error_and_writes_nothing() -> None:
    w = World((ORCHESTRATIONS, orchestration(container("a"))), (RUNS, a_run()))
    w.api.fail_next("create", WORKFLOWS, ApiError(500, "InternalError", "etcd timeout"))
    with pytest.raises(ApiError):
        w.reconcile()
    assert w.api.verbs("replace_status") == []
    assert "status" not in w.run() or not w.run()["status"]


def test_a_status_write_that_meets_a_newer_version_starts_over_from_a_live_read() -> None:
    w = World((ORCHESTRATIONS, orchestration(container("a"))), (RUNS, a_run()))
    w.api.fail_next("replace_status", RUNS, ConflictError(409, "Conflict", "modified"))
    assert w.reconcile() == Result()
    assert len(w.api.verbs("create")) == 1  # the second attempt adopts, never re-creates
    assert [c for c in w.api.calls if c[0] == "get" and c[1] == "orchestrationruns"] == \
        [("get", "orchestrationruns", "r")] * 2
    assert w.condition("Submitted") == ("True", "WorkflowCreated")


def owned_workflow(owner_uid: str, **meta: Any) -> Obj:
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow",
            "metadata": {"name": WF, "namespace": NS, **meta, "ownerReferences": [
                {"apiVersion": API, "kind": "OrchestrationRun", "name": "r",
                 "uid": owner_uid, "controller": True}]},
            "spec": {}, "status": {"phase": "Running"}}


def test_the_workflow_of_a_deleted_run_is_deleted_only_as_that_incarnation() -> None:
    w = World((WORKFLOWS, owned_workflow("gone-uid")))
    wf = w.api.stored(WORKFLOWS, NS, WF)
    assert wf is not None
    assert w.reconcile() == Result()
    assert w.api.stored(WORKFLOWS, NS, WF) is None
    assert w.api.deletes == [{"plural": "workflows", "name": WF,
                              "uid": wf["metadata"]["uid"],
                              "resourceVersion": wf["metadata"]["resourceVersion"],
                              "propagationPolicy": "Background"}]


def test_a_workflow_the_garbage_collector_orphaned_meanwhile_is_left_alone() -> None:
    """The cache still shows the deleted run as its owner; read live, the
    ownerReference is gone (`propagationPolicy: Orphan`): not ours to delete."""
    w = World((WORKFLOWS, owned_workflow("gone-uid")), blind=(WORKFLOWS,))
    cached = w.api.stored(WORKFLOWS, NS, WF)
    w.reconciler.caches.workflow = lambda ns, name: cached
    w.api.objects[("workflows", NS, WF)]["metadata"]["ownerReferences"] = []
    assert w.reconcile() == Result()
    assert w.api.stored(WORKFLOWS, NS, WF) is not None and w.api.deletes == []


def test_a_workflow_another_run_of_that_name_owns_by_now_is_left_alone() -> None:
    """The cache holds the deleted run's Workflow; read live, the name is a newer
    run's Workflow (another owner uid): not the one to delete."""
    w = World((WORKFLOWS, owned_workflow("gone-uid")), blind=(WORKFLOWS,))
    cached = w.api.stored(WORKFLOWS, NS, WF)
    w.reconciler.caches.workflow = lambda ns, name: cached
    w.api.put(WORKFLOWS, owned_workflow("newer-uid"))
    assert w.reconcile() == Result()
    assert w.api.deletes == [] and w.api.stored(WORKFLOWS, NS, WF) is not None


def test_the_workflow_of_a_run_the_cache_has_not_seen_yet_is_not_collected() -> None:
    """The run's event comes after its Workflow's: the cache has no run, read live
    it exists with the owner's uid, so the Workflow stays."""
    w = World((RUNS, a_run()), blind=(RUNS,))
    w.api.put(WORKFLOWS, owned_workflow(w.run()["metadata"]["uid"]))
    assert w.reconcile() == Result()
    assert w.api.deletes == [] and w.api.stored(WORKFLOWS, NS, WF) is not None
    assert w.api.calls == [("get", "orchestrationruns", "r")]  # the owner, read live


def test_the_workflow_of_an_earlier_run_of_that_name_is_collected() -> None:
    w = World((RUNS, a_run()), blind=(RUNS,))
    w.api.put(WORKFLOWS, owned_workflow("earlier-uid"))
    assert w.reconcile() == Result()
    assert [d["name"] for d in w.api.deletes] == [WF]


def test_a_cancel_stops_the_workflow_cancels_child_runs_and_deletes_agent_runs() -> None:
    w = World((ORCHESTRATIONS, orchestration(container("a"))), (RUNS, a_run()))
    w.reconcile()
    wf = w.api.stored(WORKFLOWS, NS, WF)
    assert wf is not None
    made_by = {"labels": {ARGO_WORKFLOW_LABEL: WF},
               "ownerReferences": [{"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow",
                                    "name": WF, "uid": wf["metadata"]["uid"]}]}
    w.api.put(RUNS, {**a_run("child"), "metadata": {
        "name": "child", "namespace": NS, "generation": 1, **made_by},
        "status": {"phase": "Running"}})
    w.api.put(RUNS, {**a_run("child-done"), "metadata": {
        "name": "child-done", "namespace": NS, "generation": 1, **made_by},
        "status": {"phase": "Succeeded"}})
    w.api.put(AGENT_RUNS, {"metadata": {"name": "agent", "namespace": NS, **made_by},
                           "status": {"phase": "Running"}})
    w.api.put(AGENT_RUNS, {"metadata": {"name": "stranger", "namespace": NS,
                                        "labels": {ARGO_WORKFLOW_LABEL: WF}},
                           "status": {"phase": "Running"}})
    w.api.patch(RUNS, NS, "r", {"spec": {"cancel": True}})
    agent_uid = w.api.stored(AGENT_RUNS, NS, "agent")["metadata"]["uid"]  # type: ignore[index]
    w.api.calls.clear()
    w.reconcile()
    stopped = w.api.stored(WORKFLOWS, NS, WF)
    assert stopped is not None and stopped["spec"]["shutdown"] == "Stop"
    assert w.api.stored(RUNS, NS, "child")["spec"]["cancel"] is True  # type: ignore[index]
    assert "cancel" not in w.api.stored(RUNS, NS, "child-done")["spec"]  # type: ignore[index]
    assert [(d["name"], d["uid"]) for d in w.api.deletes] == [("agent", agent_uid)]
    assert w.api.stored(AGENT_RUNS, NS, "stranger") is not None  # not made by this Workflow
    # listed by the Workflow's label, each once
    assert w.api.verbs("list") == [("list", "orchestrationruns", f"{ARGO_WORKFLOW_LABEL}={WF}"),
                                   ("list", "agentruns", f"{ARGO_WORKFLOW_LABEL}={WF}")]
    calls_after = len(w.api.verbs("patch", "delete"))
    w.reconcile()  # idempotent: nothing is stopped, cancelled or deleted twice
    assert len(w.api.verbs("patch", "delete")) == calls_after


def test_a_cancel_in_a_cluster_without_the_agentrun_crd_stops_the_rest() -> None:
    w = World((ORCHESTRATIONS, orchestration(container("a"))), (RUNS, a_run()),
              unserved=(AGENT_RUNS,))
    w.reconcile()
    w.api.patch(RUNS, NS, "r", {"spec": {"cancel": True}})
    w.reconcile()
    stopped = w.api.stored(WORKFLOWS, NS, WF)
    assert stopped is not None and stopped["spec"]["shutdown"] == "Stop"
    assert ("list", "agentruns", f"{ARGO_WORKFLOW_LABEL}={WF}") in w.api.calls


def test_an_orchestration_key_writes_its_status_once() -> None:
    w = World((ORCHESTRATIONS, orchestration(container("a"))))
    key = Key(ORCHESTRATION, NS, "o")
    assert w.reconciler.reconcile(key) == Result()
    stored = w.api.stored(ORCHESTRATIONS, NS, "o")
    assert stored is not None and stored["status"]["phase"] == "Ready"
    assert w.reconciler.written[key] == stored["metadata"]["resourceVersion"]
    w.reconciler.reconcile(key)
    assert len(w.api.verbs("replace_status")) == 1


def many(n: int) -> list[Obj]:
    """`n` Container steps, each its own template (its own command): more than
    one Workflow holds (200 templates), so the run is split (contract §8)."""
    return [{"name": f"s{i}", "kind": "Container", "image": "busybox:1.36",
             "command": ["echo", str(i)], "dependsOn": [f"s{i - 1}"] if i else []}
            for i in range(n)]


def test_a_split_run_records_its_set_then_creates_each_once_and_never_again() -> None:
    from orchapi.api import RUN_ACTIVE_FINALIZER

    w = World((ORCHESTRATIONS, orchestration(*many(250))), (RUNS, a_run()))
    run_uid = w.run()["metadata"]["uid"]
    assert w.reconcile() == Result()
    names = [f"{WF}-1", f"{WF}-2"]
    # the run and its Orchestration read live (together: in either order), the set
    # recorded (and re-read) before any create; each name read live first
    assert sorted(w.api.calls[:2]) == [("get", "orchestrationruns", "r"),
                                       ("get", "orchestrations", "o")]
    assert w.api.calls[2:] == [
        ("replace_status", "orchestrationruns", "r"),
        *[("get", "workflows", n) for n in names],
        *[("create", "workflows", n) for n in names],
        ("replace_status", "orchestrationruns", "r")]
    status = w.run()["status"]
    made = [w.api.stored(WORKFLOWS, NS, n) for n in names]
    assert status["workflows"] == [{"name": n, "namespace": NS, "uid": wf["metadata"]["uid"]}
                                   for n, wf in zip(names, made, strict=True) if wf]
    assert "workflowRef" not in status and status["progress"] == "0/250"
    for wf in made:
        assert wf is not None
        assert wf["metadata"]["finalizers"] == [RUN_ACTIVE_FINALIZER]
        assert wf["metadata"]["ownerReferences"][0]["uid"] == run_uid
    # A restart (a new process: nothing remembered but the sealed status) adopts
    # the set: no create, no delete.
    again = Reconciler(w.api, w.reconciler.caches, Recorder(w.api),  # type: ignore[arg-type]
                       sealer=w.reconciler.sealer)
    w.api.calls.clear()
    again.reconcile(Key(RUN, NS, "r"))
    assert w.api.verbs("create") == [] and w.api.verbs("delete") == []
