"""What `orch plan` and `orch graph` print, as pure text: a plan as a table or
JSON, a graph as Mermaid, Graphviz DOT or plain text. No I/O here; `cli.py`
writes the strings.

Every step and every edge is drawn; edges point from a dependency to the step
that waits for it. A best-effort step (`continueOnFailure`) has dashed outgoing
edges: its failure does not stop what follows it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from orchapi.graph import Graph
from orchapi.vocabulary import StepPhase

if TYPE_CHECKING:  # `orch graph` without a plan never loads the semantics
    from compiler.policies import Policies
    from orchapi.semantics import RunResult

_DASH = "-"


def plan_dict(result: RunResult, policies: Policies | None = None) -> dict[str, Any]:
    """`orch plan -o json`: `{"phase", "steps": [{"name", "phase", "reason"}]}`, and
    the run's `policies` when it has them (`deadlineSeconds`, `retries`)."""
    out: dict[str, Any] = {
        "phase": str(result.phase),
        "steps": [
            {"name": s.name, "phase": str(s.phase),
             "reason": str(s.reason) if s.reason is not None else None}
            for s in result.steps
        ],
    }
    if policies is not None and (policies.total_seconds or policies.retries is not None):
        out["policies"] = {k: v for k, v in (("deadlineSeconds", policies.total_seconds),
                                             ("retries", policies.retries)) if v is not None}
    return out


def policy_lines(policies: Policies | None) -> list[str]:
    """What spec.policies make of the run, for a person."""
    if policies is None:
        return []
    lines = []
    if policies.total_seconds is not None:
        lines.append(f"deadline: {policies.total_seconds}s (spec.policies.timeouts.totalSeconds; "
                     "see --timeout-during)")
    if policies.retries is not None:
        lines.append(f"retries: {policies.retries} for each step that sets none "
                     "(spec.policies.retries.limit)")
    return lines


def plan_table(title: str, result: RunResult, policies: Policies | None = None) -> str:
    """A table a person reads at a glance, then the run's outcome."""
    header = ("STEP", "PHASE", "REASON", "WHY")
    rows = [(s.name, str(s.phase), str(s.reason) if s.reason else _DASH, s.message)
            for s in result.steps]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(3)]
    lines = [f"{title}: {result.phase}", *policy_lines(policies)]
    for row in [header, *rows]:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        lines.append("  ".join([*cells, row[3]]).rstrip())
    condition = result.conditions[0]
    lines.append(f"run: {result.phase} [{condition.reason}] {condition.message}")
    return "\n".join(lines) + "\n"


# --- Mermaid -----------------------------------------------------------------

_MERMAID_CLASSES = {
    StepPhase.SUCCEEDED: "fill:#dcfce7,stroke:#15803d,color:#14532d",
    StepPhase.FAILED: "fill:#fee2e2,stroke:#b91c1c,color:#7f1d1d",
    StepPhase.SKIPPED: "fill:#f3f4f6,stroke:#9ca3af,color:#6b7280,stroke-dasharray:4 3",
    StepPhase.RUNNING: "fill:#dbeafe,stroke:#1d4ed8,color:#1e3a8a",
    StepPhase.PENDING: "fill:#ffffff,stroke:#6b7280,color:#111827",
}


def mermaid_label(text: str) -> str:
    """A Mermaid string label: `"` and the characters Mermaid reads as markup or
    entity starts are written as entity codes (`#quot;`, `#35;`...)."""
    out = []
    for ch in text:
        if ch.isalnum() or ch in " -_.,:()/":
            out.append(ch)
        else:
            out.append(f"#{ord(ch)};")
    return "".join(out)


def graph_mermaid(graph: Graph, result: RunResult | None = None) -> str:
    """`flowchart TD`; node ids are `s0`, `s1`... (declaration order), so no step
    name can collide with Mermaid's keywords (`end`, `graph`, ...)."""
    ids = {n.name: f"s{i}" for i, n in enumerate(graph.nodes)}
    lines = ["flowchart TD"]
    for node in graph.nodes:
        subtitle = _subtitle(node.kind, node.continue_on_failure)
        label = mermaid_label(node.name) + "<br/>" + mermaid_label(subtitle)
        if result is not None:
            label += "<br/>" + mermaid_label(_outcome(result, node.name))
        lines.append(f'    {ids[node.name]}["{label}"]')
    for node in graph.nodes:
        for dep in node.dependencies:
            arrow = "-.->" if graph.by_name[dep].continue_on_failure else "-->"
            lines.append(f"    {ids[dep]} {arrow} {ids[node.name]}")
    if result is not None:
        used = [p for p in StepPhase if any(s.phase is p for s in result.steps)]
        for phase in used:
            lines.append(f"    classDef {phase.lower()} {_MERMAID_CLASSES[phase]}")
        for phase in used:
            members = [ids[s.name] for s in result.steps if s.phase is phase]
            lines.append(f"    class {','.join(members)} {phase.lower()}")
    return "\n".join(lines) + "\n"


# Mermaid's defaults (config.schema.json maxEdges, maxTextSize), which a diagram
# cannot raise (both are `secure` keys, ignored in an init directive): past them a
# renderer shows an error instead of the graph.
MERMAID_MAX_EDGES = 500
MERMAID_MAX_TEXT = 50_000


def mermaid_limit_note(graph: Graph, text: str) -> str | None:
    """Why Mermaid will not draw `text` with its default settings, or None."""
    over = []
    if graph.edge_count > MERMAID_MAX_EDGES:
        over.append(f"{graph.edge_count:,} edges (maxEdges {MERMAID_MAX_EDGES})")
    if len(text) > MERMAID_MAX_TEXT:
        over.append(f"{len(text):,} characters (maxTextSize {MERMAID_MAX_TEXT:,})")
    if not over:
        return None
    return (f"{len(graph.nodes):,} steps: Mermaid draws this only when configured for "
            f"{' and '.join(over)}; --format dot or text has no such limit")


# --- Graphviz DOT ---------------------------------------------------------------

_DOT_COLORS = {
    StepPhase.SUCCEEDED: ("#dcfce7", "#15803d"),
    StepPhase.FAILED: ("#fee2e2", "#b91c1c"),
    StepPhase.SKIPPED: ("#f3f4f6", "#9ca3af"),
    StepPhase.RUNNING: ("#dbeafe", "#1d4ed8"),
    StepPhase.PENDING: ("#ffffff", "#6b7280"),
}


def dot_quote(text: str) -> str:
    """A DOT double-quoted label (an escString): `\\` and `"` escaped, a newline
    written as DOT's `\\n` line break. Node ids are `s0`, `s1`... so a step name
    only ever stands in a label."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def graph_dot(graph: Graph, result: RunResult | None = None, title: str = "orchestration") -> str:
    lines = [
        f"digraph {dot_quote(title)} {{",
        "    rankdir=TB;",
        '    node [shape=box, style="rounded,filled", fillcolor="#ffffff", fontname="Helvetica"];',
        '    edge [color="#4b5563"];',
    ]
    ids = {n.name: f"s{i}" for i, n in enumerate(graph.nodes)}
    for node in graph.nodes:
        parts = [node.name, _subtitle(node.kind, node.continue_on_failure)]
        attrs = []
        if result is not None:
            parts.append(_outcome(result, node.name))
            fill, stroke = _DOT_COLORS[result.by_name[node.name].phase]
            attrs = [f'fillcolor="{fill}"', f'color="{stroke}"']
            if result.by_name[node.name].phase is StepPhase.SKIPPED:
                attrs.append('style="rounded,filled,dashed"')
        attrs.insert(0, f"label={dot_quote(chr(10).join(parts))}")
        lines.append(f"    {ids[node.name]} [{', '.join(attrs)}];")
    for node in graph.nodes:
        for dep in node.dependencies:
            style = " [style=dashed]" if graph.by_name[dep].continue_on_failure else ""
            lines.append(f"    {ids[dep]} -> {ids[node.name]}{style};")
    lines.append("}")
    return "\n".join(lines) + "\n"


# --- plain text -------------------------------------------------------------------

def graph_text(graph: Graph, result: RunResult | None = None, title: str = "orchestration") -> str:
    """One line per step in declaration order: kind, what it waits for, and with a
    plan its phase and reason."""
    mode = "sequential" if graph.sequential else "DAG"
    lines = [f"{title}: {len(graph.nodes)} steps, {graph.edge_count} edges ({mode})"]
    width = max((len(n.name) for n in graph.nodes), default=0)
    kind_width = max((len(n.kind) for n in graph.nodes), default=0)
    afters = [f"after {', '.join(n.dependencies)}" if n.dependencies else "(root)"
              for n in graph.nodes]
    after_width = max((len(a) for a in afters), default=0)
    for node, after in zip(graph.nodes, afters, strict=True):
        best_effort = "continueOnFailure" if node.continue_on_failure else ""
        cells = [node.name.ljust(width), node.kind.ljust(kind_width), after.ljust(after_width),
                 best_effort.ljust(len("continueOnFailure") if result is not None else 0)]
        if result is not None:
            cells.append(f"=> {_outcome(result, node.name)}")
        lines.append(("  " + "  ".join(cells)).rstrip())
    return "\n".join(lines) + "\n"


def _subtitle(kind: str, continue_on_failure: bool) -> str:
    return f"{kind}, continueOnFailure" if continue_on_failure else kind


def _outcome(result: RunResult, name: str) -> str:
    step = result.by_name[name]
    return f"{step.phase}: {step.reason}" if step.reason else str(step.phase)
