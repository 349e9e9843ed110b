"""Documents -> judged Orchestrations and runs, and what pairs them.

Each document is judged on its own (`judge`): a `kind: List` (what `kubectl get
-o yaml` writes) is unwrapped into its items, each judged with its path
`items[i]`. Across documents, an `Index` finds duplicates (two Orchestrations, or
two runs, of one namespace and name) and pairs each OrchestrationRun with its
Orchestration from the same input: a run's Orchestration is compiled for the
run, not on its own (contract §2, issue #2). The input's Tools (the reference
system's `Tool` documents) are what ToolRun steps of the same namespace run
(`ToolNotFound` otherwise).

`parse_text`/`parse_files` keep every model (plan, graph and tests, small
inputs); `compiler.batch` streams large inputs through the same judgement.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from compiler.diagnostics import ROOT, Collector, Diagnostic, FieldPath, Span
from compiler.gcpause import paused_gc
from compiler.source import Document, empty_file_message, iter_documents
from compiler.suborchestrations import check_sub_orchestration_cycles
from compiler.tools import Tool
from compiler.validate import check_document_kind, check_orchestration, check_run, check_tool
from orchapi.api import API_VERSION, MAX_STEPS, ORCHESTRATION_KIND, RUN_KIND, TOOL_KIND
from orchapi.models import Orchestration, OrchestrationRun
from orchapi.names import suggest
from orchapi.vocabulary import Reason

Key = tuple[str, str]  # (namespace, name)
NAME = FieldPath(("metadata", "name"))
REF = FieldPath(("spec", "orchestrationRef", "name"))
# The list kinds whose items are objects: kubectl's `kind: List`, and the typed
# lists the API server returns for our resources.
LIST_KINDS = {("v1", "List"), (API_VERSION, f"{ORCHESTRATION_KIND}List"),
              (API_VERSION, f"{RUN_KIND}List")}


def key(namespace: str | None, name: str | None) -> Key:
    return (namespace or "", name or "")


@dataclass(frozen=True, slots=True)
class Place:
    """Where a document names itself: `file:line` of its metadata.name."""

    file: str
    line: int | None

    def __str__(self) -> str:
        return f"{self.file}:{self.line}" if self.line else self.file


@dataclass
class Judged:
    """One object of the input after its own checks: its kind (when it is one of
    ours), its model (when valid), its name and its located diagnostics."""

    doc: Document
    kind: str | None
    model: Orchestration | OrchestrationRun | Tool | None
    key: Key | None
    place: Place
    diagnostics: list[Diagnostic]


def judge(doc: Document, strict: bool = False, max_steps: int = MAX_STEPS) -> Iterator[Judged]:
    """The document's objects: itself, or each item of a List (`strict`: unknown
    keys are errors). A document whose text already had an error (a duplicate
    key, a broken escape) yields no model: what it would compile is not what the
    user wrote."""
    broken = any(p.is_error for p in doc.problems)
    data = doc.data
    if isinstance(data, dict) and (data.get("apiVersion"), data.get("kind")) in LIST_KINDS:
        items = data.get("items")
        if not isinstance(items, list):
            yield Judged(doc, None, None, None, Place(doc.file, None), [doc.locate(Diagnostic(
                Reason.INVALID_FIELD, FieldPath(("items",)),
                f"a {data.get('kind')} needs items, a list of objects"))])
            return
        for i in range(len(items)):
            yield _judge_one(doc.item(i), broken, strict, max_steps)
        return
    yield _judge_one(doc, broken, strict, max_steps)


def _judge_one(doc: Document, broken: bool, strict: bool, max_steps: int) -> Judged:
    out = Collector()
    data = doc.data
    kind = check_document_kind(data, out)
    model: Orchestration | OrchestrationRun | Tool | None = None
    if kind == ORCHESTRATION_KIND:
        model = check_orchestration(data, out, strict=strict, max_steps=max_steps)
    elif kind == RUN_KIND:
        model = check_run(data, out, strict=strict)
    elif kind == TOOL_KIND:
        model = check_tool(data, out, strict=strict)
    if broken:
        model = None
    name_key = _name_key(data) if kind else None
    place = Place(doc.file, doc.span(NAME).line)
    return Judged(doc, kind, model, name_key, place, [doc.locate(d) for d in out.items])


def _name_key(data: dict[str, Any]) -> Key | None:
    meta = data.get("metadata")
    if not isinstance(meta, dict):
        return None
    name, namespace = meta.get("name"), meta.get("namespace")
    if not isinstance(name, str) or not name or not isinstance(namespace, str | None):
        return None
    return key(namespace, name)


def _where(k: Key) -> str:
    return f'"{k[1]}" (namespace "{k[0]}")' if k[0] else f'"{k[1]}"'


@dataclass
class Index:
    """Every named Orchestration and run of the input: where it stands and
    whether it is valid. Small per object, so a stream of any number of
    documents keeps only this."""

    orchestrations: dict[Key, tuple[Place, bool]] = field(default_factory=dict)
    runs: dict[Key, Place] = field(default_factory=dict)
    tools: dict[Key, Place] = field(default_factory=dict)

    def admit(self, judged: Judged, diagnostics: list[Diagnostic]) -> bool:
        """Take in one judged document: its diagnostics go to `diagnostics`, and
        so does a `DuplicateResource` (then False: the document goes no further)."""
        diagnostics.extend(judged.diagnostics)
        duplicate = self.add(judged)
        if duplicate is not None:
            diagnostics.append(duplicate)
        return duplicate is None

    def add(self, judged: Judged) -> Diagnostic | None:
        """Record `judged`; a `DuplicateResource` error when its kind, namespace
        and name were seen before (the earlier place is named)."""
        k = judged.key
        if k is None:
            return None
        if judged.kind == ORCHESTRATION_KIND:
            first = self.orchestrations.get(k)
            if first is None:
                self.orchestrations[k] = (judged.place, judged.model is not None)
                return None
            return self._duplicate(judged, first[0], "Orchestration", "")
        if judged.kind == TOOL_KIND:
            first_tool = self.tools.get(k)
            if first_tool is None:
                self.tools[k] = judged.place
                return None
            return self._duplicate(judged, first_tool, "Tool", "")
        first_run = self.runs.get(k)
        if first_run is None:
            self.runs[k] = judged.place
            return None
        return self._duplicate(judged, first_run, "OrchestrationRun",
                               "; both would create one Workflow")

    @staticmethod
    def _duplicate(judged: Judged, first: Place, kind: str, why: str) -> Diagnostic:
        assert judged.key is not None
        return judged.doc.locate(Diagnostic(
            Reason.DUPLICATE_RESOURCE, NAME,
            f"{kind} {_where(judged.key)} is defined twice: first at {first}{why}",
            hint="rename one, or remove one",
            names=(judged.key[1],),
        ))

    def find(self, run_doc: Document, run: OrchestrationRun) -> Key | Diagnostic:
        """The key of a run's Orchestration, or why it cannot be compiled: not in
        the input (naming it when only the namespace differs), or invalid."""
        k = key(run.metadata.namespace, run.spec.orchestration_ref.name)
        found = self.orchestrations.get(k)
        if found is not None:
            place, valid = found
            if valid:
                return k
            return run_doc.locate(Diagnostic(
                Reason.ORCHESTRATION_INVALID, REF,
                f"orchestration {_where(k)} is invalid; its problems are reported at {place}",
                names=(k[1],), hint="fix the Orchestration; this run uses it"))
        elsewhere = sorted((ns, str(p)) for (ns, name), (p, _) in self.orchestrations.items()
                           if name == k[1])
        if elsewhere:
            ns, other = elsewhere[0]
            there = f'in namespace "{ns}"' if ns else "without a namespace"
            message = (f'orchestration "{k[1]}" is not in the input '
                       + (f'in namespace "{k[0]}"' if k[0] else "without a namespace")
                       + f"; the input has it {there} ({other})")
            hint = "give the run and its Orchestration the same metadata.namespace"
        else:
            message = f"orchestration {_where(k)} is not in the input"
            names = sorted({name for _, name in self.orchestrations})
            near = suggest(k[1], names)
            hint = (f'did you mean "{near}"?' if near else
                    f"the input has {', '.join(names)}" if names else "add it to the input")
        return run_doc.locate(Diagnostic(
            Reason.ORCHESTRATION_NOT_FOUND, REF, message, names=(k[1],), hint=hint))


@dataclass
class Inputs:
    """Every valid model of the input, with its document (for small inputs)."""

    orchestrations: list[tuple[Document, Orchestration]] = field(default_factory=list)
    runs: list[tuple[Document, OrchestrationRun]] = field(default_factory=list)
    tools: list[tuple[Document, Tool]] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    documents: int = 0
    files: list[str] = field(default_factory=list)
    index: Index = field(default_factory=Index)

    @property
    def ok(self) -> bool:
        return not any(d.is_error for d in self.diagnostics)

    def keep(self, item: Judged | Diagnostic) -> None:
        """One item of `judge_text`: its diagnostic, or its model when it is valid
        and not a duplicate."""
        if isinstance(item, Diagnostic):
            self.diagnostics.append(item)
            return
        self.documents += 1
        if not self.index.admit(item, self.diagnostics):
            return
        if isinstance(item.model, Orchestration):
            self.orchestrations.append((item.doc, item.model))
        elif isinstance(item.model, OrchestrationRun):
            self.runs.append((item.doc, item.model))
        elif isinstance(item.model, Tool):
            self.tools.append((item.doc, item.model))

    def tools_in(self, namespace: str | None) -> dict[str, Tool]:
        """The input's Tools of one namespace, by name."""
        return tools_by_name((t for _, t in self.tools), namespace)


def tools_by_name(tools: Iterable[Tool], namespace: str | None) -> dict[str, Tool]:
    """The Tools of one namespace, by name (what a ToolRun step's toolRef names)."""
    return {t.metadata.name or "": t for t in tools
            if (t.metadata.namespace or "") == (namespace or "")}


def namespace_of(orchestration: Orchestration, run: OrchestrationRun | None) -> str | None:
    """Where the compiled Workflow runs (and its ToolRun steps' Tools live)."""
    return (run.metadata.namespace if run else None) or orchestration.metadata.namespace


def judge_text(text: str, file: str, strict: bool = False,
               max_steps: int = MAX_STEPS) -> Iterator[Judged | Diagnostic]:
    """Every object of one file, judged, and the file's own problems (syntax,
    aliases, no documents at all)."""
    empty = True
    for item in iter_documents(text, file):
        if isinstance(item, Diagnostic):
            empty = False
            yield item
            continue
        yield from item.problems
        if item.data is None:
            continue  # an empty document between `---` separators
        empty = False
        yield from judge(item, strict, max_steps)
    if empty:
        yield Diagnostic(Reason.INVALID_YAML, ROOT, empty_file_message(text), span=Span(file))


def parse_text(text: str, file: str, into: Inputs | None = None, strict: bool = False,
               max_steps: int = MAX_STEPS) -> Inputs:
    """Parse and validate every document of one file, keeping every model
    (`strict`: unknown keys are errors; `max_steps`: contract §8)."""
    inputs = into if into is not None else Inputs()
    inputs.files.append(file)
    with paused_gc():
        _parse_into(inputs, text, file, strict, max_steps)
    return inputs


def _parse_into(inputs: Inputs, text: str, file: str, strict: bool, max_steps: int) -> None:
    # A function of its own: its last document dies with its frame, before the
    # collector is resumed (alive, a 10,000-step document made that resumption a
    # full collection: 0.6 s instead of 0.36).
    for item in judge_text(text, file, strict, max_steps):
        inputs.keep(item)


def pair_runs(inputs: Inputs) -> list[tuple[Document, Orchestration, OrchestrationRun | None]]:
    """What to compile, in input order: each run with its Orchestration, and each
    Orchestration that no run in the input references (with the run's document,
    or the Orchestration's)."""
    inputs.diagnostics.extend(check_sub_orchestration_cycles(inputs.orchestrations))
    by_key = {key(o.metadata.namespace, o.metadata.name): (d, o) for d, o in inputs.orchestrations}
    used: set[Key] = set()
    files = {f: i for i, f in enumerate(inputs.files)}

    def _order(doc: Document) -> tuple[int, int, tuple[Any, ...]]:
        return files.get(doc.file, 0), doc.index, doc.prefix

    plan: list[tuple[tuple[int, int, tuple[Any, ...]], int, Document, Orchestration,
                     OrchestrationRun | None]] = []
    for doc, run in inputs.runs:
        found = inputs.index.find(doc, run)
        if isinstance(found, Diagnostic):
            inputs.diagnostics.append(found)
            continue
        used.add(found)
        plan.append((_order(doc), 1, doc, by_key[found][1], run))
    for doc, orch in inputs.orchestrations:
        if key(orch.metadata.namespace, orch.metadata.name) not in used:
            plan.append((_order(doc), 0, doc, orch, None))
    plan.sort(key=lambda p: (p[0], p[1]))
    return [(doc, orch, run) for _, _, doc, orch, run in plan]


def parse_files(texts: Iterable[tuple[str, str]], strict: bool = False) -> Inputs:
    inputs = Inputs()
    for file, text in texts:
        parse_text(text, file, inputs, strict)
    return inputs
