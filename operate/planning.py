"""`orch plan` and `orch graph`: the contract's §3 run on one Orchestration of the
input, offline (what-if: which steps run, fail or are skipped; with
`--resume-from`, what a resumed run reuses), shown as a table, JSON or a drawing.

The plan is `orchapi.semantics.plan`, the function the controller's mirror uses,
so what `orch plan` predicts is what the cluster will show.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from operate.errors import EXIT_INVALID, EXIT_OK, UsageError
from operate.reading import in_file_order, load_inputs, read_sources, report, step_list, write_out

if TYPE_CHECKING:
    from orchapi.graph import Graph
    from orchapi.models import Orchestration
    from orchapi.semantics import RunResult

def _load_planned(args: argparse.Namespace) -> tuple[str, Graph, RunResult | None] | int:
    """The one Orchestration of the input (or `--orchestration [NAMESPACE/]NAME`),
    its graph and, when steps are named to fail or error, the plan. An int is an
    exit code."""
    from orchapi.graph import build_graph
    from orchapi.names import quote, suggest

    if getattr(args, "rerun", None) and not getattr(args, "resume_from", None):
        raise UsageError("--rerun needs --resume-from RUN.yaml: it names steps of the run "
                         "being resumed to run again")
    inputs = load_inputs([args.file], args)  # judged as `compile` judges it
    report(in_file_order(inputs.diagnostics))
    if not inputs.ok:
        return EXIT_INVALID
    orchs = [o for _, o in inputs.orchestrations]

    def label(o: Orchestration) -> str:
        ns = o.metadata.namespace
        return f"{ns}/{o.metadata.name}" if ns else o.metadata.name or ""

    wanted: str | None = args.orchestration
    if wanted is None:
        found = orchs
    elif "/" in wanted:
        ns, _, name = wanted.partition("/")
        found = [o for o in orchs if (o.metadata.namespace or "", o.metadata.name) == (ns, name)]
    else:
        found = [o for o in orchs if o.metadata.name == wanted]
    labels = [label(o) for o in orchs]
    if not found:
        if wanted is None:
            raise UsageError(f"{args.file}: no Orchestration in the input")
        near = suggest(wanted, labels)
        hint = f"; did you mean {quote(near)}?" if near else f" (it has {', '.join(labels)})"
        raise UsageError(f"no Orchestration {quote(wanted)} in {args.file}{hint}")
    if len(found) > 1:
        which = "NAMESPACE/NAME" if wanted else "NAME or NAMESPACE/NAME"
        raise UsageError(f"{args.file} holds {len(found)} Orchestrations "
                         f"({', '.join(label(o) for o in found)}); "
                         f"choose one with --orchestration {which}")
    orch = found[0]
    args.planned_policies = orch.spec.policies
    graph = build_graph(orch.spec.steps)
    failed, errored = step_list(args.fail), step_list(args.error)
    for flag, chosen in (("--fail", failed), ("--error", errored)):
        _check_steps(flag, chosen, graph, orch)
    both = sorted(set(failed) & set(errored))
    if both:
        raise UsageError(f"step {quote(both[0])} is named by both --fail and --error")
    during = step_list(getattr(args, "timeout_during", None))
    if during:
        from compiler.policies import read_policies

        if read_policies(orch.spec.policies).total_seconds is None:
            raise UsageError(f'--timeout-during: orchestration "{orch.metadata.name}" has no '
                             "spec.policies.timeouts.totalSeconds, so its run has no deadline")
        _check_steps("--timeout-during", during, graph, orch)
    if getattr(args, "resume_from", None):
        if during:
            raise UsageError("--timeout-during cannot be used with --resume-from")
        return _resumed(args, orch, graph, failed, errored)
    result = None
    if failed or errored or args.command == "plan":
        from orchapi.semantics import plan

        result = plan(graph, failed, errored, during)
    return orch.metadata.name or "orchestration", graph, result


def _check_steps(flag: str, names: Sequence[str], graph: Graph, orch: Orchestration) -> None:
    """Every step `flag` names is one of the Orchestration's (else a usage error,
    with the closest name)."""
    from orchapi.names import quote, suggest

    for name in names:
        if name not in graph.by_name:
            near = suggest(name, graph.names)
            hint = f"; did you mean {quote(near)}?" if near else ""
            raise UsageError(f'{flag}: orchestration "{orch.metadata.name}" has no step '
                             f"{quote(name)}{hint}")


def _resumed(args: argparse.Namespace, orch: Orchestration, graph: Graph,
             failed: Sequence[str], errored: Sequence[str]) -> tuple[str, Graph, RunResult]:
    """`orch plan FILE --resume-from RUN.yaml`: the decision the controller makes
    for a run resuming the saved run (`kubectl get orchestrationrun NAME -o yaml`)."""
    import yaml

    from compiler.resume import decide_resume, old_steps, plan_resume, resume_problem
    from orchapi.names import quote

    ((name, text),) = read_sources([args.resume_from])
    if not isinstance(text, str):
        raise UsageError(f"{name}: {text.text}")
    try:
        old = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise UsageError(f"{name}: not YAML ({str(exc).splitlines()[0]})") from None
    old = _one_run(old, name, orch.metadata.name or "")
    old_name = str((old.get("metadata") or {}).get("name") or name)
    rerun = step_list(args.rerun)
    # Offline, the file's Orchestration is the one the cluster holds; its generation
    # is known only when the file was saved from the cluster. Known on neither side
    # (both written by hand), it cannot be compared: the plan says it assumes them one.
    generation = orch.metadata.generation
    if generation is None:
        generation = (old.get("status") or {}).get("orchestrationGeneration")
    if generation is None:
        sys.stderr.write(f"note: neither {args.file} nor {name} records the Orchestration's "
                         f"generation; the plan assumes {old_name} ran the Orchestration as "
                         f"{args.file} holds it\n")
    problem = resume_problem(old, old_name, orch.metadata.name or "", generation, graph, rerun,
                             check_generation=generation is not None)
    if problem is not None:
        raise UsageError(f"--resume-from {name}: {problem}")
    decision = decide_resume(graph, old_name, old_steps(old), rerun)
    for flag, chosen in (("--fail", failed), ("--error", errored)):
        reused = [n for n in chosen if n in decision.reused]
        if reused:
            raise UsageError(f"{flag}: step {quote(reused[0])} is reused from {old_name}, "
                             "so it cannot fail; name it with --rerun to run it again")
    title = f"{orch.metadata.name} resumed from {old_name}"
    return title, graph, plan_resume(graph, decision, failed, errored)


def _one_run(data: Any, file: str, orchestration: str) -> dict[str, Any]:
    """The saved run: the object itself, or from a `kind: List` (what `kubectl get
    orchestrationruns -o yaml` prints) its one OrchestrationRun, or the one of
    `orchestration` among several."""
    from compiler.inputs import LIST_KINDS
    from orchapi.names import quote

    def is_run(obj: Any) -> bool:
        return isinstance(obj, dict) and obj.get("kind") == "OrchestrationRun"

    if isinstance(data, dict) and (data.get("apiVersion"), data.get("kind")) in LIST_KINDS:
        runs = [i for i in data.get("items") or () if is_run(i)]
        if len(runs) > 1:
            runs = [r for r in runs if ((r.get("spec") or {}).get("orchestrationRef") or {})
                    .get("name") == orchestration] or runs
        if len(runs) == 1:
            return dict(runs[0])
        if runs:
            names = ", ".join(quote(str((r.get("metadata") or {}).get("name"))) for r in runs)
            raise UsageError(f"{file} holds {len(runs)} OrchestrationRuns of {quote(orchestration)}"
                             f" ({names}); save the one to resume (kubectl get orchestrationrun "
                             "NAME -o yaml)")
    elif is_run(data):
        return dict(data)
    raise UsageError(f"{file}: not an OrchestrationRun (save one with kubectl get "
                     "orchestrationrun NAME -o yaml)")


def cmd_plan(args: argparse.Namespace) -> int:
    from compiler.policies import read_policies
    from compiler.present import plan_dict, plan_table

    loaded = _load_planned(args)
    if isinstance(loaded, int):
        return loaded
    title, _, result = loaded
    assert result is not None
    policies = read_policies(args.planned_policies)
    if args.output == "json":
        write_out(json.dumps(plan_dict(result, policies), indent=2) + "\n")
    else:
        write_out(plan_table(title, result, policies))
    return EXIT_OK  # also when the plan predicts failure (contract §2.3)


def cmd_graph(args: argparse.Namespace) -> int:
    from compiler.present import graph_dot, graph_mermaid, graph_text, mermaid_limit_note

    loaded = _load_planned(args)
    if isinstance(loaded, int):
        return loaded
    title, graph, result = loaded
    if args.format == "mermaid":
        text = graph_mermaid(graph, result)
        note = mermaid_limit_note(graph, text)
        if note is not None:
            sys.stderr.write(f"orch: note: {note}\n")
        write_out(text)
    elif args.format == "dot":
        write_out(graph_dot(graph, result, title))
    else:
        write_out(graph_text(graph, result, title))
    return EXIT_OK
