"""`orch` and `kubectl-orch`: the one entry point, which builds the parser of every
command and turns what a command raises into one line and an exit code
(`operate.errors`).

The commands: the file commands (`operate.compiling`: compile, validate, crds;
`operate.planning`: plan, graph), the cluster commands (`operate.commands`, and
`operate.submit`) and `controller`, which hands the process to `python -m
controller`: an exec, not an import, so the terminal never loads the controller
(.importlinter) and the controller owns the process (its signals, its exit code).
Registering a command imports nothing heavy; each loads what it needs when it
runs, so `orch compile` starts as fast as the compiler alone.
"""

from __future__ import annotations

import argparse
import functools
import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from operate import commands, compiling, planning
from operate.errors import EXIT_CLUSTER, EXIT_OK, EXIT_USAGE, Refused, UsageError
from operate.toolsource import TOOLS_FLAG, TOOLS_HINT, cluster_tools
from orchapi.api import InvalidNameError

Command = Callable[[argparse.Namespace], int]


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


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


def _add_cluster_commands(sub: Any) -> None:
    """The cluster commands, and to the file commands the flag that reads missing
    Tools from the cluster."""
    for name in ("compile", "validate", "plan", "graph"):
        p = sub.choices[name]
        p.add_argument(TOOLS_FLAG, action="store_true",
                       help="read the Tools ToolRun steps name and the input lacks from the "
                       "current kube context's cluster (as the controller does at submission)")
        p.set_defaults(tool_source=cluster_tools, tools_flag_hint=TOOLS_HINT)
    common = argparse.ArgumentParser(add_help=False)
    group = common.add_argument_group("cluster (as kubectl)")
    group.add_argument("--kubeconfig", metavar="FILE",
                       help="kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)")
    group.add_argument("--context", metavar="NAME", help="kubeconfig context to use")
    group.add_argument("-n", "--namespace", metavar="NS",
                       help="namespace (default: the context's, else default)")

    p = sub.add_parser("submit", parents=[common],
                       help="create an OrchestrationRun of the Orchestration in FILE")
    p.add_argument("file", metavar="FILE", help="YAML file with the Orchestration; - for stdin")
    p.add_argument("-p", "--param", action="append", metavar="KEY=VALUE", default=[],
                   help="a run parameter (repeatable)")
    p.add_argument("--name", help="the run's name (default: ORCHESTRATION-<random>)")
    p.add_argument("--orchestration", metavar="NAME",
                   help="the Orchestration to run when FILE holds several")
    p.add_argument("--apply", action="store_true",
                   help="create or update the Orchestration from FILE first (server-side "
                   "apply, field manager orch)")
    p.add_argument("--delivery-id", metavar="ID",
                   help="the event this run answers (spec.deliveryId): when a run of the "
                   "Orchestration already holds ID in the namespace, print it instead of "
                   "creating another (a webhook's redelivery is one execution)")
    p.add_argument("-w", "--watch", action="store_true", help="then watch the run (as orch watch)")
    p.add_argument("--all", action="store_true", help="with --watch: show every step")
    p.set_defaults(func=_cluster(commands.cmd_submit))

    p = sub.add_parser("get", parents=[common], help="show a run: every step, in DAG order")
    p.add_argument("run", metavar="RUN")
    p.add_argument("-o", "--output", choices=("tree", "wide", "json", "yaml"), default="tree")
    p.set_defaults(func=_cluster(commands.cmd_get))

    p = sub.add_parser("watch", parents=[common],
                       help="follow a run until it ends; exit 0 Succeeded, 1 Failed, 3 Cancelled")
    p.add_argument("run", metavar="RUN")
    p.add_argument("--all", action="store_true",
                   help="show every step (default: running and failed ones, and a summary)")
    p.set_defaults(func=_cluster(commands.cmd_watch))

    p = sub.add_parser("list", parents=[common], help="list runs with phase, progress, age")
    p.add_argument("-A", "--all-namespaces", action="store_true", help="runs of every namespace")
    p.add_argument("-l", "--selector", metavar="SELECTOR", help="label selector (as kubectl)")
    p.add_argument("-o", "--output", choices=("table", "wide", "json", "yaml", "name"),
                   default="table")
    p.set_defaults(func=_cluster(commands.cmd_list))

    p = sub.add_parser("cancel", parents=[common],
                       help="cancel runs (sets spec.cancel; the controller stops them)")
    p.add_argument("runs", nargs="+", metavar="RUN")
    p.set_defaults(func=_cluster(commands.cmd_cancel))

    p = sub.add_parser("resume", parents=[common],
                       help="rerun an ended run's unfinished steps in a new run")
    p.add_argument("run", metavar="RUN")
    p.add_argument("--rerun", action="append", metavar="STEP[,STEP...]",
                   help="also rerun these steps (and what depends on them)")
    p.add_argument("--name", help="the new run's name (default: ORCHESTRATION-<random>)")
    p.add_argument("-w", "--watch", action="store_true", help="then watch the new run")
    p.add_argument("--all", action="store_true", help="with --watch: show every step")
    p.set_defaults(func=_cluster(commands.cmd_resume))


def _cluster(command: Command) -> Command:
    """Turns the cluster's refusals into one line on stderr and exit code 4."""
    @functools.wraps(command)
    def run(args: argparse.Namespace) -> int:
        from operate.client import ApiError, Unreachable
        from operate.follow import RunDeleted
        from operate.kubeconfig import ConfigError

        try:
            return command(args)
        except ConfigError as exc:
            return _fail(f"kubeconfig: {exc}")
        except (ApiError, Unreachable, RunDeleted, Refused) as exc:
            return _fail(str(exc))
        except KeyboardInterrupt:
            sys.stderr.write("\n")
            return 130
    return run


def _fail(message: str) -> int:
    sys.stderr.write(f"orch: error: {message}\n")
    return EXIT_CLUSTER


# The cluster flags every cluster command takes (_add_cluster_commands), each
# with a value: kubectl takes them before its subcommand too.
_CLUSTER_FLAGS = ("-n", "--namespace", "--context", "--kubeconfig")


def hoist_cluster_flags(argv: Sequence[str]) -> list[str]:
    """`-n team-b list` -> `list -n team-b`: the cluster flags written before the
    subcommand (as `kubectl -n team-b get ...` and `kubectl orch -n team-b list`
    write them) moved after it, where the subcommand's parser reads them."""
    before: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        flag = arg.split("=", 1)[0]
        if flag in _CLUSTER_FLAGS and "=" in arg:
            before.append(arg)
            i += 1
        elif arg in _CLUSTER_FLAGS and i + 1 < len(argv):
            before += [arg, argv[i + 1]]
            i += 2
        elif arg.startswith("-n") and len(arg) > 2 and not arg.startswith("--"):
            before.append(arg)  # -nteam-b
            i += 1
        else:
            break
    if not before or i >= len(argv):
        return list(argv)
    return [argv[i], *before, *argv[i + 1:]]


def build_parser(cluster: bool = True) -> argparse.ArgumentParser:
    """`orch`'s commands: the file commands, the controller and (`cluster`) the
    cluster commands. Without them, the file commands are the compiler's alone: no
    `--tools-from-cluster` (the golden files pin that form, which needs no cluster)."""
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
    p.set_defaults(func=compiling.cmd_compile)

    p = sub.add_parser("validate", help="check every document, print every problem")
    p.add_argument("files", nargs="+", metavar="FILE", help="YAML files; - for stdin")
    p.add_argument("-o", "--output", choices=("text", "json"), default="text")
    p.add_argument("--strict", action="store_true", help=STRICT_HELP)
    _add_pod_flags(p)
    _add_max_steps(p)
    p.set_defaults(func=compiling.cmd_validate)

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
    p.set_defaults(func=planning.cmd_plan)

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
    p.set_defaults(func=planning.cmd_graph)

    p = sub.add_parser("crds", help="the CRDs generated from the models, as YAML")
    p.add_argument("--output-dir", metavar="DIR",
                   help="write one file per CRD into DIR instead of stdout")
    _add_max_steps(p)
    p.set_defaults(func=compiling.cmd_crds)

    p = sub.add_parser("controller", add_help=False,
                       help="run the in-cluster controller (python -m controller; --help there)")
    p.add_argument("args", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    p.set_defaults(func=cmd_controller)

    if cluster:
        _add_cluster_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None, cluster: bool = True) -> int:
    """`orch ARGS` (`kubectl orch ARGS`): the exit code; every error one line."""
    parser = build_parser(cluster)
    args, extra = parser.parse_known_args(hoist_cluster_flags(
        sys.argv[1:] if argv is None else argv))
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
