"""Why a run is refused before its Workflow exists, beyond the compiler's own
diagnostics (contract §2, §4, §6), as pure functions of what the controller's
caches hold:

- `SubOrchestrationCycle`: the run's Orchestration reaches a cycle of
  SubOrchestration calls through the Orchestrations of its namespace (a child run
  is created in its parent's namespace). The rule is the compiler's
  (`compiler.suborchestrations.find_call_cycles`), applied to the cluster's
  Orchestrations as `orch validate` applies it to its input; a cycle the run can
  reach counts, since it would create child runs without end.
- depth: a child run carries its place in a chain of SubOrchestration runs
  (annotation `orchestration.proompteng.ai/depth`, written by its parent's step);
  past `maxSubOrchestrationDepth` it is refused.
- allowed kinds: an install may allow only some step kinds
  (`allowedStepKinds`); a run of an Orchestration using another is refused.
- references: what the run names (`orchestrationRef`, `resumeFrom`) must be a
  Kubernetes object name before anything is read with it (contract §6): `.` would
  read the list of the namespace, `victim/release` a subresource.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from compiler.api import DEPTH_ANNOTATION
from compiler.diagnostics import Reason
from compiler.names import DNS_SUBDOMAIN_NAME, quote
from compiler.suborchestrations import SUB_ORCHESTRATION, find_call_cycles
from compiler.vocabulary import SubmitReason

DEFAULT_MAX_DEPTH = 8
Lookup = Callable[[str, str], Mapping[str, Any] | None]


@dataclass(frozen=True)
class Limits:
    """What an install allows runs (contract §6)."""

    max_depth: int = DEFAULT_MAX_DEPTH
    allowed_kinds: frozenset[str] | None = None  # None: every kind


def refusal(orchestration: Mapping[str, Any], run: Mapping[str, Any], limits: Limits,
            lookup: Lookup) -> tuple[str, str] | None:
    """Why the run may not be submitted (reason, message), or None: a chain of child
    runs too deep, a step kind the install does not allow, a cycle of
    SubOrchestration calls the run would enter (`lookup(namespace, name)`: an
    Orchestration of the cluster, as the cache holds it)."""
    too_deep = depth_refusal(run, limits.max_depth)
    if too_deep is not None:
        return SubmitReason.SUB_ORCHESTRATION_TOO_DEEP, too_deep
    found = disallowed_kinds(orchestration, limits.allowed_kinds)
    if found and limits.allowed_kinds is not None:
        return SubmitReason.STEP_KIND_NOT_ALLOWED, kinds_message(found, limits.allowed_kinds)
    meta = orchestration.get("metadata") or {}
    namespace, name = str(meta.get("namespace") or ""), str(meta.get("name") or "")

    def calls(other: str) -> list[str] | None:
        obj = orchestration if other == name else lookup(namespace, other)
        return calls_of_object(obj) if obj is not None else None

    cycle = reachable_cycle(name, calls)
    if cycle is not None:
        return str(Reason.SUB_ORCHESTRATION_CYCLE), cycle_message(cycle)
    return None


def calls_of_object(orchestration: Mapping[str, Any]) -> list[str]:
    """The Orchestrations an Orchestration object's SubOrchestration steps call,
    read leniently (an invalid Orchestration still calls what it names)."""
    steps = (orchestration.get("spec") or {}).get("steps")
    called = []
    for step in steps if isinstance(steps, list) else ():
        if not isinstance(step, Mapping) or step.get("kind") != SUB_ORCHESTRATION:
            continue
        ref = step.get("orchestrationRef")
        name = ref.get("name") if isinstance(ref, Mapping) else ref
        if isinstance(name, str) and name:
            called.append(name)
    return called


def reachable_cycle(start: str, calls_of: Callable[[str], Sequence[str] | None]
                    ) -> list[str] | None:
    """A cycle of calls that a run of `start` would enter, as a path `[a, b, a]`
    (`start` first when it is on the cycle); None when every chain ends.
    `calls_of(name)` is what an Orchestration of the namespace calls (None: there
    is no such Orchestration); only the Orchestrations reached are read."""
    reached: dict[str, list[str]] = {}
    todo = deque([start])
    while todo:
        name = todo.popleft()
        if name in reached:
            continue
        called = calls_of(name)
        if called is None:
            continue
        reached[name] = list(called)
        todo.extend(c for c in called if c not in reached)
    cycles = find_call_cycles({n: [c for c in cs if c in reached] for n, cs in reached.items()})
    return cycles[0] if cycles else None


def namespace_calls(orchestrations: Iterable[Mapping[str, Any]]) -> dict[str, list[str]]:
    """name -> what it calls, for the Orchestrations of one namespace."""
    return {str((o.get("metadata") or {}).get("name")): calls_of_object(o)
            for o in orchestrations if (o.get("metadata") or {}).get("name")}


def cycle_message(cycle: Sequence[str]) -> str:
    return ("SubOrchestration cycle: " + " -> ".join(cycle)
            + " would create child runs without end")


def run_depth(run: Mapping[str, Any]) -> int | None:
    """The run's depth (0 for a run a person created); None when the annotation
    is not a whole number."""
    value = ((run.get("metadata") or {}).get("annotations") or {}).get(DEPTH_ANNOTATION)
    if value is None:
        return 0
    if not isinstance(value, str) or not value.isascii() or not value.isdigit() \
            or len(value) > 9:
        return None
    return int(value)


def depth_refusal(run: Mapping[str, Any], max_depth: int) -> str | None:
    """Why the run may not run for its depth, or None."""
    depth = run_depth(run)
    if depth is None:
        return (f"the annotation {DEPTH_ANNOTATION} must be a whole number (orch writes it "
                "on child runs)")
    if depth > max_depth:
        return (f"the run is at depth {depth} of a chain of SubOrchestration runs; this "
                f"install allows at most {max_depth} (maxSubOrchestrationDepth)")
    return None


def disallowed_kinds(orchestration: Mapping[str, Any],
                     allowed: frozenset[str] | None) -> list[tuple[str, str]]:
    """(step, kind) of each step whose kind the install does not allow (None:
    every kind is allowed)."""
    if allowed is None:
        return []
    steps = (orchestration.get("spec") or {}).get("steps")
    return [(str(s.get("name")), str(s.get("kind")))
            for s in (steps if isinstance(steps, list) else ())
            if isinstance(s, Mapping) and s.get("kind") not in allowed]


def kinds_message(found: Sequence[tuple[str, str]], allowed: frozenset[str]) -> str:
    shown = ", ".join(f'"{step}" ({kind})' for step, kind in found[:5])
    more = f" and {len(found) - 5} more" if len(found) > 5 else ""
    return (f"this install allows only {', '.join(sorted(allowed))} steps "
            f"(allowedStepKinds); the Orchestration has {shown}{more}")


def run_references(run: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """(path, value) of each object name the run refers to."""
    spec = run.get("spec") or {}
    ref = spec.get("orchestrationRef")
    out = [("spec.orchestrationRef.name", ref.get("name") if isinstance(ref, Mapping) else ref)]
    resume = spec.get("resumeFrom")
    if resume is not None:
        out.append(("spec.resumeFrom.name",
                    resume.get("name") if isinstance(resume, Mapping) else resume))
    return out


def name_problem(path: str, value: Any) -> str | None:
    """Why `value` at `path` cannot name a Kubernetes object, or None."""
    if not isinstance(value, str):
        return f"{path} must be a Kubernetes object name, not {type(value).__name__}"
    problem = DNS_SUBDOMAIN_NAME.problem(value)
    return f"{path} {quote(value)} {problem}" if problem else None


def reference_refusal(run: Mapping[str, Any]) -> tuple[str, str] | None:
    """(InvalidField, why) when a reference of the run is not an object name: a
    terminal refusal, decided before any request is made with it."""
    for path, value in run_references(run):
        problem = name_problem(path, value)
        if problem is not None:
            return str(Reason.INVALID_FIELD), problem
    return None

