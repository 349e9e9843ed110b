"""`orch`: the only module that touches files, stdout, stderr and exit codes.

Exit codes (contract §2.3): 0 success (warnings included), 1 invalid input (and
then nothing on stdout), 2 usage errors (unreadable file, bad flag, unknown step,
an output that cannot be written). `compile` and `validate` read every file they
can and report each one they cannot, then exit 2. Machine output (Workflows,
`validate -o json`, `plan -o json`) goes to stdout, notes for a person and every
diagnostic of `compile` to stderr. Heavy libraries are imported inside the
commands that need them, so that every command starts in a fraction of a second.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, NoReturn

from orchapi.api import InvalidNameError

if TYPE_CHECKING:
    from compiler.batch import Batch
    from compiler.diagnostics import Diagnostic
    from compiler.inputs import Inputs
    from compiler.pods import PodSettings
    from orchapi.graph import Graph
    from orchapi.models import Orchestration
    from orchapi.semantics import RunResult

EXIT_OK, EXIT_INVALID, EXIT_USAGE = 0, 1, 2
STDIN = "<stdin>"


class UsageError(Exception):
    """A usage problem: printed as one line, exit code 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def read_bytes(path: str) -> bytes:
    """The bytes of `path` (`-` is stdin). UsageError if it cannot be read."""
    if path == "-":
        raw = getattr(sys.stdin, "buffer", None)  # a text stream without bytes: tests
        return raw.read() if raw is not None else sys.stdin.read().encode()
    try:
        with open(path, "rb") as fh:
            return fh.read()
    except OSError as exc:
        raise UsageError(f"{path}: cannot read: {exc.strerror or exc}") from None


def read_sources(paths: Sequence[str]) -> Iterator[tuple[str, str | Diagnostic]]:
    """(display name, text or why it is not text) of each path, one at a time, so
    that only one file's bytes are held. UsageError if a file cannot be read."""
    from compiler.source import decode

    for path in paths:
        name = STDIN if path == "-" else path
        yield name, decode(read_bytes(path), name)


def load_inputs(paths: Sequence[str], args: argparse.Namespace | None = None,
                judge_tools: bool = True) -> Inputs:
    """Read files, keeping every model (plan, graph, submit), with every problem
    `compile` finds in them (`compiler.batch`: what only compiling shows, such as
    a missing Tool, included; `judge_tools` False: a ToolRun's Tool is not judged,
    for `orch submit`, whose controller reads it from the cluster)."""
    from compiler.inputs import Inputs, parse_text

    inputs = Inputs()
    batch = _new_batch(args, None, judge_tools=judge_tools)
    for name, text in read_sources(paths):
        if isinstance(text, str):
            parse_text(text, name, inputs, max_steps=_max_steps(args))
            batch.add_text(text, name)
        else:
            batch.add_problem(text)
    batch.finish()
    inputs.diagnostics = batch.diagnostics
    return inputs


def _max_steps(args: argparse.Namespace | None) -> int:
    """`--max-steps` where the command has it, else the default (contract §8)."""
    from orchapi.api import MAX_STEPS

    return getattr(args, "max_steps", None) or MAX_STEPS


def _new_batch(args: argparse.Namespace | None,
               render: Callable[[dict[str, Any]], str] | None,
               judge_tools: bool = True) -> Batch:
    """A Batch with the command's settings: pods (compile), `--strict`, and the
    Tools' source (`--tools-from-cluster`, which `operate` adds to the commands)."""
    from compiler.batch import Batch
    from compiler.kinds.tool_run import ADD_TOOL

    # The commands with pod flags (compile, validate, plan) judge the pod policy.
    pods = _pod_settings(args) if args is not None and hasattr(args, "pod_policy") else None
    batch = Batch(render, getattr(args, "service_account", None), pods,
                  bool(getattr(args, "strict", False)), _max_steps(args),
                  judge_tools=judge_tools)
    flag_hint = getattr(args, "tools_flag_hint", None)
    if flag_hint:
        batch.tools_hint = f"{ADD_TOOL}, {flag_hint}"
        source = args.tool_source(args) if args is not None else None
        if source is not None:
            batch.tool_source = source
            batch.tools_hint = ADD_TOOL
    return batch


def report(diagnostics: Sequence[Diagnostic], fmt: str = "text") -> None:
    """Diagnostics as lines on stderr, or (`validate -o json`) as JSON on stdout:
    machine output goes to stdout, notes for a person to stderr."""
    from compiler.render import diagnostic_dict, diagnostic_line

    if fmt == "json":
        sys.stdout.write(json.dumps([diagnostic_dict(d) for d in diagnostics], indent=2) + "\n")
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


def _batch(args: argparse.Namespace, render: Callable[[dict[str, Any]], str] | None,
           ) -> tuple[Batch, int]:
    """Every file through `compiler.batch`, one at a time. A file that cannot be
    read is reported (one line) and the others are still read: the exit code
    is then 2, after every problem of the readable files is shown."""
    from compiler.source import decode

    batch = _new_batch(args, render)
    unreadable = 0
    for path in args.files:
        name = STDIN if path == "-" else path
        try:
            data = read_bytes(path)
        except UsageError as exc:
            sys.stderr.write(f"orch: error: {exc}\n")
            unreadable += 1
            continue
        text = decode(data, name)
        del data
        if isinstance(text, str):
            batch.add_text(text, name)
        else:
            batch.add_problem(text)
    batch.finish()
    return batch, unreadable


def cmd_compile(args: argparse.Namespace) -> int:
    from compiler.render import json_list, json_text, to_yaml

    _check_service_account(args.service_account)
    render = json_text if args.output == "json" else (lambda wf: to_yaml([wf]))
    batch, unreadable = _batch(args, render)
    report(_sorted(batch.diagnostics))  # always lines on stderr; -o is the Workflows' format
    if unreadable:
        return EXIT_USAGE
    if not batch.ok:
        return EXIT_INVALID
    for note in batch.notes:
        sys.stderr.write(f"orch: note: {note}\n")
    texts = [t for u in batch.units for t in u.texts]
    if not texts:
        raise UsageError(f"nothing to compile: the input holds no Orchestration "
                         f"({_holds(batch)}); orch compiles Orchestrations and their runs, "
                         "and a Tool into the ToolRun steps that name it")
    if args.output == "json":
        _write(texts[0] if len(texts) == 1 else json_list(texts))
    else:
        _write("---\n".join(texts))
    return EXIT_OK


def cmd_validate(args: argparse.Namespace) -> int:
    # Compiling finds what only the compiled form shows (size, settings Argo
    # cannot apply): validate refuses exactly what compile refuses.
    batch, unreadable = _batch(args, None)
    report(_sorted(batch.diagnostics), args.output)
    if unreadable:
        return EXIT_USAGE
    if not batch.ok:
        return EXIT_INVALID
    nothing = "" if batch.index.orchestrations else " (no Orchestration: nothing to compile)"
    sys.stderr.write(f"{batch.documents} document(s) valid{nothing}\n")
    return EXIT_OK


def _holds(batch: Batch) -> str:
    tools = len(batch.index.tools)
    return f"{tools} Tool{'' if tools == 1 else 's'}" if tools else "no object orch compiles"


def _write(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()


def _check_service_account(name: str | None) -> None:
    """A ServiceAccount's name is an object name (IsDNS1123Subdomain)."""
    from orchapi.names import DNS_SUBDOMAIN_NAME, quote

    problem = DNS_SUBDOMAIN_NAME.problem(name) if name is not None else None
    if name is not None and problem:
        raise UsageError(f"--service-account {quote(name)} {problem}")


def _step_list(values: Sequence[str] | None) -> list[str]:
    """`--fail a,b --fail c` -> [a, b, c] (repeatable, comma-separated)."""
    return [name.strip() for value in values or () for name in value.split(",") if name.strip()]


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
    report(_sorted(inputs.diagnostics))
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
    failed, errored = _step_list(args.fail), _step_list(args.error)
    for flag, chosen in (("--fail", failed), ("--error", errored)):
        for name in chosen:
            if name not in graph.by_name:
                near = suggest(name, graph.names)
                hint = f"; did you mean {quote(near)}?" if near else ""
                raise UsageError(f'{flag}: orchestration "{orch.metadata.name}" has no step '
                                 f"{quote(name)}{hint}")
    both = sorted(set(failed) & set(errored))
    if both:
        raise UsageError(f"step {quote(both[0])} is named by both --fail and --error")
    during = _step_list(getattr(args, "timeout_during", None))
    if during:
        from compiler.policies import read_policies

        if read_policies(orch.spec.policies).total_seconds is None:
            raise UsageError(f'--timeout-during: orchestration "{orch.metadata.name}" has no '
                             "spec.policies.timeouts.totalSeconds, so its run has no deadline")
        for name in during:
            if name not in graph.by_name:
                near = suggest(name, graph.names)
                hint = f"; did you mean {quote(near)}?" if near else ""
                raise UsageError(f'--timeout-during: orchestration "{orch.metadata.name}" has '
                                 f"no step {quote(name)}{hint}")
    if getattr(args, "resume_from", None):
        if during:
            raise UsageError("--timeout-during cannot be used with --resume-from")
        return _resumed(args, orch, graph, failed, errored)
    result = None
    if failed or errored or args.command == "plan":
        from orchapi.semantics import plan

        result = plan(graph, failed, errored, during)
    return orch.metadata.name or "orchestration", graph, result


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
    rerun = _step_list(args.rerun)
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
        _write(json.dumps(plan_dict(result, policies), indent=2) + "\n")
    else:
        _write(plan_table(title, result, policies))
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
        _write(text)
    elif args.format == "dot":
        _write(graph_dot(graph, result, title))
    else:
        _write(graph_text(graph, result, title))
    return EXIT_OK


def cmd_crds(args: argparse.Namespace) -> int:
    """The CRDs generated from the models: YAML on stdout, or one file per CRD."""
    from pathlib import Path

    from compiler.crd import generate_crds
    from compiler.render import to_yaml

    if args.output_dir == "":
        raise UsageError("--output-dir needs a directory (omit it to write to stdout)")
    crds = generate_crds(args.max_steps)
    if args.output_dir is None:
        _write(to_yaml(crds.values()))
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
    """How the Workflow's pods run and what a step may ask of them (contract §4,
    §6; the chart's orchestrationController.podPolicy and
    .automountServiceAccountToken)."""
    p.add_argument("--pod-policy", metavar="POLICY",
                   help="the install's pod policy: restricted (default), none, a JSON "
                        "object, or @FILE (JSON or YAML), as the chart's "
                        "orchestrationController.podPolicy")
    p.add_argument("--pod-security", choices=("restricted", "none"), default=None,
                   help="the pod policy's podSecurity (default: the policy's, restricted)")
    p.add_argument("--automount-service-account-token", action="store_true",
                   help="mount the ServiceAccount token into every container of the pods "
                        "(default: only Argo's executor containers get one)")


def _pod_settings(args: argparse.Namespace) -> PodSettings:
    """The settings the pod flags give; UsageError names the flag at fault."""
    from dataclasses import replace

    from compiler.podpolicy import parse_pod_policy
    from compiler.pods import PodSettings

    value: Any = args.pod_policy
    if isinstance(value, str) and value.startswith("@"):
        import yaml

        ((name, text),) = read_sources([value[1:]])
        if not isinstance(text, str):
            raise UsageError(f"--pod-policy {name}: {text.text}")
        try:
            value = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise UsageError(f"--pod-policy {name}: not JSON or YAML "
                             f"({str(exc).splitlines()[0]})") from None
    try:
        policy = parse_pod_policy(value)
    except ValueError as exc:
        raise UsageError(f"--pod-policy: {exc}") from None
    if args.pod_security is not None:
        policy = replace(policy, pod_security=args.pod_security)
    return PodSettings(automount_token=args.automount_service_account_token, policy=policy)


STRICT_HELP = ("every key orch does not read is an error (by default only a misspelled "
               "one, as a warning)")


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of at least 1")
    return value


def _add_max_steps(p: argparse.ArgumentParser) -> None:
    from orchapi.api import MAX_STEPS

    p.add_argument("--max-steps", type=_positive, default=MAX_STEPS, metavar="N",
                   help=f"most steps an Orchestration may have (default {MAX_STEPS:,}; "
                   "the chart's orchestrationController.maxSteps)")


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
    _add_max_steps(p)
    p.set_defaults(func=cmd_compile)

    p = sub.add_parser("validate", help="check every document, print every problem")
    p.add_argument("files", nargs="+", metavar="FILE", help="YAML files; - for stdin")
    p.add_argument("-o", "--output", choices=("text", "json"), default="text")
    p.add_argument("--strict", action="store_true", help=STRICT_HELP)
    _add_pod_flags(p)
    _add_max_steps(p)
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("plan", help="what-if: which steps run, fail or are skipped")
    p.add_argument("file", metavar="FILE", help="YAML file; - for stdin")
    p.add_argument("--fail", action="append", metavar="STEP[,STEP...]",
                   help="assume these steps fail (repeatable); every other step succeeds")
    p.add_argument("--error", action="append", metavar="STEP[,STEP...]",
                   help="assume these steps end in an infrastructure error (Argo Error)")
    p.add_argument("--orchestration", metavar="[NAMESPACE/]NAME",
                   help="the Orchestration to plan when the file holds several")
    p.add_argument("--resume-from", metavar="RUN.yaml",
                   help="plan a run resuming this saved run (kubectl get orchestrationrun "
                   "NAME -o yaml): what is reused, what reruns and why")
    p.add_argument("--rerun", action="append", metavar="STEP[,STEP...]",
                   help="with --resume-from: rerun these steps too (and what depends on them)")
    p.add_argument("--timeout-during", action="append", metavar="STEP[,STEP...]",
                   help="assume the run's deadline (spec.policies.timeouts.totalSeconds) "
                   "passes while these steps run: what they depend on ran before it")
    p.add_argument("-o", "--output", choices=("text", "json"), default="text")
    _add_pod_flags(p)
    _add_max_steps(p)
    p.set_defaults(func=cmd_plan)

    p = sub.add_parser("graph", help="draw the step graph (Mermaid, Graphviz DOT or text)")
    p.add_argument("file", metavar="FILE", help="YAML file; - for stdin")
    p.add_argument("--format", choices=("mermaid", "dot", "text"), default="text")
    p.add_argument("--fail", action="append", metavar="STEP[,STEP...]",
                   help="mark each step with its planned phase when these steps fail")
    p.add_argument("--error", action="append", metavar="STEP[,STEP...]",
                   help="... or end in an infrastructure error (Argo Error)")
    p.add_argument("--orchestration", metavar="[NAMESPACE/]NAME",
                   help="the Orchestration to draw when the file holds several")
    _add_max_steps(p)
    p.set_defaults(func=cmd_graph)

    p = sub.add_parser("crds", help="the CRDs generated from the models, as YAML")
    p.add_argument("--output-dir", metavar="DIR",
                   help="write one file per CRD into DIR instead of stdout")
    _add_max_steps(p)
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
        sys.stdout.flush()
    except (UsageError, InvalidNameError) as exc:  # a name no object can have: never sent
        sys.stderr.write(f"orch: error: {exc}\n")
        return EXIT_USAGE
    except BrokenPipeError:  # `orch compile x | head`: the reader has all it wanted
        _drop_stdout()
        return EXIT_OK
    except OSError as exc:  # a full disk, a closed or unwritable stdout
        _drop_stdout()
        sys.stderr.write(f"orch: error: cannot write the output: {exc.strerror or exc}\n")
        return EXIT_USAGE
    return code


def _drop_stdout() -> None:
    """Point stdout at /dev/null so that the interpreter's last flush of what is
    still buffered neither fails again nor prints a traceback."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass


if __name__ == "__main__":
    sys.exit(main())
