"""`orch`: the only module that touches files, stdout, stderr and exit codes.

Exit codes (contract §2.3): 0 success (warnings included), 1 invalid input (and
then nothing on stdout), 2 usage errors (unreadable file, bad flag, unknown step).
Heavy libraries are imported inside the commands that need them, so that
`orch compile` starts in a fraction of a second.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NoReturn

if TYPE_CHECKING:
    from compiler.diagnostics import Diagnostic
    from compiler.graph import Graph
    from compiler.inputs import Inputs
    from compiler.models import Orchestration
    from compiler.pods import PodSettings
    from compiler.semantics import RunResult

EXIT_OK, EXIT_INVALID, EXIT_USAGE = 0, 1, 2
STDIN = "<stdin>"


class UsageError(Exception):
    """A usage problem: printed as one line, exit code 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def read_sources(paths: Sequence[str]) -> list[tuple[str, str]]:
    """(display name, text) of each path; `-` is stdin. UsageError if unreadable."""
    out: list[tuple[str, str]] = []
    for path in paths:
        if path == "-":
            out.append((STDIN, sys.stdin.read()))
            continue
        try:
            with open(path, encoding="utf-8") as fh:
                out.append((path, fh.read()))
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise UsageError(f"{path}: cannot read: {reason}") from None
    return out


def load_inputs(paths: Sequence[str], strict: bool = False) -> Inputs:
    """Read and validate files; shared by every command that takes FILE...
    (imports the models lazily, after argument parsing)."""
    from compiler.inputs import parse_files

    return parse_files(read_sources(paths), strict)


def report(diagnostics: Sequence[Diagnostic], fmt: str = "text") -> None:
    from compiler.render import diagnostic_dict, diagnostic_line

    if fmt == "json":
        json.dump([diagnostic_dict(d) for d in diagnostics], sys.stderr, indent=2)
        sys.stderr.write("\n")
        return
    for d in diagnostics:
        sys.stderr.write(diagnostic_line(d) + "\n")


def _sorted(diagnostics: Sequence[Diagnostic]) -> list[Diagnostic]:
    return sorted(
        diagnostics,
        key=lambda d: (
            d.span.file if d.span else "",
            d.document,
            d.span.line or 0 if d.span else 0,
        ),
    )


def cmd_compile(args: argparse.Namespace) -> int:
    from compiler.diagnostics import Collector
    from compiler.emit import emit_workflow
    from compiler.inputs import pair_runs
    from compiler.render import to_json, to_yaml

    inputs = load_inputs(args.files, args.strict)
    workflows = []
    for doc, orch, run in pair_runs(inputs):
        out = Collector()
        compiled = emit_workflow(orch, run, out, service_account=args.service_account,
                                 pods=_pod_settings(args))
        inputs.diagnostics.extend(doc.locate(d) for d in out.items)
        workflows.append(compiled.workflow)
    problems = _sorted(inputs.diagnostics)
    report(problems, args.output if args.output == "json" else "text")
    if not inputs.ok:
        return EXIT_INVALID
    sys.stdout.write(to_json(workflows) if args.output == "json" else to_yaml(workflows))
    return EXIT_OK


def cmd_validate(args: argparse.Namespace) -> int:
    from compiler.diagnostics import Collector
    from compiler.emit import emit_workflow
    from compiler.inputs import pair_runs

    inputs = load_inputs(args.files, args.strict)
    # Compiling finds what only the compiled form shows (size, settings Argo
    # cannot apply): validate refuses exactly what compile refuses.
    for doc, orch, run in pair_runs(inputs):
        out = Collector()
        emit_workflow(orch, run, out)
        inputs.diagnostics.extend(doc.locate(d) for d in out.items)
    report(_sorted(inputs.diagnostics), args.output)
    if not inputs.ok:
        return EXIT_INVALID
    if args.output == "text":
        sys.stderr.write(f"{inputs.documents} document(s) valid\n")
    return EXIT_OK


def _step_list(values: Sequence[str] | None) -> list[str]:
    """`--fail a,b --fail c` -> [a, b, c] (repeatable, comma-separated)."""
    return [name.strip() for value in values or () for name in value.split(",") if name.strip()]


def _load_planned(args: argparse.Namespace) -> tuple[str, Graph, RunResult | None] | int:
    """The one Orchestration of the input (or `--orchestration NAME`), its graph
    and, when steps are named to fail or error, the plan. An int is an exit code."""
    from compiler.graph import build_graph
    from compiler.names import suggest
    from compiler.semantics import plan

    inputs = load_inputs([args.file])
    report(_sorted(inputs.diagnostics))
    if not inputs.ok:
        return EXIT_INVALID
    found = [o for _, o in inputs.orchestrations
             if args.orchestration is None or o.metadata.name == args.orchestration]
    names = [o.metadata.name or "" for _, o in inputs.orchestrations]
    if not found:
        if args.orchestration is None:
            raise UsageError(f"{args.file}: no Orchestration in the input")
        near = suggest(args.orchestration, names)
        hint = f"; did you mean {near!r}?" if near else f" (it has {', '.join(names)})"
        raise UsageError(f'no Orchestration "{args.orchestration}" in {args.file}{hint}')
    if len(found) > 1:
        raise UsageError(f"{args.file} holds {len(found)} Orchestrations ({', '.join(names)}); "
                         "choose one with --orchestration NAME")
    orch = found[0]
    graph = build_graph(orch.spec.steps)
    failed, errored = _step_list(args.fail), _step_list(getattr(args, "error", None))
    for flag, chosen in (("--fail", failed), ("--error", errored)):
        for name in chosen:
            if name not in graph.by_name:
                near = suggest(name, graph.names)
                hint = f"; did you mean {near!r}?" if near else ""
                raise UsageError(f'{flag}: orchestration "{orch.metadata.name}" has no step '
                                 f'"{name}"{hint}')
    both = sorted(set(failed) & set(errored))
    if both:
        raise UsageError(f"step {both[0]!r} is named by both --fail and --error")
    if getattr(args, "resume_from", None):
        return _resumed(args, orch, graph, failed, errored)
    result = plan(graph, failed, errored) if (failed or errored or args.command == "plan") else None
    return orch.metadata.name or "orchestration", graph, result


def _resumed(args: argparse.Namespace, orch: Orchestration, graph: Graph,
             failed: Sequence[str], errored: Sequence[str]) -> tuple[str, Graph, RunResult]:
    """`orch plan FILE --resume-from RUN.yaml`: the decision the controller makes
    for a run resuming the saved run (`kubectl get orchestrationrun NAME -o yaml`)."""
    import yaml

    from compiler.resume import decide_resume, old_steps, plan_resume, resume_problem

    ((name, text),) = read_sources([args.resume_from])
    try:
        old = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise UsageError(f"{name}: not YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(old, dict) or old.get("kind") != "OrchestrationRun":
        raise UsageError(f"{name}: not an OrchestrationRun (save one with kubectl get "
                         "orchestrationrun NAME -o yaml)")
    old_name = str((old.get("metadata") or {}).get("name") or name)
    rerun = _step_list(args.rerun)
    # Offline, the file's Orchestration is the one the cluster holds; its generation
    # is known only when the file was saved from the cluster.
    generation = orch.metadata.generation
    if generation is None:
        generation = (old.get("status") or {}).get("orchestrationGeneration")
    problem = resume_problem(old, old_name, orch.metadata.name or "", generation, graph, rerun)
    if problem is not None:
        raise UsageError(f"--resume-from {name}: {problem}")
    decision = decide_resume(graph, old_name, old_steps(old), rerun)
    for flag, chosen in (("--fail", failed), ("--error", errored)):
        reused = [n for n in chosen if n in decision.reused]
        if reused:
            raise UsageError(f'{flag}: step "{reused[0]}" is reused from {old_name}, so it '
                             "cannot fail; name it with --rerun to run it again")
    title = f"{orch.metadata.name} resumed from {old_name}"
    return title, graph, plan_resume(graph, decision, failed, errored)


def cmd_plan(args: argparse.Namespace) -> int:
    from compiler.present import plan_dict, plan_table

    loaded = _load_planned(args)
    if isinstance(loaded, int):
        return loaded
    title, _, result = loaded
    assert result is not None
    if args.output == "json":
        sys.stdout.write(json.dumps(plan_dict(result), indent=2) + "\n")
    else:
        sys.stdout.write(plan_table(title, result))
    return EXIT_OK  # also when the plan predicts failure (contract §2.3)


def cmd_graph(args: argparse.Namespace) -> int:
    from compiler.present import graph_dot, graph_mermaid, graph_text

    loaded = _load_planned(args)
    if isinstance(loaded, int):
        return loaded
    title, graph, result = loaded
    if args.format == "mermaid":
        sys.stdout.write(graph_mermaid(graph, result))
    elif args.format == "dot":
        sys.stdout.write(graph_dot(graph, result, title))
    else:
        sys.stdout.write(graph_text(graph, result, title))
    return EXIT_OK


def cmd_crds(args: argparse.Namespace) -> int:
    """The CRDs generated from the models: YAML on stdout, or one file per CRD."""
    from pathlib import Path

    from compiler.crd import generate_crds
    from compiler.render import to_yaml

    crds = generate_crds()
    if args.output_dir is None:
        sys.stdout.write(to_yaml(crds.values()))
        return EXIT_OK
    out = Path(args.output_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
        for name, crd in crds.items():
            (out / name).write_text(to_yaml([crd]), encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"{out}: cannot write: {exc.strerror or exc}") from None
    return EXIT_OK


def cmd_controller(args: argparse.Namespace) -> int:
    """Hand the process to `python -m controller`. An exec, not an import: the
    compiler never depends on the controller (.importlinter), and the controller
    then owns the process (its signals, its exit code)."""
    import os

    argv = [sys.executable, "-m", "controller", *args.args]
    sys.stdout.flush()
    os.execv(sys.executable, argv)


def _add_pod_flags(p: argparse.ArgumentParser) -> None:
    """How the Workflow's pods run (contract §4; the chart's
    orchestrationController.automountServiceAccountToken and .podSecurity)."""
    p.add_argument("--automount-service-account-token", action="store_true",
                   help="mount the ServiceAccount token into every container of the pods "
                        "(default: only Argo's executor containers get one)")
    p.add_argument("--pod-security", choices=("restricted", "none"), default="restricted",
                   help="Pod Security settings the pods get (default restricted)")


def _pod_settings(args: argparse.Namespace) -> PodSettings:
    from compiler.pods import PodSettings

    return PodSettings(automount_token=args.automount_service_account_token,
                       pod_security=args.pod_security)


STRICT_HELP = ("every key orch does not read is an error (by default only a misspelled "
               "one, as a warning)")


class _VersionAction(argparse.Action):
    """`orch --version`: the installed distribution's version, looked up only when
    asked (importlib.metadata is not free at start-up)."""

    def __init__(self, option_strings: Sequence[str], dest: str = argparse.SUPPRESS,
                 default: str = argparse.SUPPRESS, help: str | None = None) -> None:
        super().__init__(option_strings, dest, nargs=0, default=default, help=help)

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: object, option_string: str | None = None) -> NoReturn:
        from importlib.metadata import version

        sys.stdout.write(f"{parser.prog} {version('orch')}\n")
        parser.exit(EXIT_OK)


def build_parser(extensions: Sequence[Any] = ()) -> argparse.ArgumentParser:
    """`orch`'s commands; each of `extensions` is called with the subparsers to add
    more (the entry point `operate.main` adds the cluster commands, so the
    compiler's own stay free of cluster code)."""
    parser = _Parser(prog="orch", description="Orchestration resources -> Argo Workflows")
    parser.add_argument("--version", action=_VersionAction, help="print the version and exit")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("compile", help="compile to Argo Workflow YAML on stdout")
    p.add_argument("files", nargs="+", metavar="FILE", help="YAML files; - for stdin")
    p.add_argument("-o", "--output", choices=("yaml", "json"), default="yaml")
    p.add_argument("--service-account", help="spec.serviceAccountName of the Workflows")
    p.add_argument("--strict", action="store_true", help=STRICT_HELP)
    _add_pod_flags(p)
    p.set_defaults(func=cmd_compile)

    p = sub.add_parser("validate", help="check every document, print every problem")
    p.add_argument("files", nargs="+", metavar="FILE", help="YAML files; - for stdin")
    p.add_argument("-o", "--output", choices=("text", "json"), default="text")
    p.add_argument("--strict", action="store_true", help=STRICT_HELP)
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("plan", help="what-if: which steps run, fail or are skipped")
    p.add_argument("file", metavar="FILE", help="YAML file; - for stdin")
    p.add_argument("--fail", action="append", metavar="STEP[,STEP...]",
                   help="assume these steps fail (repeatable); every other step succeeds")
    p.add_argument("--error", action="append", metavar="STEP[,STEP...]",
                   help="assume these steps end in an infrastructure error (Argo Error)")
    p.add_argument("--orchestration", metavar="NAME",
                   help="the Orchestration to plan when the file holds several")
    p.add_argument("--resume-from", metavar="RUN.yaml",
                   help="plan a run resuming this saved run (kubectl get orchestrationrun "
                   "NAME -o yaml): what is reused, what reruns and why")
    p.add_argument("--rerun", action="append", metavar="STEP[,STEP...]",
                   help="with --resume-from: rerun these steps too (and what depends on them)")
    p.add_argument("-o", "--output", choices=("text", "json"), default="text")
    p.set_defaults(func=cmd_plan)

    p = sub.add_parser("graph", help="draw the step graph (Mermaid, Graphviz DOT or text)")
    p.add_argument("file", metavar="FILE", help="YAML file; - for stdin")
    p.add_argument("--format", choices=("mermaid", "dot", "text"), default="text")
    p.add_argument("--fail", action="append", metavar="STEP[,STEP...]",
                   help="mark each step with its planned phase when these steps fail")
    p.add_argument("--orchestration", metavar="NAME",
                   help="the Orchestration to draw when the file holds several")
    p.set_defaults(func=cmd_graph)

    p = sub.add_parser("crds", help="the CRDs generated from the models, as YAML")
    p.add_argument("--output-dir", metavar="DIR",
                   help="write one file per CRD into DIR instead of stdout")
    p.set_defaults(func=cmd_crds)

    p = sub.add_parser("controller", add_help=False,
                       help="run the in-cluster controller (python -m controller; --help there)")
    p.add_argument("args", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    p.set_defaults(func=cmd_controller)

    for extend in extensions:  # more commands register here
        extend(sub)
    return parser


def main(argv: Sequence[str] | None = None, extensions: Sequence[Any] = ()) -> int:
    parser = build_parser(extensions)
    args, extra = parser.parse_known_args(argv)
    if args.command == "controller":
        args.args = [*extra, *args.args]  # every option is the controller's
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    from compiler.gcpause import paused_gc

    try:
        with paused_gc():  # one-shot commands; the controller is exec'ed
            code: int = args.func(args)
    except UsageError as exc:
        sys.stderr.write(f"orch: error: {exc}\n")
        return EXIT_USAGE
    except BrokenPipeError:
        return EXIT_OK
    return code


if __name__ == "__main__":
    sys.exit(main())
