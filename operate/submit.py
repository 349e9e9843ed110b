"""`orch submit` and `orch resume`: the two commands that create a run.

Why checks before creating: a run the controller will refuse is still an object
someone has to delete, so what can be known here is checked first: the file is
validated and compiled with the run's parameters (exit 1 with the compiler's own
diagnostics), the Orchestration must exist unless `--apply` creates it, and a
resumed run must be ended and of the Orchestration generation the cluster holds.

`--delivery-id` makes `submit` idempotent per delivery (contract §5): a run of the
Orchestration already holding the id is printed instead of a second one created;
two submits racing both create, and the controller then runs one of them.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import Any

from operate.client import APPLY_PATCH, ApiError, Client
from operate.cluster import get_run
from operate.errors import EXIT_INVALID, EXIT_OK, Refused, UsageError
from operate.follow import watch
from operate.reading import in_file_order, load_inputs, report
from orchapi.api import (
    API_VERSION,
    DEPTH_ANNOTATION,
    DESCENDANTS_ANNOTATION,
    ORCHESTRATIONS,
    RUN_KIND,
    RUNS,
    Obj,
    delivery_selector,
)
from orchapi.vocabulary import RUN_DONE, ConditionType, SubmitReason

Connect = Callable[[argparse.Namespace], Client]
FIELD_MANAGER = "orch"
HTTP_BAD_REQUEST = 400


def parse_params(values: Sequence[str]) -> dict[str, str]:
    """`--param k=v` (repeatable; the last value of a key wins, as with kubectl's
    and argo's `-p`)."""
    out: dict[str, str] = {}
    for value in values:
        key, sep, val = value.partition("=")
        if not sep or not key:
            raise UsageError(f"--param {value!r}: expected KEY=VALUE")
        out[key] = val
    return out


def _check_name(name: str | None, flag: str = "--name") -> None:
    from orchapi.names import DNS_SUBDOMAIN_NAME, quote

    problem = DNS_SUBDOMAIN_NAME.problem(name) if name is not None else None
    if name is not None and problem is not None:
        raise UsageError(f"{flag} {quote(name)} {problem}")


def submit(args: argparse.Namespace, connect: Connect) -> int:
    params = parse_params(args.param)
    _check_name(args.name)
    # Every problem compile finds, but the Tools: the controller reads them from
    # the cluster at submission.
    inputs = load_inputs([args.file], judge_tools=False)
    report(in_file_order(inputs.diagnostics))
    if not inputs.ok:
        return EXIT_INVALID
    if inputs.runs:
        raise UsageError(f"{args.file} holds an OrchestrationRun; orch submit creates the run "
                         "itself (create a hand-written run with kubectl create -f)")
    doc, orch = _choose(inputs.orchestrations, args.orchestration, args.file)
    name = orch.metadata.name or ""
    file_ns = orch.metadata.namespace
    if args.namespace and file_ns and args.namespace != file_ns:
        raise UsageError(f'the Orchestration in {args.file} is in namespace "{file_ns}", not '
                         f'"{args.namespace}"; pass --namespace {file_ns} or drop it from '
                         "the file")
    # What the controller would refuse is refused before the cluster is asked (the
    # namespace changes nothing of that).
    if not _compiles(orch, _new_run(file_ns or "default", name, args.name, params), args.file):
        return EXIT_INVALID
    client = connect(args)
    namespace = file_ns or client.namespace
    run = _new_run(namespace, name, args.name, params)
    if args.delivery_id is not None:
        run["spec"]["deliveryId"] = args.delivery_id
    if args.apply:
        body = {k: v for k, v in doc.data.items() if k != "status"}
        body["metadata"] = {**body["metadata"], "namespace": namespace}
        applied = client.request(
            "PATCH", ORCHESTRATIONS.path(namespace, name),
            {"fieldManager": FIELD_MANAGER, "force": "true"}, body, content_type=APPLY_PATCH)
        sys.stderr.write(f'Orchestration "{name}" applied (generation '
                         f'{applied["metadata"].get("generation")})\n')
    else:
        live = client.get_or_none(ORCHESTRATIONS.path(namespace, name))
        if live is None:
            raise Refused(f'Orchestration "{name}" not found in namespace "{namespace}"; '
                          f"pass --apply to create it from {args.file}")
        if live.get("spec") != doc.data.get("spec"):
            sys.stderr.write(
                f'note: the cluster\'s Orchestration "{name}" (generation '
                f'{live["metadata"].get("generation")}) differs from {args.file}; the run '
                "uses the cluster's (pass --apply to update it)\n")
    if args.delivery_id is not None:
        held = delivery_holder(client, namespace, name, args.delivery_id)
        if held is not None:
            sys.stderr.write(f'run "{held}" already holds delivery "{args.delivery_id}" of '
                             f'Orchestration "{name}" in namespace "{namespace}"; not '
                             "creating another\n")
            return _print_run(client, held, args)
    return _create(client, namespace, run, args)


def delivery_holder(client: Client, namespace: str, orchestration: str,
                    delivery: str) -> str | None:
    """The run that holds this delivery (contract §5), as the controller decides it:
    one whose Workflow was submitted or that ended (but as a duplicate), else the
    oldest (creationTimestamp, then name); None when there is no run of it. Listed
    by the CRD's selectable fields, else the namespace's runs, filtered."""
    selector = delivery_selector(orchestration, delivery)
    try:
        items = client.get(RUNS.path(namespace), {"fieldSelector": selector}).get("items")
    except ApiError as exc:
        if exc.status != HTTP_BAD_REQUEST:
            raise
        items = client.get(RUNS.path(namespace)).get("items")
    runs = [r for r in items or () if (r.get("spec") or {}).get("deliveryId") == delivery
            and ((r.get("spec") or {}).get("orchestrationRef") or {}).get("name")
            == orchestration and not _is_duplicate(r)]
    if not runs:
        return None

    def age(r: Obj) -> tuple[bool, str, str]:
        status, meta = r.get("status") or {}, r.get("metadata") or {}
        held = bool(status.get("workflowRef")) or status.get("phase") in RUN_DONE
        return (not held, str(meta.get("creationTimestamp") or ""), str(meta.get("name")))
    return str(min(runs, key=age)["metadata"]["name"])


def _is_duplicate(run: Obj) -> bool:
    status = run.get("status") or {}
    return status.get("phase") in RUN_DONE and any(
        c.get("type") == ConditionType.SUBMITTED
        and c.get("reason") == SubmitReason.DUPLICATE_DELIVERY
        for c in status.get("conditions") or ())


def _print_run(client: Client, run_name: str, args: argparse.Namespace) -> int:
    sys.stdout.write(run_name + "\n")
    sys.stdout.flush()
    if args.watch:
        return watch(client, run_name, args.all)
    return EXIT_OK


def _create(client: Client, namespace: str, run: Obj, args: argparse.Namespace) -> int:
    """Create the run, print its name (scripts read it), and watch it if asked."""
    created = client.request("POST", RUNS.path(namespace), body=run)
    return _print_run(client, created["metadata"]["name"], args)


def _choose(found: Sequence[tuple[Any, Any]], wanted: str | None, file: str) -> tuple[Any, Any]:
    if wanted is not None:
        found = [f for f in found if f[1].metadata.name == wanted]
    if not found:
        what = f' "{wanted}"' if wanted else ""
        raise UsageError(f"{file}: no Orchestration{what} in the file")
    if len(found) > 1:
        names = ", ".join(str(o.metadata.name) for _, o in found)
        raise UsageError(f"{file} holds {len(found)} Orchestrations ({names}); choose one "
                         "with --orchestration NAME")
    return found[0]


def _new_run(namespace: str, orchestration: str, name: str | None,
             params: dict[str, str], resume_from: Obj | None = None,
             annotations: dict[str, str] | None = None) -> Obj:
    meta: Obj = {"namespace": namespace}
    if annotations:
        meta["annotations"] = annotations
    if name:
        meta["name"] = name
    else:
        meta["generateName"] = f"{orchestration}-"
    spec: Obj = {"orchestrationRef": {"name": orchestration}}
    if params:
        spec["parameters"] = params
    if resume_from is not None:
        spec["resumeFrom"] = resume_from
    return {"apiVersion": API_VERSION, "kind": RUN_KIND, "metadata": meta, "spec": spec}


def _compiles(orch: Any, run: Obj, file: str) -> bool:
    """The run as the controller will compile it; the problems the run itself
    causes (its parameters) are named by flag."""
    from compiler.diagnostics import Collector
    from compiler.emit import EmitSettings, emit_workflow
    from compiler.podpolicy import OPEN_POLICY
    from compiler.pods import PodSettings
    from compiler.validate import check_run

    out = Collector()
    model = check_run({**run, "metadata": {**run["metadata"], "name": "x"}}, out)
    if model is not None:  # the install's pod policy is the controller's to judge
        emit_workflow(orch, model, out, EmitSettings(pods=PodSettings(policy=OPEN_POLICY)))
    errors = [d for d in out.items if d.is_error]
    for d in errors:
        parts = d.path.parts if hasattr(d.path, "parts") else ()
        where = (f"--param {parts[2]}" if tuple(parts[:2]) == ("spec", "parameters")
                 and len(parts) > 2 else f"{file}: {d.path}")
        sys.stderr.write(f"{where}: {d.text} [{d.reason}]\n")
    return not errors


def carried_annotations(old: Obj) -> dict[str, str]:
    """What a resumed run keeps of the old run's annotations: its depth in a chain of
    SubOrchestration runs and its share of its root's descendant budget (a resumed
    child is still that deep and that bounded: without them, resuming a child would
    restart the count at 0 and let a chain grow past maxSubOrchestrationDepth, or a
    tree past maxDescendants, one resume at a time)."""
    found = (old.get("metadata") or {}).get("annotations") or {}
    return {k: found[k] for k in (DEPTH_ANNOTATION, DESCENDANTS_ANNOTATION)
            if isinstance(found.get(k), str)}


def resume(args: argparse.Namespace, connect: Connect, rerun: Sequence[str]) -> int:
    """A new run with `spec.resumeFrom`; refused here, as the controller would refuse
    it (`compiler.resume.resume_problem`), before anything is created."""
    from compiler.compiled import graph_from_orchestration as graph_of_orchestration
    from compiler.resume import resume_problem

    _check_name(args.name)
    client = connect(args)
    namespace = client.namespace
    old = get_run(client, namespace, args.run)
    steps = [str(s.get("name")) for s in (old.get("status") or {}).get("stepStatuses") or ()
             if s.get("name")]
    for step in rerun:
        if steps and step not in steps:
            from orchapi.names import suggest

            near = suggest(step, steps)
            hint = f'; did you mean "{near}"?' if near else ""
            raise UsageError(f'--rerun: run "{args.run}" has no step "{step}"{hint}')
    spec = old.get("spec") or {}
    orch_name = str((spec.get("orchestrationRef") or {}).get("name") or "")
    live = client.get_or_none(ORCHESTRATIONS.path(namespace, orch_name))
    if live is None:
        raise Refused(f'Orchestration "{orch_name}" of run "{args.run}" no longer exists in '
                      f'namespace "{namespace}"')
    problem = resume_problem(old, args.run, orch_name, live["metadata"].get("generation"),
                             graph_of_orchestration(live), rerun)
    if problem is not None:
        raise Refused(problem)
    resume_from: Obj = {"name": args.run}
    if rerun:
        resume_from["rerun"] = list(dict.fromkeys(rerun))
    body = _new_run(namespace, orch_name, args.name, dict(spec.get("parameters") or {}),
                    resume_from, carried_annotations(old))
    # A cluster whose CRD predates resumeFrom would drop it and run every step again:
    # ask first with a dry run.
    trial = client.request("POST", RUNS.path(namespace), {"dryRun": "All"}, body)
    if not (trial.get("spec") or {}).get("resumeFrom"):
        raise Refused("the cluster dropped spec.resumeFrom: its OrchestrationRun CRD "
                      "predates resume; install the CRDs of this orch (orch crds | kubectl "
                      "apply -f -)")
    return _create(client, namespace, body, args)
