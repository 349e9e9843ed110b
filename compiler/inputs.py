"""Text of one or more files -> validated Orchestrations and runs.

Pairs each OrchestrationRun with its Orchestration from the same input (by
namespace and name) and decides what to compile: a run's Orchestration is
compiled for the run, not on its own (contract §2, issue #2)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from compiler.api import ORCHESTRATION_KIND, RUN_KIND
from compiler.diagnostics import ROOT, Collector, Diagnostic, FieldPath, Reason, Span
from compiler.gcpause import paused_gc
from compiler.models import Orchestration, OrchestrationRun
from compiler.source import Document, load_documents
from compiler.suborchestrations import check_sub_orchestration_cycles
from compiler.validate import check_document_kind, check_orchestration, check_run


@dataclass
class Inputs:
    orchestrations: list[tuple[Document, Orchestration]] = field(default_factory=list)
    runs: list[tuple[Document, OrchestrationRun]] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    documents: int = 0
    files: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not any(d.is_error for d in self.diagnostics)


def parse_text(text: str, file: str, into: Inputs | None = None, strict: bool = False) -> Inputs:
    """Parse and validate every document of one file (`strict`: unknown keys are
    errors)."""
    with paused_gc():
        return _parse_text(text, file, into, strict)


def _parse_text(text: str, file: str, into: Inputs | None, strict: bool = False) -> Inputs:
    inputs = into if into is not None else Inputs()
    inputs.files.append(file)
    docs, problems = load_documents(text, file)
    inputs.diagnostics.extend(problems)
    if not problems and all(doc.data is None for doc in docs):
        inputs.diagnostics.append(
            Diagnostic(
                Reason.INVALID_YAML, ROOT, "no documents: the file is empty", span=Span(file)
            )
        )
    for doc in docs:
        if doc.data is None:
            continue  # an empty document between `---` separators
        inputs.documents += 1
        inputs.diagnostics.extend(doc.problems)
        out = Collector()
        kind = check_document_kind(doc.data, out)
        if kind == ORCHESTRATION_KIND:
            orchestration = check_orchestration(doc.data, out, strict=strict)
            if orchestration is not None:
                inputs.orchestrations.append((doc, orchestration))
        elif kind == RUN_KIND:
            run = check_run(doc.data, out, strict=strict)
            if run is not None:
                inputs.runs.append((doc, run))
        inputs.diagnostics.extend(doc.locate(d) for d in out.items)
    return inputs


def key(namespace: str | None, name: str | None) -> tuple[str, str]:
    return (namespace or "", name or "")


def pair_runs(inputs: Inputs) -> list[tuple[Document, Orchestration, OrchestrationRun | None]]:
    """What to compile, in input order: each run with its Orchestration, and each
    Orchestration that no run in the input references."""
    inputs.diagnostics.extend(check_sub_orchestration_cycles(inputs.orchestrations))
    by_key = {key(o.metadata.namespace, o.metadata.name): (d, o) for d, o in inputs.orchestrations}
    used: set[tuple[str, str]] = set()
    files = {f: i for i, f in enumerate(inputs.files)}

    def _order(doc: Document) -> tuple[int, int]:
        return files.get(doc.file, 0), doc.index

    plan: list[tuple[tuple[int, int], int, Document, Orchestration, OrchestrationRun | None]] = []
    for doc, run in inputs.runs:
        k = key(run.metadata.namespace, run.spec.orchestration_ref.name)
        found = by_key.get(k)
        if found is None:
            names = sorted(n for _, n in by_key)
            hint = f"the input has {', '.join(names)}" if names else "add it to the input"
            inputs.diagnostics.append(
                doc.locate(
                    Diagnostic(
                        Reason.ORCHESTRATION_NOT_FOUND,
                        FieldPath(("spec", "orchestrationRef", "name")),
                        f'orchestration "{k[1]}" is not in the input'
                        + (f' (namespace "{k[0]}")' if k[0] else ""),
                        names=(k[1],),
                        hint=hint,
                    )
                )
            )
            continue
        used.add(k)
        plan.append((_order(doc), 1, doc, found[1], run))
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
