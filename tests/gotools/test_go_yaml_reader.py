"""What orch writes, Go reads back exactly: random Orchestrations whose names and
values come from a hostile alphabet (YAML 1.1 and 1.2 scalars, control
characters, Unicode line breaks, braces, dollars, quotes) are compiled, and the
output is read by `yamlread`: apimachinery's document splitter and
sigs.k8s.io/yaml's YAMLToJSON, the reader inside kubectl and Argo. Every
Workflow must come back equal to the dict the compiler emitted (every string
byte for byte), or the input must be refused with a reason. Many documents go
through one `yamlread` call, so thousands of Orchestrations take seconds.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from compiler.batch import Batch
from compiler.render import to_yaml
from compiler.source import Document, decode, iter_documents
from compiler.tools import PLACEHOLDER
from orchapi.vocabulary import Reason

MIN_READ_BACK = 2000  # Orchestrations compiled and read back by Go in one run

WORDS = [
    "y", "Y", "n", "N", "yes", "No", "ON", "off", "true", "False", "null", "~", "NULL",
    "0o17", "0O17", "+0o17", "0x1F", "+0X1f", "0B101", "0b-1", "1_000", "1_0e3", "1e3",
    ".5", "-.inf", ".NaN", "1:20", "190:20:30", "2001-12-14", "2001-1-2 1:2:3",
    "2001-12-14t21:59:43.10-05:00", "=", "<<", "---", "...", "-", "?", ":", "- x", "? x",
    ": x", "a: b", "a #b", "#x", "&a", "*a", "!t", "!!str", "%x", "@x", "`x`", "|", ">",
    "[x]", "{x}", "{{", "}}", "{{workflow.name}}", "{{=1+1}}", "$(HOME)", "$$", "$", "${x}",
    "'", '"', "\\", "\\n", "%", "", " ", "  x", "x  ",
]
CHARS = [
    *(chr(c) for c in range(0x20)), "\x7f", *(chr(c) for c in range(0x80, 0xA0)),
    "\u2028", "\u2029", "\ufeff", "\ufffe", "\uffff", "\u00a0", "\u3000", "\u200b",
    "é", "✓", "😀", "\U0010fffd",
]
LONE_SURROGATES = ["\ud800", "\udfff"]
LONE_SURROGATE = re.compile("[\ud800-\udfff]")
VALID_NAMES = ["y", "n", "Y", "N", "on", "Off", "yes", "NO", "a", "b-c", "x1", "step"]

hostile = st.lists(
    st.one_of(st.sampled_from(WORDS), st.sampled_from(CHARS), st.text(max_size=3)),
    max_size=4,
).map("".join)
# Keys Argo accepts as parameter names, many of them YAML non-strings.
PARAMETER_KEYS = [*VALID_NAMES, "true", "null", "0o17", "0x1F", "1_000", "1e3", "-", "--",
                  "2001-12-14", "0b-1", "_", "N-A"]


def mostly(valid: st.SearchStrategy[Any], odds: int = 12,
           other: st.SearchStrategy[Any] = hostile) -> st.SearchStrategy[Any]:
    """`valid` most of the time, else `other`: enough inputs compile to read
    thousands back, and the rest prove that a refusal gives its reason."""
    # Not integers(): Hypothesis favours their bounds, which would make `other`
    # far more frequent than 1 in `odds`.
    return st.sampled_from([False] * (odds - 1) + [True]).flatmap(
        lambda odd: other if odd else valid)


maybe_broken = mostly(hostile, 40, st.sampled_from(LONE_SURROGATES))
# Hostile text that is no `{{...}}` placeholder: a Tool's own text, rendered as is.
plain = hostile.filter(lambda text: not PLACEHOLDER.search(text))
key = mostly(st.sampled_from(PARAMETER_KEYS), 25)


@st.composite
def steps(draw: st.DrawFn) -> list[dict[str, Any]]:
    names = draw(st.lists(mostly(st.sampled_from(VALID_NAMES), odds=30),
                          min_size=1, max_size=4, unique=True))
    out: list[dict[str, Any]] = []
    for i, name in enumerate(names):
        kind = draw(st.sampled_from(
            ["Container", "AgentRun", "ToolRun", "Template", "Checkpoint", "SubOrchestration"]))
        step: dict[str, Any] = {"name": name, "kind": kind}
        if kind == "Container":
            step["image"] = draw(mostly(st.just("alpine:3.20")))
            step["command"] = draw(st.lists(maybe_broken, max_size=3))
            step["args"] = draw(st.lists(hostile, max_size=3))
            step["env"] = [{"name": n, "value": v} for n, v in draw(
                st.dictionaries(mostly(st.sampled_from(["A", "y", "N", "on", "ORCH_X"])),
                                hostile, max_size=3)).items()]
        elif kind == "AgentRun":
            step["agentRef"] = {"name": "agent"}
            step["implementationSpecRef"] = {"name": "impl"}
        elif kind == "ToolRun":
            step["toolRef"] = {"name": "tool"}
        elif kind == "Template":
            step["templateRef"] = {"name": "shared", "template": draw(mostly(st.just("echo")))}
        elif kind == "SubOrchestration":
            step["orchestrationRef"] = {"name": "child"}
        if kind != "Checkpoint" and draw(st.booleans()):
            step["with"] = draw(st.dictionaries(key, hostile, max_size=3))
        if i and draw(st.booleans()):
            step["dependsOn"] = draw(st.lists(st.sampled_from(names[:i]), max_size=2,
                                              unique=True))
        out.append(step)
    return out


@st.composite
def inputs(draw: st.DrawFn) -> bytes:
    """One input file: an Orchestration and maybe a run of it, written as YAML or
    as JSON (with or without `\\u` escapes, surrogate pairs included; two
    objects as a `v1` List, as kubectl prints them). A lone surrogate written
    raw is not UTF-8 (as a broken file would hold it)."""
    name = draw(mostly(st.sampled_from(["go-read", "y", "n", "on"]), odds=30))
    namespace = draw(mostly(st.sampled_from([None, "ns", "y", "on"]), odds=30))
    meta: dict[str, Any] = {"name": name}
    if namespace is not None:
        meta["namespace"] = namespace
    docs: list[dict[str, Any]] = [{
        "apiVersion": "orchestration.proompteng.ai/v1alpha1", "kind": "Orchestration",
        "metadata": meta, "spec": {"steps": draw(steps())},
    }]
    tool_steps = [s for s in docs[0]["spec"]["steps"] if s["kind"] == "ToolRun"]
    if tool_steps:
        # The Tool its ToolRun steps run, a parameter every one of them gives
        # rendered into its args (hostile values reach the container that way).
        given = set.intersection(*(set(s.get("with") or ()) for s in tool_steps))
        usable = sorted(k for k in given if "." not in k and "}" not in k and k.strip() == k)
        rendered = [f"-p={{{{parameters.{usable[0]}}}}}"] if usable else []
        docs.append({
            "apiVersion": "tools.proompteng.ai/v1alpha1", "kind": "Tool",
            "metadata": {**meta, "name": "tool"},
            "spec": {"image": "alpine:3.20", "command": draw(st.lists(plain, max_size=2)),
                     "args": ["-x", *rendered],
                     "env": [{"name": "E", "value": draw(plain)}]},
        })
    if draw(st.booleans()):
        docs.append({
            "apiVersion": "orchestration.proompteng.ai/v1alpha1", "kind": "OrchestrationRun",
            "metadata": {**meta, "name": draw(mostly(st.sampled_from(["run-1", "n"]), 30))},
            "spec": {"orchestrationRef": {"name": name},
                     "parameters": draw(st.dictionaries(key, maybe_broken, max_size=3))},
        })
    form = draw(st.sampled_from(["json-ascii", "json-utf8", "yaml"]))
    if form == "yaml":
        try:
            text = yaml.safe_dump_all(docs, allow_unicode=draw(st.booleans()), sort_keys=False)
            return text.encode()
        except (yaml.YAMLError, UnicodeError):
            form = "json-ascii"  # PyYAML writes no lone surrogate; JSON escapes it
    body: Any = docs[0] if len(docs) == 1 else {"apiVersion": "v1", "kind": "List",
                                                 "items": docs}
    text = json.dumps(body, ensure_ascii=form == "json-ascii")
    return text.encode("utf-8", "surrogatepass")


def go_read(yamlread: Path, stream: str) -> list[Any]:
    result = subprocess.run([str(yamlread)], input=stream.encode("utf-8"),
                            capture_output=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr.decode()
    # One JSON line per document: split at "\n" only (`splitlines` would also
    # cut at a raw NEL or U+2028 inside a string, which JSON may hold raw).
    return [json.loads(line) for line in result.stdout.decode().split("\n") if line]


def test_go_reads_back_every_string_orch_compiled(go_bin: Path) -> None:
    yamlread = go_bin / "yamlread"
    counts: Counter[str] = Counter()

    @settings(max_examples=200, deadline=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(st.lists(inputs(), min_size=16, max_size=16))
    def check(files: list[bytes]) -> None:
        emitted: list[Any] = []
        rendered: list[str] = []

        def render(workflow: dict[str, Any]) -> str:
            emitted.append(json.loads(json.dumps(workflow)))
            rendered.append(to_yaml([workflow]))
            return rendered[-1]

        for i, data in enumerate(files):
            before = len(emitted)
            batch = Batch(render)  # what `orch compile` does with one file
            text = decode(data, f"in{i}.yaml")
            if isinstance(text, str):
                batch.add_text(text, f"in{i}.yaml")
            else:
                batch.add_problem(text)
            batch.finish()
            if batch.ok:
                counts["read back"] += 1
                continue
            del emitted[before:], rendered[before:]  # refused: nothing of it is output
            counts["refused"] += 1
            errors = [d for d in batch.diagnostics if d.is_error]
            assert errors and all(isinstance(d.reason, Reason) and d.message and d.span
                                  for d in errors), batch.diagnostics
        stream = "---\n".join(rendered)
        assert go_read(yamlread, stream) == emitted
        assert list(yaml.safe_load_all(stream)) == emitted

    check()
    assert counts["read back"] >= MIN_READ_BACK, counts


def current_yamlread(go_bin: Path) -> Path:
    """`yamlread` as built from this checkout's source: the tool cache is shared, and
    a binary built from another checkout may predate `-file` (which an older
    yamlread ignores: it parses no flags). tools/build.sh stamps the binary with a
    hash of its source and go.sum; this is the same hash."""
    import hashlib

    tools = Path(__file__).resolve().parents[2] / "tools"
    digest = hashlib.sha256((tools / "yamlread" / "main.go").read_bytes()
                            + (tools / "go.sum").read_bytes()).hexdigest()[:16]
    if not (go_bin / f".yamlread-{digest}").exists():
        pytest.skip(f"{go_bin}/yamlread was built from another source than this checkout's "
                    "tools/yamlread (run tools/build.sh)")
    return go_bin / "yamlread"


def test_orch_reads_a_json_file_as_kubectl_does(go_bin: Path) -> None:
    """What orch reads from a JSON file is what `kubectl create -f` reads from it
    (`yamlread -file`: cli-runtime's StreamVisitor, whose decoder reads a text that
    starts with `{` as JSON): every hostile string, raw NEL, U+2028 and U+2029
    between spaces included (issue 21: orch read `"a \\u2028 b"` as YAML folds it,
    `"a\\u2028b"`). A lone surrogate is left out: orch refuses it (InvalidYAML)
    where Go's decoder writes U+FFFD instead."""
    yamlread = current_yamlread(go_bin)
    compared = Counter[str]()

    @settings(max_examples=50, deadline=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(st.lists(st.tuples(steps(), st.dictionaries(hostile, hostile, max_size=4),
                              st.booleans()), min_size=10, max_size=10))
    def check(files: list[tuple[list[dict[str, Any]], dict[str, str], bool]]) -> None:
        texts, docs = [], []
        for all_steps, parameters, ascii_ in files:
            doc = {"apiVersion": "orchestration.proompteng.ai/v1alpha1",
                   "kind": "Orchestration", "metadata": {"name": "o"},
                   "spec": {"steps": all_steps, "parameters": parameters}}
            text = json.dumps(doc, ensure_ascii=ascii_)
            if LONE_SURROGATE.search(json.dumps(doc, ensure_ascii=False)):
                continue
            read = [d.data for d in iter_documents(text, "f.json") if isinstance(d, Document)]
            assert read == [doc]
            texts.append(text)
            docs.append(doc)
        # Many files, one call: the JSON decoder reads one object after another.
        result = subprocess.run([str(yamlread), "-file"], input="\n".join(texts).encode(),
                                capture_output=True, timeout=60, check=False)
        assert result.returncode == 0, result.stderr.decode()
        kubectl = [json.loads(line) for line in result.stdout.decode().split("\n") if line]
        assert kubectl == docs
        compared["files"] += len(docs)

    check()
    assert compared["files"] >= 400, compared
