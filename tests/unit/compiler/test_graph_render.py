"""Mermaid and DOT output render in the standard tools.

DOT is parsed by Graphviz's own `dot` (Debian package `graphviz`; `.ci/run`
installs it) and read back as JSON, so every node name and edge must survive.
Mermaid is parsed by Mermaid's own parser (`mermaid.parse` under node with jsdom,
in tests/js/mermaid: `npm ci --prefix tests/js/mermaid`); a strict line grammar of
what `graph_mermaid` emits is checked too, with no tool needed. Without either tool
the test skips, and under CI=true fails (tests/support/ci_skips.py; .ci/run
installs both).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from compiler.present import graph_dot, graph_mermaid, mermaid_label
from orchapi.graph import Graph, Node
from orchapi.semantics import RunResult, plan

MERMAID_DIR = Path(__file__).resolve().parents[2] / "js" / "mermaid"

# Node names the validator would refuse, to prove the quoting does not rely on it.
AWKWARD = ('a"b', "end", "x;y", "<b>tag</b>", "#35;", "back\\slash", "graph",
           "spa ce", "ünï", "semi;colon-->arrow", "{curly}", "[sq]", "|pipe|")


def diamond() -> Graph:
    #   a
    #  / \
    # b*  c
    #  \ /
    #   d
    return Graph((Node("a", "Container", ()), Node("b", "AgentRun", ("a",), True),
                  Node("c", "ToolRun", ("a",)), Node("d", "Checkpoint", ("b", "c"))))


def awkward() -> Graph:
    # a chain through every awkward name: n0 -> n1 -> ...
    nodes = [Node(name, 'Kind"1', (AWKWARD[i - 1],) if i else (), i % 2 == 1)
             for i, name in enumerate(AWKWARD)]
    return Graph(tuple(nodes))


CASES: list[tuple[str, Graph, RunResult | None]] = [
    ("diamond", diamond(), None),
    ("diamond-planned", diamond(), plan(diamond(), {"c"})),
    ("diamond-ignored", diamond(), plan(diamond(), {"b"})),
    ("awkward", awkward(), None),
    ("awkward-planned", awkward(), plan(awkward(), {AWKWARD[3]}, {AWKWARD[7]})),
    ("single", Graph((Node("only", "Container", ()),)), None),
]
IDS = [c[0] for c in CASES]


# --- DOT -------------------------------------------------------------------------

def dot_json(text: str) -> dict[str, object]:
    done = subprocess.run(["dot", "-Tjson"], input=text, capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stderr == "", done.stderr  # no syntax warnings either
    parsed: dict[str, object] = json.loads(done.stdout)
    return parsed


@pytest.mark.skipif(shutil.which("dot") is None,
                    reason="Graphviz `dot` not installed (Debian package graphviz)")
@pytest.mark.parametrize(("name", "graph", "result"), CASES, ids=IDS)
def test_dot_parses_in_graphviz_with_every_node_and_edge(
    name: str, graph: Graph, result: RunResult | None
) -> None:
    parsed = dot_json(graph_dot(graph, result, title=f'title "{name}"'))
    objects = parsed.get("objects", [])
    assert isinstance(objects, list)
    # the text Graphviz draws in each box, line by line (after its own unescaping)
    drawn_lines = [[op["text"] for op in o["_ldraw_"] if op["op"] == "T"] for o in objects]
    names = [lines[0] for lines in drawn_lines]
    assert names == [n.name for n in graph.nodes]
    edges = parsed.get("edges", [])
    assert isinstance(edges, list)
    drawn = sorted((names[e["tail"]], names[e["head"]]) for e in edges)
    assert drawn == sorted((d, n.name) for n in graph.nodes for d in n.dependencies)
    if result is not None:
        for lines in drawn_lines:
            step = result.by_name[lines[0]]
            assert lines[-1] == (f"{step.phase}: {step.reason}" if step.reason
                                 else str(step.phase))


# --- Mermaid -----------------------------------------------------------------------

_ID = r"s\d+"
_LABEL = r'"(?:[^"<>]|<br/>)*"'
MERMAID_LINE = re.compile("|".join([
    rf"    {_ID}\[{_LABEL}\]",
    rf"    {_ID} (?:-->|-\.->) {_ID}",
    r"    classDef (?:pending|running|succeeded|failed|skipped) [a-z-]+:[^,;\s]+(?: [^,;\s]+)*"
    r"(?:,[a-z-]+:[^,;\s]+(?: [^,;\s]+)*)*",
    rf"    class {_ID}(?:,{_ID})* (?:pending|running|succeeded|failed|skipped)",
]))


@pytest.mark.parametrize(("name", "graph", "result"), CASES, ids=IDS)
def test_mermaid_follows_the_flowchart_grammar(
    name: str, graph: Graph, result: RunResult | None
) -> None:
    lines = graph_mermaid(graph, result).splitlines()
    assert lines[0] == "flowchart TD"
    for line in lines[1:]:
        assert MERMAID_LINE.fullmatch(line), line
    node_lines = [line for line in lines if "[" in line]
    edge_lines = [line for line in lines if "->" in line]
    assert len(node_lines) == len(graph.nodes)
    assert len(edge_lines) == graph.edge_count


def test_mermaid_label_escapes_markup_and_quotes() -> None:
    assert mermaid_label('a"b') == "a#34;b"
    assert mermaid_label("<x>;#") == "#60;x#62;#59;#35;"
    assert mermaid_label("build-1 (Container)") == "build-1 (Container)"


def _mermaid_parser() -> Path | None:
    if shutil.which("node") is None or not (MERMAID_DIR / "node_modules" / "mermaid").is_dir():
        return None
    return MERMAID_DIR / "check.mjs"


@pytest.mark.skipif(_mermaid_parser() is None,
                    reason="node or tests/js/mermaid/node_modules missing "
                           "(npm ci --prefix tests/js/mermaid)")
def test_mermaid_parses_with_mermaid_itself() -> None:
    texts = [graph_mermaid(graph, result) for _, graph, result in CASES]
    broken = 'flowchart TD\n    s0["a"b"]\n'  # proves the parser rejects bad input
    done = subprocess.run(["node", str(_mermaid_parser())], input=json.dumps([*texts, broken]),
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    verdicts = json.loads(done.stdout)
    assert verdicts[:-1] == [None] * len(texts), dict(zip(IDS, verdicts, strict=False))
    assert verdicts[-1] is not None
