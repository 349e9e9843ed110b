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
- descendants: a run carries its share of its root run's `maxDescendants`
  (annotation `orchestration.proompteng.ai/descendants`); one whose own child runs
  do not fit it is refused, and each child gets a share of what is left (below).
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

from compiler.suborchestrations import find_call_cycles
from controller.mapping import Lookup
from orchapi.api import (
    DEPTH_ANNOTATION,
    DESCENDANTS_ANNOTATION,
    MAX_STEPS,
    SUB_ORCHESTRATION,
    depth_of,
    whole_number,
)
from orchapi.names import DNS_SUBDOMAIN_NAME, quote
from orchapi.vocabulary import Reason, SubmitReason

DEFAULT_MAX_DEPTH = 8
DEFAULT_MAX_DESCENDANTS = 1000


@dataclass(frozen=True)
class InstallLimits:
    """What an install allows runs (contract §6)."""

    max_depth: int = DEFAULT_MAX_DEPTH
    allowed_kinds: frozenset[str] | None = None  # None: every kind
    max_steps: int = MAX_STEPS  # an Orchestration of more is Invalid (TooManySteps)
    max_descendants: int = DEFAULT_MAX_DESCENDANTS


def install_refusal(orchestration: Mapping[str, Any], run: Mapping[str, Any],
                    limits: InstallLimits,
            lookup: Lookup) -> tuple[str, str] | None:
    """Why the run may not be submitted (reason, message), or None: a chain of child
    runs too deep, a step kind the install does not allow, a cycle of
    SubOrchestration calls the run would enter (`lookup(namespace, name)`: an
    Orchestration of the cluster, as the cache holds it)."""
    too_deep = depth_refusal(run, limits.max_depth)
    if too_deep is not None:
        return SubmitReason.SUB_ORCHESTRATION_TOO_DEEP, too_deep
    too_many = descendants_refusal(run, orchestration, limits.max_descendants)
    if too_many is not None:
        return SubmitReason.TOO_MANY_DESCENDANTS, too_many
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
    return depth_of((run.get("metadata") or {}).get("annotations"))


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


# -- descendants (contract §6 maxDescendants; issue 22.5) ------------------------------
# Why a budget carried down, not a count: children are created by Argo (the
# SubOrchestration step's resource template), in parallel, reconciled by different
# workers, across restarts. A count of a root's descendants would race; a budget
# split at each submission needs no shared state. A run with budget `d` (its
# annotation; a root: `maxDescendants`) is submitted only if its own child runs fit
# (each attempt of each SubOrchestration step may create one), and gives each
# child a share of the rest, written on the child by the step (annotation
# `orchestration.proompteng.ai/descendants`). So a root's tree never holds more than
# `maxDescendants` runs below it, whatever the concurrency: exact as a bound, and
# conservative in that a subtree may be refused while another has budget left.


def run_budget(run: Mapping[str, Any], max_descendants: int) -> int | None:
    """How many runs the run may have below it: its annotation (never more than the
    install's `maxDescendants`), or `maxDescendants` for a root; None when the
    annotation is not a whole number."""
    value = ((run.get("metadata") or {}).get("annotations") or {}).get(DESCENDANTS_ANNOTATION)
    if value is None:
        return max_descendants
    budget = whole_number(value)
    return None if budget is None else min(budget, max_descendants)


@dataclass(frozen=True)
class ChildSlot:
    """A SubOrchestration step: the Orchestration it calls and how many child runs
    it may create (one per attempt: its retries + 1)."""

    step: str
    calls: str | None
    attempts: int


def child_slots(orchestration: Mapping[str, Any]) -> list[ChildSlot]:
    """The SubOrchestration steps of an Orchestration object, read leniently."""
    spec = orchestration.get("spec") or {}
    policies = spec.get("policies")
    retries = (policies or {}).get("retries") if isinstance(policies, Mapping) else None
    default = retries.get("limit") if isinstance(retries, Mapping) else None
    steps = spec.get("steps")
    out = []
    for step in steps if isinstance(steps, list) else ():
        if not isinstance(step, Mapping) or step.get("kind") != SUB_ORCHESTRATION:
            continue
        tries = step.get("retries", default)
        ref = step.get("orchestrationRef")
        name = ref.get("name") if isinstance(ref, Mapping) else ref
        out.append(ChildSlot(str(step.get("name")), name if isinstance(name, str) else None,
                             1 + (tries if isinstance(tries, int) and tries > 0 else 0)))
    return out


def descendant_need(orchestration: Mapping[str, Any], lookup: Callable[[str], Mapping[str, Any]
                    | None], cap: int) -> dict[str, int]:
    """Per SubOrchestration step, how many runs a child of it would have below it if
    every Orchestration stays as `lookup` gives it now (at most `cap`; a called
    Orchestration that does not exist: 0, its child is refused)."""
    memo: dict[str, int] = {}

    def need(name: str | None, path: frozenset[str]) -> int:
        if name is None or name in path:  # a cycle is refused before this is asked
            return 0
        if name not in memo:
            found = lookup(name)
            total = 0
            for slot in child_slots(found) if found is not None else ():
                total += slot.attempts * (1 + need(slot.calls, path | {name}))
                if total >= cap:
                    break
            memo[name] = min(total, cap)
        return memo[name]
    return {s.step: need(s.calls, frozenset()) for s in child_slots(orchestration)}


def share_budget(budget: int, slots: Sequence[ChildSlot], needs: Mapping[str, int]
                 ) -> dict[str, int] | None:
    """Each SubOrchestration step's budget for the runs below its child: max-min fair
    up to each child's need, then what is left max-min fair again (room for an
    Orchestration edited before the child is submitted). Every attempt's child gets
    the step's budget, so sum(attempts * (1 + budget)) <= `budget`. None when the
    children themselves do not fit."""
    spare = budget - sum(s.attempts for s in slots)
    if spare < 0:
        return None
    shares = {s.step: 0 for s in slots}
    caps = {s.step: needs.get(s.step, 0) for s in slots}
    for capped in (True, False):  # up to the needs, then beyond
        spare = _fill(spare, slots, shares, caps if capped else None)
    return shares


def _fill(spare: int, slots: Sequence[ChildSlot], shares: dict[str, int],
          caps: Mapping[str, int] | None) -> int:
    """Raise every share to one level (below its cap), as high as `spare` allows,
    then one more unit to the first steps that can take it; what is left."""
    open_ = [s for s in slots if caps is None or shares[s.step] < caps[s.step]]
    if not open_:
        return spare

    def cost(level: int) -> int:
        return sum(s.attempts * max(0, _capped(level, s, caps) - shares[s.step])
                   for s in open_)
    lo, hi = 0, spare + max(shares[s.step] for s in open_)
    while lo < hi:  # the highest level whose cost fits
        mid = (lo + hi + 1) // 2
        lo, hi = (mid, hi) if cost(mid) <= spare else (lo, mid - 1)
    spare -= cost(lo)
    for s in open_:
        shares[s.step] = max(shares[s.step], _capped(lo, s, caps))
    for s in open_:
        if s.attempts <= spare and (caps is None or shares[s.step] < caps[s.step]):
            shares[s.step] += 1
            spare -= s.attempts
    return spare


def _capped(level: int, slot: ChildSlot, caps: Mapping[str, int] | None) -> int:
    return level if caps is None else min(level, caps[slot.step])


def descendants_refusal(run: Mapping[str, Any], orchestration: Mapping[str, Any],
                        max_descendants: int) -> str | None:
    """Why the run may not run for its descendant budget, or None."""
    budget = run_budget(run, max_descendants)
    if budget is None:
        return (f"the annotation {DESCENDANTS_ANNOTATION} must be a whole number (orch "
                "writes it on child runs)")
    children = sum(s.attempts for s in child_slots(orchestration))
    if children <= budget:
        return None
    root = ((run.get("metadata") or {}).get("annotations") or {}).get(
        DESCENDANTS_ANNOTATION) is None
    whose = ("this install allows" if root else
             "its share of its root run's budget is")
    return (f"the run would create up to {children} child runs (its SubOrchestration steps, "
            f"each attempt counted); {whose} {budget} runs below it "
            f"(maxDescendants {max_descendants})")
