"""A run is compiled from the Orchestration the apiserver holds when it is
submitted, not from the controller's cache of it.

`kubectl apply -f orch.yaml && kubectl create -f run.yaml` (and `orch submit
--apply`) create the run right after the new generation is stored; the
Orchestration informer may not have seen it yet when the run's event arrives. A
Workflow compiled from the cache would run the generation before, and is never
compiled again. The apiserver here is an in-memory stand-in that answers what
the Reconciler asks (get, create, status); the real-cluster suite runs the same
Reconciler against a real apiserver.
"""

from __future__ import annotations

import copy

from controller.events import Recorder
from controller.mapping import RUN, Key
from controller.reconcile import Caches, Reconciler
from orchapi.api import ORCHESTRATIONS, RUNS, TOOLS, WORKFLOWS, Obj, Resource

API = "orchestration.proompteng.ai/v1alpha1"
NS = "ns"


def orchestration(generation: int, *steps: str) -> Obj:
    return {"apiVersion": API, "kind": "Orchestration",
            "metadata": {"name": "o", "namespace": NS, "uid": "o-uid",
                         "generation": generation, "resourceVersion": str(generation)},
            "spec": {"steps": [{"name": s, "kind": "Container", "image": "busybox:1.36",
                                "command": ["true"]} for s in steps]}}


class Apiserver:
    """The objects of one namespace by resource and name; writes bump a counter."""

    def __init__(self, *objects: tuple[Resource, Obj]) -> None:
        self.objects: dict[tuple[str, str], Obj] = {
            (res.plural, o["metadata"]["name"]): copy.deepcopy(o) for res, o in objects}
        self.gets: list[tuple[str, str]] = []
        self.rv = 100

    def get(self, res: Resource, namespace: str, name: str) -> Obj | None:
        assert namespace == NS
        self.gets.append((res.plural, name))
        found = self.objects.get((res.plural, name))
        return copy.deepcopy(found) if found is not None else None

    def create(self, res: Resource, namespace: str, body: Obj) -> Obj:
        self.rv += 1
        out = copy.deepcopy(body)
        out["metadata"].update(namespace=namespace, uid=f"uid-{self.rv}",
                               resourceVersion=str(self.rv))
        self.objects[(res.plural, out["metadata"]["name"])] = out
        return copy.deepcopy(out)

    def replace_status(self, res: Resource, namespace: str, name: str, body: Obj) -> Obj:
        self.rv += 1
        out = copy.deepcopy(body)
        out["metadata"]["resourceVersion"] = str(self.rv)
        self.objects[(res.plural, name)] = out
        return copy.deepcopy(out)

    def create_event(self, namespace: str, body: Obj) -> None:
        pass


def test_the_run_compiles_the_generation_applied_just_before_it() -> None:
    applied = orchestration(2, "build", "test", "deploy")  # what `kubectl apply` stored
    cached = orchestration(1, "build")  # what the informer had seen so far
    run = {"apiVersion": API, "kind": "OrchestrationRun",
           "metadata": {"name": "r", "namespace": NS, "uid": "r-uid", "generation": 1,
                        "resourceVersion": "3"},
           "spec": {"orchestrationRef": {"name": "o"}}}
    api = Apiserver((ORCHESTRATIONS, applied), (RUNS, run))
    caches = Caches(orchestration=lambda ns, name: copy.deepcopy(cached),
                    run=lambda ns, name: copy.deepcopy(run),
                    workflow=lambda ns, name: None)
    reconciler = Reconciler(api, caches, Recorder(api))  # type: ignore[arg-type]

    reconciler.reconcile(Key(RUN, NS, "r"))

    workflows = [o for (plural, _), o in api.objects.items() if plural == WORKFLOWS.plural]
    assert len(workflows) == 1
    tasks = workflows[0]["spec"]["templates"][0]["dag"]["tasks"]
    assert [t["name"] for t in tasks] == ["build", "test", "deploy"]
    assert (ORCHESTRATIONS.plural, "o") in api.gets
    assert TOOLS.plural not in {plural for plural, _ in api.gets}
