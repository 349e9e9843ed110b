"""The cluster commands of `orch`: submit, get, watch, list, cancel, resume.

Exit codes, the same for every one of them: 0 success; 1 invalid input (the
file given to `submit`), and for `watch` (and `--watch`) a run that ended
`Failed`; 2 usage; 3 a watched run that ended `Cancelled`; 4 the cluster refused
or could not be asked (not found, forbidden, a run in the wrong state, the
apiserver unreachable, a kubeconfig that cannot be used). So `orch watch`'s 0, 1
and 3 always mean the run's outcome. Every error is one line on stderr.
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
from collections.abc import Callable, Sequence
from typing import Any

EXIT_OK, EXIT_INVALID, EXIT_USAGE, EXIT_CLUSTER = 0, 1, 2, 4
Command = Callable[[argparse.Namespace], int]


def register(sub: Any) -> None:
    """Add the cluster commands to `orch`'s subcommands (`compiler.cli`), and to
    its compiler commands the flag that reads missing Tools from the cluster."""
    for name in ("compile", "validate", "plan", "graph"):
        p = sub.choices[name]
        p.add_argument(TOOLS_FLAG, action="store_true",
                       help="read the Tools ToolRun steps name and the input lacks from the "
                       "current kube context's cluster (as the controller does at submission)")
        p.set_defaults(tool_source=_cluster_tools, tools_flag_hint=TOOLS_HINT)
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
    p.set_defaults(func=_cluster(cmd_submit))

    p = sub.add_parser("get", parents=[common], help="show a run: every step, in DAG order")
    p.add_argument("run", metavar="RUN")
    p.add_argument("-o", "--output", choices=("tree", "wide", "json", "yaml"), default="tree")
    p.set_defaults(func=_cluster(cmd_get))

    p = sub.add_parser("watch", parents=[common],
                       help="follow a run until it ends; exit 0 Succeeded, 1 Failed, 3 Cancelled")
    p.add_argument("run", metavar="RUN")
    p.add_argument("--all", action="store_true",
                   help="show every step (default: running and failed ones, and a summary)")
    p.set_defaults(func=_cluster(cmd_watch))

    p = sub.add_parser("list", parents=[common], help="list runs with phase, progress, age")
    p.add_argument("-A", "--all-namespaces", action="store_true", help="runs of every namespace")
    p.add_argument("-l", "--selector", metavar="SELECTOR", help="label selector (as kubectl)")
    p.add_argument("-o", "--output", choices=("table", "wide", "json", "yaml", "name"),
                   default="table")
    p.set_defaults(func=_cluster(cmd_list))

    p = sub.add_parser("cancel", parents=[common],
                       help="cancel runs (sets spec.cancel; the controller stops them)")
    p.add_argument("runs", nargs="+", metavar="RUN")
    p.set_defaults(func=_cluster(cmd_cancel))

    p = sub.add_parser("resume", parents=[common],
                       help="rerun an ended run's unfinished steps in a new run")
    p.add_argument("run", metavar="RUN")
    p.add_argument("--rerun", action="append", metavar="STEP[,STEP...]",
                   help="also rerun these steps (and what depends on them)")
    p.add_argument("--name", help="the new run's name (default: ORCHESTRATION-<random>)")
    p.add_argument("-w", "--watch", action="store_true", help="then watch the new run")
    p.add_argument("--all", action="store_true", help="with --watch: show every step")
    p.set_defaults(func=_cluster(cmd_resume))


TOOLS_FLAG = "--tools-from-cluster"
# Appended to the compiler's "add the Tool ... to the input" of a ToolNotFound.
TOOLS_HINT = f"or pass {TOOLS_FLAG} to read it from the current kube context's cluster"


def _cluster_tools(args: argparse.Namespace) -> Any:
    """The `compiler.tools.ToolSource` of `--tools-from-cluster`, None without it;
    loaded only when asked, so `orch compile` starts as the compiler alone."""
    if not args.tools_from_cluster:
        return None
    from operate.toolsource import ClusterTools

    return ClusterTools()


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


class Refused(Exception):  # noqa: N818
    """The request makes no sense for the object as it is (exit 4)."""


def _fail(message: str) -> int:
    sys.stderr.write(f"orch: error: {message}\n")
    return EXIT_CLUSTER


def _connect(args: argparse.Namespace) -> Any:
    from operate.client import Client
    from operate.kubeconfig import load

    return Client(load(args.kubeconfig, args.context, args.namespace))


def _step_list(values: Sequence[str] | None) -> list[str]:
    return [n.strip() for v in values or () for n in v.split(",") if n.strip()]


# -- get / watch / list -------------------------------------------------------------
def cmd_get(args: argparse.Namespace) -> int:
    from operate.cluster import gathered_view, get_run

    client = _connect(args)
    if args.output in ("json", "yaml"):
        _print_object(get_run(client, client.namespace, args.run), args.output)
        return EXIT_OK
    from datetime import UTC, datetime

    from operate.render import tree, wide
    from operate.terminal import style_for

    view = gathered_view(client, client.namespace, args.run)
    render = wide if args.output == "wide" else tree
    sys.stdout.write(render(view, datetime.now(UTC), style_for(sys.stdout),
                            unobserved_after()))
    return EXIT_OK


def cmd_watch(args: argparse.Namespace) -> int:
    return watch(_connect(args), args.run, args.all)


def watch(client: Any, name: str, show_all: bool) -> int:
    """Follow `name` in the client's namespace; the reader thread gets a client of
    its own on the same connection settings."""
    from operate.client import Client
    from operate.follow import follow

    first = [client]

    def make() -> Any:
        return first.pop() if first else Client(client.conn)
    return follow(make, client.namespace, name, sys.stdout, show_all, unobserved_after())


def unobserved_after() -> float:
    """Seconds a run may go unobserved by any controller before `get` and `watch`
    say so: `ORCH_UNOBSERVED_AFTER`, else `operate.render.UNOBSERVED_AFTER`."""
    import os

    from compiler.cli import UsageError
    from operate.render import UNOBSERVED_AFTER

    text = os.environ.get("ORCH_UNOBSERVED_AFTER")
    if text is None:
        return UNOBSERVED_AFTER
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value >= 0:
        raise UsageError(f"ORCH_UNOBSERVED_AFTER={text!r}: expected a number of seconds >= 0")
    return value


def cmd_list(args: argparse.Namespace) -> int:
    from orchapi.api import RUNS

    client = _connect(args)
    namespace = None if args.all_namespaces else client.namespace
    query = {"labelSelector": args.selector} if args.selector else None
    body = client.get(RUNS.path(namespace), query)
    items: list[dict[str, Any]] = body.get("items") or []
    if args.output in ("json", "yaml"):
        _print_object({"apiVersion": "v1", "kind": "List", "items": [
            {"apiVersion": body.get("apiVersion"), "kind": "OrchestrationRun", **i}
            for i in items], "metadata": {"resourceVersion": ""}}, args.output)
        return EXIT_OK
    if args.output == "name":
        for item in sorted(items, key=lambda i: i["metadata"]["name"]):
            sys.stdout.write(f"orchestrationrun.orchestration.proompteng.ai/"
                             f"{item['metadata']['name']}\n")
        return EXIT_OK
    if not items:
        where = "any namespace" if namespace is None else f'namespace "{namespace}"'
        sys.stderr.write(f"No OrchestrationRuns found in {where}.\n")
        return EXIT_OK
    from operate.follow import now_utc
    from operate.render import run_list
    from operate.terminal import style_for

    sys.stdout.write(run_list(items, now_utc(), style_for(sys.stdout),
                              all_namespaces=namespace is None,
                              wide_output=args.output == "wide"))
    return EXIT_OK


def _print_object(obj: dict[str, Any], fmt: str) -> None:
    if fmt == "json":
        sys.stdout.write(json.dumps(obj, indent=4, ensure_ascii=False) + "\n")
    else:
        from compiler.render import to_yaml

        sys.stdout.write(to_yaml([obj]))


# -- cancel --------------------------------------------------------------------------
def cmd_cancel(args: argparse.Namespace) -> int:
    """Every name is acted on, as `kubectl delete A missing B` does: a run that
    cannot be cancelled (not found, forbidden, ...) is one line on stderr, the
    others are still cancelled, and the exit code says that one failed."""
    from operate.client import ApiError
    from orchapi.api import RUNS

    for name in args.runs:  # every name checked before the first request (usage, exit 2)
        RUNS.path(None, name)
    client = _connect(args)
    failed = 0
    for name in args.runs:
        try:
            _cancel_one(client, name)
        except (ApiError, Refused) as exc:
            failed += 1
            sys.stderr.write(f"orch: error: {exc}\n")
    return EXIT_CLUSTER if failed else EXIT_OK


def _cancel_one(client: Any, name: str) -> None:
    from operate.client import MERGE_PATCH
    from operate.cluster import get_run
    from orchapi.api import RUNS
    from orchapi.vocabulary import RUN_DONE

    run = get_run(client, client.namespace, name)
    phase = (run.get("status") or {}).get("phase")
    if phase in RUN_DONE:
        sys.stderr.write(f"{name}: already ended {phase}; nothing to cancel\n")
        return
    patched = client.request("PATCH", RUNS.path(client.namespace, name),
                             body={"spec": {"cancel": True}}, content_type=MERGE_PATCH)
    if (patched.get("spec") or {}).get("cancel") is not True:
        raise Refused(f"{name}: the cluster dropped spec.cancel: its OrchestrationRun "
                      "CRD predates cancel; install the CRDs of this orch "
                      "(orch crds | kubectl apply -f -)")
    sys.stdout.write(f"{name}: cancel requested\n")


# -- submit / resume -----------------------------------------------------------------
def cmd_submit(args: argparse.Namespace) -> int:
    from operate.submit import submit

    return submit(args, _connect)


def cmd_resume(args: argparse.Namespace) -> int:
    from operate.submit import resume

    return resume(args, _connect, _step_list(args.rerun))
