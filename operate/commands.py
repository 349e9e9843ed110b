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
import json
import sys
from typing import Any

from operate.errors import EXIT_CLUSTER, EXIT_OK, Refused
from operate.reading import step_list

# The cluster modules (the client: ssl, http.client) load inside each command, so
# registering these costs `orch compile` nothing.


# -- get / watch / list -------------------------------------------------------------
def cmd_get(args: argparse.Namespace) -> int:
    from operate.cluster import connect, gathered_view, get_run
    from operate.follow import unobserved_after

    client = connect(args)
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
    from operate.cluster import connect
    from operate.follow import watch

    return watch(connect(args), args.run, args.all)


def cmd_list(args: argparse.Namespace) -> int:
    from operate.cluster import connect
    from orchapi.api import GROUP, RUN_KIND, RUNS

    client = connect(args)
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
            sys.stdout.write(f"{RUN_KIND.lower()}.{GROUP}/{item['metadata']['name']}\n")
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
    from operate.cluster import connect
    from orchapi.api import RUNS

    for name in args.runs:  # every name checked before the first request (usage, exit 2)
        RUNS.path(None, name)
    client = connect(args)
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
    from operate.cluster import connect
    from operate.submit import submit

    return submit(args, connect)


def cmd_resume(args: argparse.Namespace) -> int:
    from operate.cluster import connect
    from operate.submit import resume

    return resume(args, connect, step_list(args.rerun))
