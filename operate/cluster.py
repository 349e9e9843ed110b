"""The reads and writes the terminal commands make, by resource: paths, label
selectors and the gathering of one run's view (run, Workflow, Orchestration,
what its steps created).

Why here and not in the commands: the requests a command makes are what its
speed and its RBAC depend on, so they are listed in one place.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from operate.client import METADATA_LIST, ApiError, Client, NotFoundError
from orchapi.api import (
    AGENT_RUN,
    AGENT_RUNS,
    ORCHESTRATIONS,
    RUNS,
    SUB_ORCHESTRATION,
    WORKFLOWS,
    Obj,
    Resource,
)
from orchapi.argo import ARGO_WORKFLOW_LABEL

if TYPE_CHECKING:
    from operate.view import RunView



# What a step of each kind creates through a resource template (compiler.kinds; a
# ToolRun step runs its Tool's container, a pod, since issue 11).
CREATED_BY_KIND = {AGENT_RUN: AGENT_RUNS, SUB_ORCHESTRATION: RUNS}


def connect(args: Any) -> Client:
    """A client for the cluster the command's `--kubeconfig`, `--context` and
    `--namespace` name (as kubectl reads them)."""
    from operate.kubeconfig import load

    return Client(load(args.kubeconfig, args.context, args.namespace))


@dataclass(frozen=True)
class Gathered:
    run: Obj
    workflow: Obj | None
    orchestration: Obj | None
    objects: list[tuple[str, Obj]]  # (kind, metadata) of what resource steps created
    workflows: list[Obj] = field(default_factory=list)  # a split run's (contract §8)


def get_run(client: Client, namespace: str, name: str) -> Obj:
    """The run, or NotFoundError with a message naming the namespace (and the
    closest name there)."""
    try:
        return client.get(RUNS.path(namespace, name))
    except NotFoundError as exc:
        hint = ""
        try:
            names = [i["metadata"]["name"] for i in list_metadata(client, RUNS, namespace)]
            from orchapi.names import suggest

            near = suggest(name, names)
            hint = f'; did you mean "{near}"?' if near else ""
        except ApiError:
            pass
        raise NotFoundError(404, exc.reason, f'OrchestrationRun "{name}" not found in '
                            f'namespace "{namespace}"{hint}') from None


def list_metadata(client: Client, resource: Resource, namespace: str | None,
                  selector: str | None = None) -> list[Obj]:
    query = {"labelSelector": selector} if selector else None
    body = client.request("GET", resource.path(namespace), query, accept=METADATA_LIST)
    items: list[Obj] = body.get("items") or []
    return items


def gather(client: Client, namespace: str, name: str, created: bool = True) -> Gathered:
    """Everything `orch get` shows: the run, its Workflow (the step graph, and the
    Pod nodes its pods are named from) or else its Orchestration, and, with
    `created`, metadata-only lists of the objects its resource steps created (only
    of the kinds its steps have)."""
    run = get_run(client, namespace, name)
    status = run.get("status") or {}
    wf_name = (status.get("workflowRef") or {}).get("name")
    workflow = client.get_or_none(WORKFLOWS.path(namespace, wf_name)) if wf_name else None
    workflows = split_workflows(client, namespace, status)
    orchestration = None
    if workflow is None and not workflows:
        ref = ((run.get("spec") or {}).get("orchestrationRef") or {}).get("name")
        if ref:
            orchestration = client.get_or_none(ORCHESTRATIONS.path(namespace, ref))
    objects: list[tuple[str, Obj]] = []
    if created and wf_name:
        selector = f"{ARGO_WORKFLOW_LABEL}={wf_name}"
        for resource in created_resources(workflow):
            try:
                items = list_metadata(client, resource, namespace, selector)
            except NotFoundError:  # that CRD is not installed: nothing was created
                continue
            objects += [(resource.kind, item.get("metadata") or {}) for item in items]
    return Gathered(run, workflow, orchestration, objects, workflows)


def split_workflows(client: Client, namespace: str, status: Mapping[str, Any]) -> list[Obj]:
    """The Workflows a split run's status names (contract §8) that still exist."""
    names = [w.get("name") for w in status.get("workflows") or () if isinstance(w, Mapping)]
    found = (client.get_or_none(WORKFLOWS.path(namespace, str(n))) for n in names if n)
    return [w for w in found if w is not None]


def created_resources(workflow: Mapping[str, Any] | None) -> list[Resource]:
    """The kinds of object the Workflow's steps create, from its step-kinds
    annotation; every one of them when it has none."""
    from operate.view import graph_of_workflow

    graph = graph_of_workflow(workflow) if workflow is not None else None
    if graph is None:
        return []
    kinds = {n.kind for n in graph.nodes}
    if "" in kinds:  # no step-kinds annotation: every kind that creates something
        kinds = set(CREATED_BY_KIND)
    seen: dict[str, Resource] = {}
    for kind in sorted(kinds):
        resource = CREATED_BY_KIND.get(kind)
        if resource is not None:
            seen.setdefault(resource.plural, resource)
    return list(seen.values())


def gathered_view(client: Client, namespace: str, name: str) -> RunView:
    """The run's `operate.view.RunView` with what each step created (its pods, the
    objects of resource steps), as `orch get` shows it and `orch watch` ends with."""
    from operate.view import build_view, created_by_step, graph_of_workflow
    from orchapi.names import label_value

    found = gather(client, namespace, name)
    created = None
    if found.workflow is not None:
        labels: dict[str, str] = {}
        if found.objects:
            graph = graph_of_workflow(found.workflow)
            labels = {label_value(n): n for n in (graph.names if graph else ())}
        created = created_by_step(found.workflow, found.objects, labels)
    elif found.workflows:  # a split run: the pods of its steps, from every Workflow
        created = {}
        for wf in found.workflows:
            created.update(created_by_step(wf, split=True))
    return build_view(found.run, found.workflow, found.orchestration, created,
                      found.workflows)
