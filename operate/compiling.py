"""`orch compile`, `orch validate` and `orch crds`: documents in, Argo Workflows,
diagnostics or CRDs out.

Machine output (Workflows, `validate -o json`, the CRDs) goes to stdout, notes for
a person and every diagnostic of `compile` to stderr. A file that cannot be read
is reported and the others are still read: the exit code is then 2, after every
problem of the readable files is shown.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from operate.errors import EXIT_INVALID, EXIT_OK, EXIT_USAGE, UsageError
from operate.reading import in_file_order, read_batch, report, write_out

if TYPE_CHECKING:
    from compiler.batch import Batch

def cmd_compile(args: argparse.Namespace) -> int:
    from compiler.render import json_list, json_text, to_yaml

    _check_service_account(args.service_account)
    render = json_text if args.output == "json" else (lambda wf: to_yaml([wf]))
    batch, unreadable = read_batch(args, render)
    report(in_file_order(batch.diagnostics))  # always lines on stderr; -o is the Workflows' format
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
        write_out(texts[0] if len(texts) == 1 else json_list(texts))
    else:
        write_out("---\n".join(texts))
    return EXIT_OK


def cmd_validate(args: argparse.Namespace) -> int:
    # Compiling finds what only the compiled form shows (size, settings Argo
    # cannot apply): validate refuses exactly what compile refuses.
    batch, unreadable = read_batch(args, None)
    report(in_file_order(batch.diagnostics), args.output)
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


def _check_service_account(name: str | None) -> None:
    """A ServiceAccount's name is an object name (IsDNS1123Subdomain)."""
    from orchapi.names import DNS_SUBDOMAIN_NAME, quote

    problem = DNS_SUBDOMAIN_NAME.problem(name) if name is not None else None
    if name is not None and problem:
        raise UsageError(f"--service-account {quote(name)} {problem}")


def cmd_crds(args: argparse.Namespace) -> int:
    """The CRDs generated from the models: YAML on stdout, or one file per CRD."""
    from pathlib import Path

    from compiler.crd import generate_crds
    from compiler.render import to_yaml

    if args.output_dir == "":
        raise UsageError("--output-dir needs a directory (omit it to write to stdout)")
    crds = generate_crds(args.max_steps)
    if args.output_dir is None:
        write_out(to_yaml(crds.values()))
        return EXIT_OK
    out = Path(args.output_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
        for name, crd in crds.items():
            (out / name).write_text(to_yaml([crd]), encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"{out}: cannot write: {exc.strerror or exc}") from None
    return EXIT_OK
