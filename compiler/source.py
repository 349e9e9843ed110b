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


Position = tuple[int, int]
_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"
_STR_TAG = "tag:yaml.org,2002:str"
_MERGE_TAG = "tag:yaml.org,2002:merge"


@dataclass
class Document:
    """One YAML document of a file: its data and the position of every field."""

    file: str
    index: int
    data: Any
    positions: dict[tuple[Any, ...], Position] = field(default_factory=dict)
    problems: list[Diagnostic] = field(default_factory=list)

    def span(self, path: FieldPath) -> Span:
        """The position of `path`, or of its closest ancestor that has one."""
        parts = path.parts
        while True:
            pos = self.positions.get(parts)
            if pos is not None:
                return Span(self.file, pos[0], pos[1])
            if not parts:
                return Span(self.file)
            parts = parts[:-1]

    def locate(self, diagnostic: Diagnostic) -> Diagnostic:
        return diagnostic.located(self.span(diagnostic.path), self.index)


class _Converter:
    def __init__(self, loader: yaml.SafeLoader, positions: dict[tuple[Any, ...], Position]):
        self.loader = loader
        self.positions = positions
        self.problems: list[Diagnostic] = []

    def convert(self, node: yaml.Node, path: tuple[Any, ...]) -> Any:
        mark = node.start_mark
        self.positions[path] = (mark.line + 1, mark.column + 1)
        if isinstance(node, yaml.MappingNode):
            out: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                if key_node.tag == _MERGE_TAG:
                    merged = self.convert(value_node, path)
                    if isinstance(merged, dict):
                        for k, v in merged.items():
                            out.setdefault(k, v)
                    continue
                key = self.scalar(key_node) if isinstance(key_node, yaml.ScalarNode) else None
                if not isinstance(key, str | int | float | bool) or key is None:
                    self.problem(path, key_node, "mapping keys must be plain scalars")
                    continue
                if key in out:
                    self.problem((*path, key), key_node, f"duplicate key {key!r}")
                out[key] = self.convert(value_node, (*path, key))
            return out
        if isinstance(node, yaml.SequenceNode):
            return [self.convert(item, (*path, i)) for i, item in enumerate(node.value)]
        return self.scalar(node)

    def scalar(self, node: yaml.Node) -> Any:
        if node.tag == _STR_TAG:
            return node.value
        return self.loader.construct_object(node, deep=True)

    def problem(self, path: tuple[Any, ...], node: yaml.Node, message: str) -> None:
        mark = node.start_mark
        self.problems.append(
            Diagnostic(
                Reason.INVALID_YAML,
                FieldPath(path),
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
            positions: dict[tuple[Any, ...], Position] = {}
            conv = _Converter(loader, positions)
            data = conv.convert(node, ())
            doc = Document(file, index, data, positions)
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
