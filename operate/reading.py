"""What the file commands read and how they say what is wrong with it: the files
(one at a time, stdin as `-`), their documents through `compiler.batch` with every
problem `orch compile` finds, the flags that shape that judgement (`--max-steps`,
the pod policy, `--strict`, where Tools come from), and the diagnostics, printed as
one line each (contract §2.3).

Why a module of its own: `compile`, `validate`, `plan`, `graph` and `submit` read
their input the same way, so that each refuses exactly what `compile` refuses.
Heavy modules are imported inside the functions that need them: every command
starts in a fraction of a second.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from operate.errors import UsageError

if TYPE_CHECKING:
    from compiler.batch import Batch
    from compiler.diagnostics import Diagnostic
    from compiler.inputs import Inputs
    from compiler.pods import PodSettings

STDIN = "<stdin>"


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
    from compiler.inputs import Inputs

    inputs = Inputs()
    batch = new_batch(args, None, judge_tools=judge_tools)
    batch.keep = inputs  # each file judged once, for its models and its compiling
    for name, text in read_sources(paths):
        if isinstance(text, str):
            batch.add_text(text, name)
        else:
            batch.add_problem(text)
    batch.finish()
    inputs.diagnostics = batch.diagnostics
    return inputs


def max_steps(args: argparse.Namespace | None) -> int:
    """`--max-steps` where the command has it, else the default (contract §8)."""
    from orchapi.api import MAX_STEPS

    return getattr(args, "max_steps", None) or MAX_STEPS


def new_batch(args: argparse.Namespace | None,
               render: Callable[[dict[str, Any]], str] | None,
               judge_tools: bool = True) -> Batch:
    """A Batch with the command's settings: pods (compile), `--strict`, and the
    Tools' source (`--tools-from-cluster`, which `operate` adds to the commands)."""
    from compiler.batch import Batch
    from compiler.kinds.tool_run import ADD_TOOL

    # The commands with pod flags (compile, validate, plan) judge the pod policy.
    pods = pod_settings(args) if args is not None and hasattr(args, "pod_policy") else None
    batch = Batch(render, getattr(args, "service_account", None), pods,
                  bool(getattr(args, "strict", False)), max_steps(args),
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


def in_file_order(diagnostics: Sequence[Diagnostic]) -> list[Diagnostic]:
    return sorted(
        diagnostics,
        key=lambda d: (
            d.span.file if d.span else "",
            d.document,
            d.span.line or 0 if d.span else 0,
        ),
    )


def read_batch(args: argparse.Namespace, render: Callable[[dict[str, Any]], str] | None,
           ) -> tuple[Batch, int]:
    """Every file through `compiler.batch`, one at a time. A file that cannot be
    read is reported (one line) and the others are still read: the exit code
    is then 2, after every problem of the readable files is shown."""
    from compiler.source import decode

    batch = new_batch(args, render)
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


def write_out(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()


def step_list(values: Sequence[str] | None) -> list[str]:
    """`--fail a,b --fail c` -> [a, b, c] (repeatable, comma-separated)."""
    return [name.strip() for value in values or () for name in value.split(",") if name.strip()]


def pod_settings(args: argparse.Namespace) -> PodSettings:
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
