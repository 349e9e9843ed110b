"""YAML text -> plain data, one document at a time, plus where every field stands.

PyYAML's C composer builds each document's node tree (fast, with marks); we
convert nodes to data ourselves so that duplicate keys are reported instead of
silently keeping the last one, and so that alias expansion is bounded (a YAML
"billion laughs" of a few hundred bytes would otherwise take minutes and
gigabytes). Documents are yielded one by one: a caller that judges each and
drops it reads a file of any number of documents in constant memory.

Bytes are decoded as kubectl reads files (cli-runtime's FileVisitor: UTF-8, a
UTF-8 or UTF-16 byte order mark honoured); anything else is `InvalidYAML` with
the line of the first byte that is not UTF-8.
"""

from __future__ import annotations

import codecs
import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import yaml

from compiler.diagnostics import ROOT, Diagnostic, FieldPath, Span
from orchapi.vocabulary import Reason

try:
    _Base: type[yaml.SafeLoader] = yaml.CSafeLoader  # type: ignore[assignment]
except AttributeError:  # pragma: no cover - libyaml missing
    _Base = yaml.SafeLoader

_resolve = yaml.resolver.Resolver.resolve
_TAGS: dict[str, str] = {}  # plain scalar -> tag, a process-wide memo


def _memo_resolve(
    self: yaml.resolver.BaseResolver, kind: type[yaml.Node], value: Any,
    implicit: tuple[bool, bool],
) -> str:
    """Plain-scalar tag resolution memoized: the resolver runs regular expressions
    in Python for every scalar, and manifests repeat the same keys and values."""
    if kind is yaml.ScalarNode and implicit[0]:
        tag = _TAGS.get(value)
        if tag is None:
            tag = _resolve(self, kind, value, implicit)  # type: ignore[no-untyped-call]
            if len(_TAGS) < 65536:
                _TAGS[value] = tag
        return tag
    result: str = _resolve(self, kind, value, implicit)  # type: ignore[no-untyped-call]
    return result


class _Loader(_Base):  # type: ignore[misc,valid-type]
    resolve = _memo_resolve


class _PyLoader(yaml.SafeLoader):
    """The pure-Python loader, used only for a file whose double-quoted strings
    hold surrogate-pair escapes (`"\\ud83d\\ude00"`, what Python's `json.dumps`
    writes for characters outside the BMP by default): libyaml refuses each half,
    Go's JSON and YAML readers join the pair, and so do we."""

    resolve = _memo_resolve


_STR_TAG = "tag:yaml.org,2002:str"
_MERGE_TAG = "tag:yaml.org,2002:merge"
_SURROGATE_ESCAPE_ERROR = "found invalid Unicode character escape code"
_SURROGATE = re.compile("[\ud800-\udfff]")

# Alias expansion limits. The node rule is go-yaml v2's (decode.go,
# `allowedAliasRatio`, go.yaml.in/yaml/v2 v2.4.3, the reader inside
# sigs.k8s.io/yaml v1.6.0 that kubectl and Argo use): past 100 aliased and 1,000
# decoded values, at most 99% of the values may come from aliases, falling to 10%
# between 400,000 and 4,000,000 decoded values. Go counts nodes only; a few
# aliases of one large string can still expand to gigabytes, so the text that
# aliases repeat is bounded too, by the apiserver's largest request (3 MiB): no
# object Kubernetes stores needs more.
ALIAS_RATIO_LOW, ALIAS_RATIO_HIGH = 400_000, 4_000_000
MAX_ALIAS_TEXT = 3 * 1024 * 1024


def allowed_alias_ratio(decoded: int) -> float:
    if decoded <= ALIAS_RATIO_LOW:
        return 0.99
    if decoded >= ALIAS_RATIO_HIGH:
        return 0.10
    return 0.99 - 0.89 * (decoded - ALIAS_RATIO_LOW) / (ALIAS_RATIO_HIGH - ALIAS_RATIO_LOW)


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a document's root node stands in its file's text: enough to parse
    that document again later without keeping its data or node tree."""

    start: int
    end: int
    line: int  # 0-based, of `start`
    column: int


@dataclass
class Document:
    """One YAML document (or one item of a `kind: List` document): its data, and
    its node tree, from which the position of any field path is found when a
    diagnostic needs it (recording every position up front cost more than all
    the checks together). `prefix` is the item's path in the List document."""

    file: str
    index: int
    data: Any
    root: yaml.Node | None = None
    problems: list[Diagnostic] = field(default_factory=list)
    line_offset: int = 0
    prefix: tuple[Any, ...] = ()
    origin: Origin | None = None

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
        return Span(self.file, mark.line + 1 + self.line_offset, mark.column + 1)

    def locate(self, diagnostic: Diagnostic) -> Diagnostic:
        located = diagnostic.located(self.span(diagnostic.path), self.index)
        if self.prefix:
            return Diagnostic(
                located.reason, FieldPath(self.prefix + located.path.parts), located.message,
                located.severity, located.names, located.hint, located.span, located.document,
            )
        return located

    def item(self, i: int) -> Document:
        """Item `i` of this document's `items` (a `kind: List`), as a document of
        its own whose diagnostics carry the path `items[i]....`."""
        node = _child(self.root, "items") if self.root is not None else None
        item_node = _child(node, i) if node is not None else None
        return Document(
            self.file, self.index, self.data["items"][i], item_node,
            line_offset=self.line_offset, prefix=(*self.prefix, "items", i),
            origin=self.origin,
        )


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


class _AliasLimitError(Exception):
    def __init__(self, mark: yaml.Mark, path: tuple[Any, ...], message: str) -> None:
        super().__init__(message)
        self.mark = mark
        self.path = FieldPath(path)
        self.message = message


class _Converter:
    """Node tree -> data; reports duplicate and non-scalar keys with their path."""

    def __init__(self, loader: yaml.SafeLoader, join_surrogates: bool = False):
        self.loader = loader
        self.problems: list[Diagnostic] = []
        self.path: list[Any] = []
        self.join_surrogates = join_surrogates

    def convert(self, node: yaml.Node, at: yaml.Mark | None = None) -> Any:
        """`at`: where `node` is used (the key or item that holds it), which is
        not where it stands when it is reached through an alias."""
        cls = node.__class__
        if cls is yaml.ScalarNode:
            if node.tag == _STR_TAG:
                value: str = node.value
                if self.join_surrogates and _SURROGATE.search(value):
                    return self._join(node, value)
                return value
            return self.loader.construct_object(node, deep=True)
        if cls is yaml.SequenceNode:
            path = self.path
            out_list = []
            for i, item in enumerate(node.value):
                path.append(i)
                out_list.append(self.convert(item, node.start_mark))
                path.pop()
            return out_list
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                merged = self.convert(value_node, key_node.start_mark)
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
            out[key] = self.convert(value_node, key_node.start_mark)
            self.path.pop()
        return out

    def _join(self, node: yaml.Node, value: str) -> str:
        """Surrogate-pair escapes -> the character they encode, as JSON does."""
        try:
            return value.encode("utf-16", "surrogatepass").decode("utf-16")
        except UnicodeDecodeError:
            lone = _SURROGATE.search(value)
            assert lone is not None
            self.problem(node, f"\\u{ord(lone.group()):04x} is half of a surrogate pair "
                               "without its other half; it encodes no character")
            return value

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


class _BoundedConverter(_Converter):
    """The converter for a text with anchors: it counts what aliases expand and
    stops past the limits above. (A text without `&` has no anchor, so no
    alias: it takes the plain converter, which does not pay for the counting.)"""

    def __init__(self, loader: yaml.SafeLoader, join_surrogates: bool = False):
        super().__init__(loader, join_surrogates)
        # A node the composer shares is reached once per alias: the first visit
        # is its anchor, every later one an alias expansion.
        self.seen: set[int] = set()
        self.decoded = 0
        self.aliased = 0
        self.alias_text = 0
        self.alias_depth = 0
        self.alias_mark: yaml.Mark | None = None
        self.alias_path: tuple[Any, ...] = ()

    def convert(self, node: yaml.Node, at: yaml.Mark | None = None) -> Any:
        self.decoded += 1
        alias = False
        nid = id(node)
        if nid in self.seen:
            alias = True
            if not self.alias_depth:
                self.alias_mark = at or node.start_mark
                self.alias_path = tuple(self.path)
            self.alias_depth += 1
        else:
            self.seen.add(nid)
        try:
            if self.alias_depth:
                self.aliased += 1
                if node.__class__ is yaml.ScalarNode:
                    self.alias_text += len(node.value)
                self._check_aliases()
            return super().convert(node, at)
        finally:
            if alias:
                self.alias_depth -= 1

    def _check_aliases(self) -> None:
        mark = self.alias_mark
        assert mark is not None
        if (self.aliased > 100 and self.decoded > 1000
                and self.aliased / self.decoded > allowed_alias_ratio(self.decoded)):
            raise _AliasLimitError(
                mark, self.alias_path,
                f"aliases expand to too many values ({self.aliased} of the first "
                f"{self.decoded} come from aliases; Kubernetes' YAML reader refuses this "
                "as \"excessive aliasing\")",
            )
        if self.alias_text > MAX_ALIAS_TEXT:
            raise _AliasLimitError(
                mark, self.alias_path,
                f"aliases repeat more than {MAX_ALIAS_TEXT // (1024 * 1024)} MiB of text, "
                "more than the apiserver accepts in one request",
            )


def decode(data: bytes, file: str) -> str | Diagnostic:
    """File bytes -> text as kubectl reads them: a UTF-8 or UTF-16 byte order mark
    decides (and is dropped), otherwise UTF-8. Not decodable: `InvalidYAML` at
    the line and column of the first offending byte."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as exc:
            return Diagnostic(
                Reason.INVALID_YAML, ROOT,
                f"not valid UTF-16 after its byte order mark: {exc.reason} "
                f"at byte {exc.start}",
                span=Span(file),
            )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line_start = data.rfind(b"\n", 0, exc.start) + 1
        line = data.count(b"\n", 0, exc.start) + 1
        column = len(data[line_start:exc.start].decode("utf-8", "replace")) + 1
        return Diagnostic(
            Reason.INVALID_YAML, ROOT,
            f"not UTF-8: byte 0x{data[exc.start]:02x} {exc.reason.replace('byte', 'here')}",
            hint="save the file as UTF-8 (a UTF-16 file needs its byte order mark)",
            span=Span(file, line, column),
        )


_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
# Characters JSON strings may hold raw and YAML may not (DEL, C1 with NEL,
# U+FFFE, U+FFFF), or reads as line breaks (NEL, U+2028, U+2029): a YAML reader
# refuses them, or folds them with the spaces around them ("a \u2028 b" became
# "a\u2028b"), where kubectl reads a JSON file with a JSON decoder that keeps
# every character (k8s.io/apimachinery's YAMLOrJSONDecoder).
_JSON_ONLY = re.compile("[\x7f-\x9f\u2028\u2029\ufffe\uffff]")


def normalize(text: str) -> str:
    """A JSON text (it starts with `{`, as kubectl decides between its JSON and
    YAML decoders) whose strings hold characters JSON allows raw and YAML does
    not, as `json.dumps(..., ensure_ascii=False)` writes them: each is written as
    its `\\u` escape, which both read as the character itself. Any other text
    is returned as it is."""
    if not _JSON_ONLY.search(text) or not text.lstrip().startswith("{"):
        return text
    return _JSON_STRING.sub(
        lambda m: _JSON_ONLY.sub(lambda c: f"\\u{ord(c.group()):04x}", m.group()), text)


def iter_documents(text: str, file: str) -> Iterator[Document | Diagnostic]:
    """Every non-empty document of `text`, one at a time. A syntax error ends the
    file: the documents before it are yielded, then one `InvalidYAML` diagnostic.
    A document whose aliases expand past the limits is one `InvalidYAML`
    diagnostic, and the documents after it are read."""
    text = normalize(text)
    done = 0
    loader_cls: type[yaml.SafeLoader] = _Loader
    while True:
        try:
            for item in _iter_with(loader_cls, text, file, skip=done):
                if isinstance(item, Document):
                    done = item.index + 1
                yield item
            return
        except _SurrogateEscapesError:
            loader_cls = _PyLoader  # start over; the documents already given are skipped


class _SurrogateEscapesError(Exception):
    pass


def _iter_with(
    loader_cls: type[yaml.SafeLoader], text: str, file: str, skip: int
) -> Iterator[Document | Diagnostic]:
    loader = loader_cls(text)
    join = loader_cls is _PyLoader
    anchors = "&" in text
    index = 0
    try:
        for index in itertools.count():
            if not loader.check_node():
                break
            node: yaml.Node | None = loader.get_node()
            if node is None:
                continue  # an empty document between `---` separators
            if index < skip:
                continue
            conv = (_BoundedConverter if anchors else _Converter)(loader, join)
            origin = Origin(node.start_mark.index, node.end_mark.index,
                            node.start_mark.line, node.start_mark.column)
            try:
                data = conv.convert(node)
            except _AliasLimitError as exc:
                yield Diagnostic(
                    Reason.INVALID_YAML, exc.path, exc.message,
                    hint="write the repeated values out, or use fewer aliases",
                    span=Span(file, exc.mark.line + 1, exc.mark.column + 1), document=index,
                )
                continue
            doc = Document(file, index, data, node, origin=origin)
            for p in conv.problems:
                assert p.span is not None
                doc.problems.append(p.located(Span(file, p.span.line, p.span.column), index))
            yield doc
    except yaml.reader.ReaderError as exc:
        # libyaml reports a byte offset, PyYAML a character index: the first
        # occurrence of the character is where the reader stopped either way.
        char = chr(exc.character) if isinstance(exc.character, int) else str(exc.character)
        at = text.find(char)
        line = text.count("\n", 0, at) + 1 if at >= 0 else None
        column = at - text.rfind("\n", 0, at) if at >= 0 else None
        code = ord(char[:1] or " ")
        yield Diagnostic(
            Reason.INVALID_YAML, ROOT,
            f"not valid YAML: character U+{code:04X} may not stand raw in YAML",
            hint=f'write it as an escape in a double-quoted string: "\\u{code:04x}"',
            span=Span(file, line, column), document=index,
        )
    except yaml.MarkedYAMLError as exc:
        if exc.problem == _SURROGATE_ESCAPE_ERROR and not join:
            raise _SurrogateEscapesError from None
        mark = exc.problem_mark or exc.context_mark
        yield Diagnostic(
            Reason.INVALID_YAML,
            ROOT,
            f"not valid YAML: {exc.problem or exc.context or 'malformed YAML'}",
            span=Span(file, mark.line + 1 if mark else None, mark.column + 1 if mark else None),
            document=index,
        )
    except yaml.YAMLError as exc:
        yield Diagnostic(Reason.INVALID_YAML, ROOT, f"not valid YAML: {exc}", span=Span(file))
    finally:
        loader.dispose()


def empty_file_message(text: str) -> str:
    """Why a file without documents has none, in the words a person expects."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        return "no documents: the file is empty"
    if all(line.startswith("#") for line in lines):
        return "no documents: the file holds only comments"
    return "no documents: every document in the file is empty"


def load_documents(text: str, file: str) -> tuple[list[Document], list[Diagnostic]]:
    """Every document of `text` at once (for callers with small inputs)."""
    docs: list[Document] = []
    problems: list[Diagnostic] = []
    for item in iter_documents(text, file):
        (docs if isinstance(item, Document) else problems).append(item)  # type: ignore[arg-type]
    return docs, problems


def reparse(text: str, file: str, index: int, origin: Origin) -> Document | None:
    """Document `index` of `text` (as `normalize` returned it) again, from where
    it stood (`origin`), with its line numbers. When it does not parse alone (a
    `%TAG` directive of its own, say): from the start of the file."""
    source = " " * origin.column + text[origin.start:origin.end]
    loader = _Loader(source)
    try:
        node = loader.get_single_node()
        if node is not None:
            conv = (_BoundedConverter if "&" in source else _Converter)(loader)
            data = conv.convert(node)
            if not conv.problems:
                return Document(file, index, data, node, line_offset=origin.line,
                                origin=origin)
    except (yaml.YAMLError, _AliasLimitError):
        pass
    finally:
        loader.dispose()
    for item in iter_documents(text, file):
        if isinstance(item, Document) and item.index == index:
            return item
    return None
