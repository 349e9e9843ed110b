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
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from compiler.api import DEPTH_ANNOTATION
from compiler.suborchestrations import SUB_ORCHESTRATION, find_call_cycles

DEFAULT_MAX_DEPTH = 8


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


def reachable_cycle(start: str, calls: Mapping[str, Sequence[str]]) -> list[str] | None:
    """A cycle of calls that a run of `start` would enter, as a path `[a, b, a]`
    (`start` first when it is on the cycle); None when every chain ends."""
    seen, order = {start}, [start]
    for name in order:  # breadth first; `order` grows as it is walked
        for called in calls.get(name, ()):
            if called in calls and called not in seen:
                seen.add(called)
                order.append(called)
    reachable = {name: [c for c in calls.get(name, ()) if c in seen] for name in order}
    cycles = find_call_cycles(reachable)
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
