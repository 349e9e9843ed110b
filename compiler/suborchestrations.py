"""SubOrchestration cycles: an Orchestration that calls itself, directly or
through others, would create child runs (and Workflows) until a quota stops it
(contract §2, `SubOrchestrationCycle`).

Why its own module: the rule is one pure function over "orchestration name ->
the names its SubOrchestration steps call", so the CLI applies it to the
Orchestrations of its input and the controller to those of a namespace, with
the same result. The depth limit of child runs is the controller's.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from compiler.diagnostics import Diagnostic, FieldPath
from compiler.source import Document
from compiler.step_fields import reader_of, ref_of
from orchapi.api import SUB_ORCHESTRATION
from orchapi.graph import find_cycles
from orchapi.models import Orchestration
from orchapi.vocabulary import Reason


def find_call_cycles(calls: Mapping[str, Sequence[str]]) -> list[list[str]]:
    """Each cycle of calls as a path `[a, b, a]` (`a` calls `b`, which calls `a`);
    a self call is `[a, a]`. One per strongly connected component, in the order
    of `calls`; names that `calls` does not hold are outside (not a cycle)."""
    selves = [[name, name] for name, called in calls.items() if name in called]
    cycles = selves + find_cycles(calls)
    order = {name: i for i, name in enumerate(calls)}
    return sorted(cycles, key=lambda path: order[path[0]])


def calls_of(orchestration: Orchestration) -> list[str]:
    """The Orchestrations its SubOrchestration steps call, in step order."""
    names = (ref_of(s, "orchestrationRef") for s in orchestration.spec.steps
             if s.kind == SUB_ORCHESTRATION)
    return [n for n in names if n is not None]


def check_sub_orchestration_cycles(
    orchestrations: Iterable[tuple[Document, Orchestration]],
) -> list[Diagnostic]:
    """One `SubOrchestrationCycle` per cycle among the given Orchestrations (a
    child run is created in its parent's namespace, so calls stay within one),
    at the step of the cycle's first Orchestration that calls the next."""
    by_namespace: dict[str, dict[str, tuple[Document, Orchestration]]] = {}
    for doc, orch in orchestrations:
        by_namespace.setdefault(orch.metadata.namespace or "", {}).setdefault(
            orch.metadata.name or "", (doc, orch))
    found: list[Diagnostic] = []
    for members in by_namespace.values():
        calls = {name: calls_of(orch) for name, (_, orch) in members.items()}
        for cycle in find_call_cycles(calls):
            doc, orch = members[cycle[0]]
            index = next(i for i, s in enumerate(orch.spec.steps) if s.kind == SUB_ORCHESTRATION
                         and ref_of(s, "orchestrationRef") == cycle[1])
            reader = reader_of(orch.spec.steps[index])
            reader.ref("orchestrationRef", typed=True)
            message = ("SubOrchestration cycle: " + " -> ".join(cycle)
                       + " would create child runs without end")
            found.append(doc.locate(Diagnostic(
                Reason.SUB_ORCHESTRATION_CYCLE,
                FieldPath(("spec", "steps", index, *reader.where["orchestrationRef"])),
                message, names=tuple(cycle[:-1]),
                hint="break the cycle: an Orchestration may not run itself as a step")))
    return found
