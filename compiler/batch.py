"""`orch compile` and `orch validate` over inputs of any size, in the memory of
one document at a time.

Why a module of its own: holding every document's data, node tree and model
made a 50 MB file of 270,000 documents take 4 GB. Here each document is judged
and dropped as it is read. An Orchestration is compiled on its own at once (its
Workflow kept only as rendered text when one is wanted); what survives the
document is its name and where it stands in the text (`Entry`). A run is paired
with its Orchestration once the whole input is read (either may come first):
both are then parsed again from their place in the text, which is kept. The
input's Tools are kept as models (they are small); an Orchestration with a
ToolRun step is compiled at the end, when every Tool of the input is known. An
invalid Orchestration is compiled at the end too, salvaged (`compiler.salvage`),
for the problems only compiling finds, and so is an invalid run with its
Orchestration: every problem of every document at once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from compiler.diagnostics import Collector, Diagnostic, Span
from compiler.emit import EmitSettings
from compiler.emit_run import emit_run
from compiler.gcpause import paused_gc
from compiler.inputs import (
    Index,
    Inputs,
    Judged,
    Key,
    judge,
    judge_text,
    key,
    namespace_of,
    tools_by_name,
)
from compiler.pods import DEFAULT_PODS, PodSettings
from compiler.salvage import compile_problems, salvage, salvage_run
from compiler.source import Document, Origin, normalize, reparse
from compiler.suborchestrations import (
    calls_of,
    check_sub_orchestration_cycles,
    find_call_cycles,
)
from compiler.tools import Tool, ToolSource
from compiler.validate import check_tool
from orchapi.api import MAX_STEPS, ORCHESTRATION_KIND, RUN_KIND, TOOL_RUN
from orchapi.models import Orchestration, OrchestrationRun

Render = Callable[[dict[str, Any]], str]
Order = tuple[int, int, tuple[Any, ...], int]


@dataclass(frozen=True, slots=True)
class Entry:
    """A valid Orchestration or run, without its data: where to read it again."""

    file_no: int
    index: int
    prefix: tuple[Any, ...]
    origin: Origin

    @property
    def order(self) -> tuple[int, int, tuple[Any, ...]]:
        return self.file_no, self.index, self.prefix


@dataclass
class Unit:
    """One run's Workflows (several when it is split, contract §8): its place in the
    output order, its problems, their texts."""

    order: Order
    diagnostics: list[Diagnostic]
    texts: tuple[str, ...] = ()


@dataclass
class Batch:
    """The result of compiling (or validating) every file of the input."""

    render: Render | None = None
    service_account: str | None = None
    pods: PodSettings | None = None
    strict: bool = False
    max_steps: int = MAX_STEPS
    diagnostics: list[Diagnostic] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # for a person, not problems
    documents: int = 0
    index: Index = field(default_factory=Index)
    texts: list[tuple[str, str]] = field(default_factory=list)  # (file, text) by file_no
    alone: dict[Key, Unit] = field(default_factory=dict)
    orchestrations: dict[Key, Entry] = field(default_factory=dict)
    runs: list[Entry] = field(default_factory=list)
    # The runs among them with errors of their own (by order): compiled salvaged
    # (`compiler.salvage.salvage_run`), for the problems only pairing finds.
    invalid_runs: set[tuple[int, int, tuple[Any, ...]]] = field(default_factory=set)
    units: list[Unit] = field(default_factory=list)
    # namespace -> name -> the Orchestrations its SubOrchestration steps call
    calls: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    tools: dict[Key, Tool] = field(default_factory=dict)
    # Orchestrations with a ToolRun step, compiled once every Tool is read
    later: dict[Key, Entry] = field(default_factory=dict)
    # Invalid Orchestrations, compiled salvaged at the end (with their runs)
    invalid: dict[Key, Entry] = field(default_factory=dict)
    # namespace -> the Tools ToolRun steps name there (read from `tool_source`
    # before compiling, when the input lacks them)
    wanted_tools: dict[str, set[str]] = field(default_factory=dict)
    tool_source: ToolSource | None = None
    # False: ToolRun steps are compiled without judging their Tools (`orch submit`:
    # the controller reads them from the cluster at submission)
    judge_tools: bool = True
    tools_hint: str | None = None  # what ToolNotFound tells to do (default: add it)
    # Where every judged object is also kept (`Inputs.keep`), for the commands that
    # need the models besides what compiling finds (plan, graph, submit): the file
    # is read and judged once for both.
    keep: Inputs | None = None

    @property
    def ok(self) -> bool:
        return not any(d.is_error for d in self.diagnostics)

    def add_text(self, text: str, file: str) -> None:
        """Judge every document of one file, compiling each valid Orchestration."""
        file_no = len(self.texts)
        text = normalize(text)  # the text the origins of its documents point into
        self.texts.append((file, text))
        if self.keep is not None:
            self.keep.files.append(file)
        with paused_gc():
            self._judge(text, file, file_no)

    def _judge(self, text: str, file: str, file_no: int) -> None:
        # Its own frame: the last document dies before the collector resumes.
        for item in judge_text(text, file, self.strict, self.max_steps):
            if self.keep is not None:
                self.keep.keep(item)
            if isinstance(item, Diagnostic):
                self.diagnostics.append(item)
            else:
                self._add(item, file_no)

    def add_problem(self, diagnostic: Diagnostic) -> None:
        self.diagnostics.append(diagnostic)

    def _add(self, judged: Judged, file_no: int) -> None:
        self.documents += 1
        if not self.index.admit(judged, self.diagnostics):
            return
        doc, model = judged.doc, judged.model
        if model is None and judged.kind == ORCHESTRATION_KIND and judged.key is not None:
            self._add_invalid(judged, file_no)
            return
        if model is None and judged.kind == RUN_KIND and doc.origin is not None \
                and not any(p.is_error for p in doc.problems):
            entry = Entry(file_no, doc.index, doc.prefix, doc.origin)
            self.runs.append(entry)
            self.invalid_runs.add(entry.order)
            return
        if model is None or judged.key is None:
            return
        if isinstance(model, Tool):
            self.tools[judged.key] = model
            return
        assert doc.origin is not None
        entry = Entry(file_no, doc.index, doc.prefix, doc.origin)
        if isinstance(model, Orchestration):
            self.orchestrations[judged.key] = entry
            self._want_tools(judged.key[0], model)
            called = calls_of(model)
            if called:
                self.calls.setdefault(judged.key[0], {})[judged.key[1]] = called
            if any(step.kind == TOOL_RUN for step in model.spec.steps):
                self.later[judged.key] = entry  # its Tool may come later in the input
                return
            unit = self._compile(doc, model, None, (*entry.order, 0))
            if unit.diagnostics or unit.texts:  # validate keeps only problems
                self.alone[judged.key] = unit
        else:
            self.runs.append(entry)

    def _add_invalid(self, judged: Judged, file_no: int) -> None:
        """An Orchestration with errors: kept to be compiled salvaged at the end,
        and its SubOrchestration calls counted (a cycle through it is a problem
        of its own)."""
        doc = judged.doc
        assert judged.key is not None and doc.origin is not None
        self.invalid[judged.key] = Entry(file_no, doc.index, doc.prefix, doc.origin)
        salvaged = salvage(doc.data)
        if salvaged is None:
            return
        self._want_tools(judged.key[0], salvaged)
        called = calls_of(salvaged)
        if called:
            self.calls.setdefault(judged.key[0], {})[judged.key[1]] = called

    def _want_tools(self, namespace: str, model: Orchestration) -> None:
        names = {s.tool_ref.name for s in model.spec.steps
                 if s.kind == TOOL_RUN and s.tool_ref is not None}
        if names:
            self.wanted_tools.setdefault(namespace, set()).update(names)

    def _fetch_tools(self) -> None:
        """The Tools the input lacks, from `tool_source`, judged as the input's
        are (the controller judges the cluster's the same way)."""
        if self.tool_source is None:
            return
        for namespace, names in sorted(self.wanted_tools.items()):
            missing = sorted(n for n in names if (namespace, n) not in self.tools)
            if not missing:
                continue
            for name, obj in sorted(self.tool_source.fetch(namespace, missing).items()):
                out = Collector()
                tool = check_tool(_user_document(obj), out)
                where = Span(f'Tool "{name}" ({self.tool_source.where(namespace)})')
                self.diagnostics.extend(d.located(where, 0) for d in out.items)
                if tool is not None:
                    self.tools[(namespace, name)] = tool

    def _compile(self, doc: Document, orch: Orchestration, run: OrchestrationRun | None,
                 order: Order, run_doc: Document | None = None,
                 salvaged: bool = False) -> Unit:
        """One run's Workflows. Its problems stand where their path does: a step's in
        the Orchestration, anything else of a run's Workflow (its parameters, its
        size) in the run. `salvaged`: `orch` is an invalid Orchestration's usable
        part; only its problems are kept, never its Workflows."""
        out = Collector()
        namespace = namespace_of(orch, run) or ""
        tools = tools_by_name((t for (ns, _), t in self.tools.items() if ns == namespace),
                              namespace) if self.judge_tools else None
        where = f"in the input nor {self.tool_source.where(namespace)}" \
            if self.tool_source is not None else "in the input"
        compiled = emit_run(orch, run, out, EmitSettings(
            service_account=self.service_account,
            pods=self.pods if self.pods is not None else DEFAULT_PODS, tools=tools,
            tools_where=where, tools_hint=self.tools_hint))
        found = compile_problems(out.items) if salvaged else out.items
        diagnostics = [(doc if run_doc is None or d.path.parts[:2] == ("spec", "steps")
                        else run_doc).locate(d) for d in found]
        failed = salvaged or any(d.is_error for d in diagnostics)
        if not self.render or failed:
            return Unit(order, diagnostics)
        if compiled.plan is not None:
            what = f'run "{run.metadata.name}"' if run else \
                f'Orchestration "{orch.metadata.name}"'
            self.notes.append(
                f"{doc.file}: {what}: {len(compiled.graph.nodes)} steps split into "
                f"{len(compiled.plan.parts)} DAGs in {len(compiled.workflows)} Workflow(s) "
                f"with {compiled.plan.gates} gates; the gates are released by the orch "
                "controller, so these Workflows run only under it (docs/scale.md)")
        return Unit(order, diagnostics, tuple(self.render(w) for w in compiled.workflows))

    def _compile_salvaged(self, entry: Entry, run: OrchestrationRun | None, order: Order,
                          run_doc: Document | None = None) -> Unit | None:
        doc = self._reread(entry)
        model = salvage(doc.data)
        if model is None:
            return None
        return self._compile(doc, model, run, order, run_doc, salvaged=True)

    def _reread(self, entry: Entry) -> Document:
        """The entry's document (or List item) parsed again from the kept text."""
        file, text = self.texts[entry.file_no]
        doc = reparse(text, file, entry.index, entry.origin)
        assert doc is not None, "a document that parsed once parses again"
        return doc.item(entry.prefix[-1]) if entry.prefix else doc  # ("items", i): no nesting

    def _cycles(self) -> list[Diagnostic]:
        """SubOrchestration cycles among the input's Orchestrations, from their
        calls alone; only the members of a cycle are parsed again, to be named."""
        members: list[tuple[tuple[int, int, tuple[Any, ...]], Document, Orchestration]] = []
        for namespace, calls in self.calls.items():
            for name in dict.fromkeys(n for cycle in find_call_cycles(calls) for n in cycle):
                entry = self.orchestrations.get((namespace, name)) \
                    or self.invalid[(namespace, name)]
                doc = self._reread(entry)
                (judged,) = judge(doc, self.strict, self.max_steps)
                model = judged.model if judged.model is not None else salvage(doc.data)
                assert isinstance(model, Orchestration)
                members.append((entry.order, doc, model))
        members.sort(key=lambda m: m[0])  # input order, as the keep-everything path has it
        return check_sub_orchestration_cycles((doc, orch) for _, doc, orch in members)

    def finish(self) -> list[Unit]:
        """Pair the runs with their Orchestrations; every Workflow in input order
        (each run with its Orchestration, then each Orchestration no run uses)."""
        used: set[Key] = set()
        with paused_gc():
            self._fetch_tools()
            self.diagnostics.extend(self._cycles())
            for entry in self.runs:
                run_doc = self._reread(entry)
                invalid = entry.order in self.invalid_runs
                if invalid:  # its own problems are reported; these are the pairing's
                    run = salvage_run(run_doc.data)
                    if run is None:
                        continue
                else:
                    (judged,) = judge(run_doc, self.strict, self.max_steps)
                    assert isinstance(judged.model, OrchestrationRun)
                    run = judged.model
                found = self.index.find(run_doc, run)
                if isinstance(found, Diagnostic):
                    self.diagnostics.append(found)
                    wanted = key(run.metadata.namespace, run.spec.orchestration_ref.name)
                    if wanted in self.invalid:  # the run's own problems still count
                        used.add(wanted)
                        unit = self._compile_salvaged(self.invalid[wanted], run,
                                                      (*entry.order, 1), run_doc)
                        if unit is not None:
                            self.units.append(unit)
                    continue
                used.add(found)
                orch_doc = self._reread(self.orchestrations[found])
                (orch_judged,) = judge(orch_doc, self.strict, self.max_steps)
                assert isinstance(orch_judged.model, Orchestration)
                self.units.append(self._compile(orch_doc, orch_judged.model, run,
                                                (*entry.order, 1), run_doc, salvaged=invalid))
            for k, entry in self.later.items():
                if k not in used:
                    orch_doc = self._reread(entry)
                    (orch_judged,) = judge(orch_doc, self.strict, self.max_steps)
                    assert isinstance(orch_judged.model, Orchestration)
                    unit = self._compile(orch_doc, orch_judged.model, None, (*entry.order, 0))
                    if unit.diagnostics or unit.texts:
                        self.alone[k] = unit
            for k, entry in self.invalid.items():
                if k not in used:
                    unit = self._compile_salvaged(entry, None, (*entry.order, 0))
                    if unit is not None:
                        self.alone[k] = unit
        self.units += [unit for k, unit in self.alone.items() if k not in used]
        self.units.sort(key=lambda u: u.order)
        for unit in self.units:
            self.diagnostics.extend(unit.diagnostics)
        return self.units


def _user_document(obj: dict[str, Any]) -> dict[str, Any]:
    """A Tool as the apiserver returns it, cut to what its author wrote (the
    server's metadata and the status are not judged)."""
    meta = obj.get("metadata") or {}
    return {"apiVersion": obj.get("apiVersion"), "kind": obj.get("kind"),
            "metadata": {k: meta[k] for k in ("name", "namespace") if k in meta},
            "spec": obj.get("spec") or {}}


def compile_texts(texts: Iterable[tuple[str, str]], render: Render | None = None,
                  service_account: str | None = None, pods: PodSettings | None = None,
                  strict: bool = False) -> Batch:
    """Every file at once (tests, small inputs); the CLI feeds files one by one."""
    batch = Batch(render, service_account, pods, strict)
    for file, text in texts:
        batch.add_text(text, file)
    batch.finish()
    return batch
