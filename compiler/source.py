"""YAML text -> plain data, plus where every field stands in the file.

PyYAML's C composer builds the node tree (fast, with marks); we convert nodes to
data ourselves so that each mapping value and sequence item records its line and
column under its field path, and duplicate keys are reported instead of silently
keeping the last one.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

import yaml

from compiler.diagnostics import ROOT, Diagnostic, FieldPath, Reason, Span

try:
    _Base: type[yaml.SafeLoader] = yaml.CSafeLoader  # type: ignore[assignment]
except AttributeError:  # pragma: no cover - libyaml missing
    _Base = yaml.SafeLoader

_resolve = yaml.resolver.Resolver.resolve


class _Loader(_Base):  # type: ignore[misc,valid-type]
    """The C loader with plain-scalar tag resolution memoized: the resolver runs
    regular expressions in Python for every scalar, and manifests repeat the
    same keys and values thousands of times."""

    _tags: dict[str, str] = {}  # noqa: RUF012 - a process-wide memo, by design

    def resolve(self, kind: type[yaml.Node], value: Any, implicit: tuple[bool, bool]) -> str:
        if kind is yaml.ScalarNode and implicit[0]:
            tag = self._tags.get(value)
            if tag is None:
                tag = _resolve(self, kind, value, implicit)  # type: ignore[no-untyped-call]
                if len(self._tags) < 65536:
                    self._tags[value] = tag
            return tag
        result: str = _resolve(self, kind, value, implicit)  # type: ignore[no-untyped-call]
        return result


_STR_TAG = "tag:yaml.org,2002:str"
_MERGE_TAG = "tag:yaml.org,2002:merge"


@dataclass
class Document:
    """One YAML document of a file: its data, and its node tree, from which the
    position of any field path is found when a diagnostic needs it (recording
    every position up front cost more than all the checks together)."""

    file: str
    index: int
    data: Any
    root: yaml.Node | None = None
    problems: list[Diagnostic] = field(default_factory=list)

    def span(self, path: FieldPath) -> Span:
        """The position of `path`, or of its closest ancestor in the file."""
        node = self.root
        if node is None:
            return Span(self.file)
        for part in path.parts:
            child = _child(node, part)
            if child is None:
                break
            node = child
        mark = node.start_mark
        return Span(self.file, mark.line + 1, mark.column + 1)

    def locate(self, diagnostic: Diagnostic) -> Diagnostic:
        return diagnostic.located(self.span(diagnostic.path), self.index)


def _child(node: yaml.Node, part: Any) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode):
        found = None
        for key_node, value_node in node.value:  # the last duplicate wins, as in data
            if isinstance(key_node, yaml.ScalarNode) and key_node.value == str(part):
                found = value_node
        return found
    if isinstance(node, yaml.SequenceNode) and isinstance(part, int):
        return node.value[part] if 0 <= part < len(node.value) else None
    return None


class _Converter:
    """Node tree -> data; reports duplicate and non-scalar keys with their path."""

    def __init__(self, loader: yaml.SafeLoader):
        self.loader = loader
        self.problems: list[Diagnostic] = []
        self.path: list[Any] = []

    def convert(self, node: yaml.Node) -> Any:
        cls = node.__class__
        if cls is yaml.ScalarNode:
            if node.tag == _STR_TAG:
                return node.value
            return self.loader.construct_object(node, deep=True)
        if cls is yaml.SequenceNode:
            path = self.path
            out_list = []
            for i, item in enumerate(node.value):
                path.append(i)
                out_list.append(self.convert(item))
                path.pop()
            return out_list
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                merged = self.convert(value_node)
                if isinstance(merged, dict):
                    for k, v in merged.items():
                        out.setdefault(k, v)
                continue
            key = self.convert(key_node) if key_node.__class__ is yaml.ScalarNode else None
            if key is None or not isinstance(key, str | int | float | bool):
                self.problem(key_node, "mapping keys must be plain scalars")
                continue
            self.path.append(key)
            if key in out:
                self.problem(key_node, f"duplicate key {key!r}")
            out[key] = self.convert(value_node)
            self.path.pop()
        return out

    def problem(self, node: yaml.Node, message: str) -> None:
        mark = node.start_mark
        self.problems.append(
            Diagnostic(
                Reason.INVALID_YAML,
                FieldPath(tuple(self.path)),
                message,
                span=Span("", mark.line + 1, mark.column + 1),
            )
        )


def load_documents(text: str, file: str) -> tuple[list[Document], list[Diagnostic]]:
    """Parse every document of `text`. A syntax error ends the file: the documents
    before it are returned with one `InvalidYAML` diagnostic for the error."""
    loader = _Loader(text)
    docs: list[Document] = []
    problems: list[Diagnostic] = []
    try:
        for index in itertools.count():
            node = _next_node(loader)
            if node is None:
                break
            conv = _Converter(loader)
            data = conv.convert(node)
            doc = Document(file, index, data, node)
            for p in conv.problems:
                assert p.span is not None
                doc.problems.append(p.located(Span(file, p.span.line, p.span.column), index))
            docs.append(doc)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        column = mark.column + 1 if mark else None
        what = exc.problem or exc.context or "malformed YAML"
        problems.append(
            Diagnostic(
                Reason.INVALID_YAML,
                ROOT,
                f"not valid YAML: {what}",
                span=Span(file, line, column),
                document=len(docs),
            )
        )
    except yaml.YAMLError as exc:
        problems.append(
            Diagnostic(Reason.INVALID_YAML, ROOT, f"not valid YAML: {exc}", span=Span(file))
        )
    finally:
        loader.dispose()
    return docs, problems


def _next_node(loader: yaml.SafeLoader) -> yaml.Node | None:
    # compose_all's loop, one document at a time, skipping empty documents' None.
    if loader.check_node():
        node: yaml.Node | None = loader.get_node()
        return node
    return None
