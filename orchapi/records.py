"""Typed records read from documents without pydantic, each the twin of a pydantic
model that stays the judge.

Why: importing pydantic and building the models is half of a cold `orch compile`
(about 80 of 165 ms), and a valid document needs no judge. A record class states
its fields as its pydantic twin does (the JSON key, a strict type, a default) and
reads a document of plain data (what the YAML reader and the apiserver give)
itself; whatever it is not sure of (a wrong type, a missing field, a key that is
not a string) it hands to the twin, which raises pydantic's `ValidationError`
with the errors the diagnostics are made of, or accepts and is copied into
records. So a record is what the twin would have made, and an invalid document
is judged by pydantic exactly as before; `tests/unit/orchapi/test_models_twin.py`
checks both on generated documents.

Only what the code uses of pydantic's model API is here: `model_validate`,
`model_dump(by_alias=True, exclude_none=True)`, `model_fields` (name -> alias),
equality by type and values.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, NamedTuple, Self


class UnsureError(Exception):
    """The record cannot tell: its twin decides."""


Conv = Callable[[Any], Any]  # a checked value, or UnsureError


class FieldSpec(NamedTuple):
    """One field: the attribute, its JSON key, how a value is read, and what it is
    when absent (`REQUIRED`: no default)."""

    name: str
    alias: str
    conv: Conv
    default: Any = None


REQUIRED: Any = object()


class Factory(NamedTuple):
    """A default made anew for each record (pydantic's `default_factory`)."""

    make: Callable[[], Any]


class FieldAlias(NamedTuple):
    """What `unknown_keys` reads of a pydantic `FieldInfo`."""

    alias: str


def strict_str(value: Any) -> str:
    if type(value) is not str:
        raise UnsureError
    return value


def str_at_most(n: int) -> Conv:
    def conv(value: Any) -> str:
        if type(value) is not str or len(value) > n:
            raise UnsureError
        return value
    return conv


def strict_int(value: Any) -> int:
    if type(value) is not int:
        raise UnsureError
    return value


def int_between(low: int, high: int | None = None) -> Conv:
    """`StrictInt` with `ge=low` (and `le=high`)."""
    def conv(value: Any) -> int:
        if type(value) is not int or value < low or (high is not None and value > high):
            raise UnsureError
        return value
    return conv


def strict_bool(value: Any) -> bool:
    if type(value) is not bool:
        raise UnsureError
    return value


def literal(*allowed: str) -> Conv:
    def conv(value: Any) -> str:
        if type(value) is not str or value not in allowed:
            raise UnsureError
        return value
    return conv


def optional(conv: Conv) -> Conv:
    def opt(value: Any) -> Any:
        return None if value is None else conv(value)
    opt.inner = conv  # type: ignore[attr-defined]  # read by `from_twin`
    return opt


def list_of(item: Conv, max_length: int | None = None) -> Conv:
    def conv(value: Any) -> list[Any]:
        if type(value) is not list or (max_length is not None and len(value) > max_length):
            raise UnsureError
        if item is strict_str:  # the common case, without a call per item
            if not all(type(v) is str for v in value):
                raise UnsureError
            return list(value)
        return [item(v) for v in value]
    conv.item = item  # type: ignore[attr-defined]
    return conv


def str_dict(value_conv: Conv | None = None, max_length: int | None = None) -> Conv:
    """`dict[StrictStr, V]`; `value_conv` None: `Any` (values kept as given)."""
    def conv(value: Any) -> dict[str, Any]:
        if type(value) is not dict or (max_length is not None and len(value) > max_length):
            raise UnsureError
        if not all(type(k) is str for k in value):
            raise UnsureError
        if value_conv is None:
            return dict(value)
        return {k: value_conv(v) for k, v in value.items()}
    return conv


def record(cls: Callable[[], type[Record]]) -> Conv:
    """A nested record (`cls` returns the class: it may be defined later)."""
    def conv(value: Any) -> Record:
        return cls().read(value)
    conv.record = cls  # type: ignore[attr-defined]
    return conv


class Record:
    """A record: `FIELDS` in declaration order, unknown keys kept as extras."""

    FIELDS: ClassVar[tuple[FieldSpec, ...]] = ()
    TWIN: ClassVar[str] = ""  # "module:Class" of the pydantic twin
    # `populate_by_name` in the twin: the attribute's own name is read too.
    BY_NAME: ClassVar[bool] = False
    model_fields: ClassVar[Mapping[str, FieldAlias]] = {}
    _by_key: ClassVar[dict[str, FieldSpec]]
    _defaults: ClassVar[dict[str, Any]]
    _factories: ClassVar[tuple[FieldSpec, ...]]
    _required: ClassVar[int]
    _by_name: ClassVar[dict[str, FieldSpec]]
    _extra: dict[str, Any]

    def __init_subclass__(cls) -> None:
        super().__init_subclass__()
        cls._by_key = {f.alias: f for f in cls.FIELDS}
        cls._defaults = {f.name: None if f.default is REQUIRED or isinstance(f.default, Factory)
                         else f.default for f in cls.FIELDS}
        cls._factories = tuple(f for f in cls.FIELDS if isinstance(f.default, Factory))
        cls._required = sum(f.default is REQUIRED for f in cls.FIELDS)
        cls._by_name = {f.name: f for f in cls.FIELDS if f.name != f.alias} if cls.BY_NAME else {}
        cls.model_fields = {f.name: FieldAlias(f.alias) for f in cls.FIELDS}

    @classmethod
    def read(cls, data: Any) -> Self:
        """The record of `data`, or UnsureError."""
        if type(data) is not dict:
            raise UnsureError
        values = dict(cls._defaults)
        extra: dict[str, Any] = {}
        required = 0
        by_key = cls._by_key
        for key, value in data.items():
            spec = by_key.get(key)
            if spec is None:
                if type(key) is not str:
                    raise UnsureError
                spec = cls._by_name.get(key)
                if spec is None or spec.alias in data:  # the key wins over the name
                    extra[key] = value
                    continue
            values[spec.name] = spec.conv(value)
            if spec.default is REQUIRED:
                required += 1
        if required != cls._required:
            raise UnsureError
        for spec in cls._factories:
            if spec.alias not in data:
                values[spec.name] = spec.default.make()
        obj = object.__new__(cls)
        obj.__dict__.update(values)
        obj._extra = extra
        return obj

    @classmethod
    def model_validate(cls, data: Any) -> Self:
        """The record; when it cannot tell, the twin judges (pydantic's
        `ValidationError` when the data is invalid)."""
        try:
            return cls.read(data)
        except UnsureError:
            return cls.judged(data)

    @classmethod
    def judged(cls, data: Any) -> Self:
        """The record of what the twin makes of `data` (or its `ValidationError`):
        the one place pydantic is imported."""
        module, name = cls.TWIN.split(":")
        twin = getattr(importlib.import_module(module), name)
        return cls.from_twin(twin.model_validate(data))

    @classmethod
    def from_twin(cls, model: Any) -> Self:
        """The record of a model the twin made."""
        obj = object.__new__(cls)
        for spec in cls.FIELDS:
            obj.__dict__[spec.name] = _from_twin(spec.conv, getattr(model, spec.name))
        obj._extra = dict(model.__pydantic_extra__ or {})
        return obj

    def model_dump(self, *, by_alias: bool, exclude_none: bool) -> dict[str, Any]:
        """As pydantic's `model_dump(by_alias=True, exclude_none=True)`: fields by
        their keys, then the extras, `None` left out of records (not of the plain
        mappings inside them), every container a copy."""
        assert by_alias and exclude_none, "only the JSON keys without nulls are dumped"
        out: dict[str, Any] = {}
        for spec in self.FIELDS:
            value = self.__dict__[spec.name]
            if value is not None:
                out[spec.alias] = _dump(value)
        for key, value in self._extra.items():
            if value is not None:
                out[key] = _dump(value)
        return out

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self.__dict__ == other.__dict__

    __hash__ = None  # type: ignore[assignment]  # as pydantic's: mutable, compared by value

    def __repr__(self) -> str:
        fields = ", ".join(f"{s.name}={self.__dict__[s.name]!r}" for s in self.FIELDS)
        return f"{type(self).__name__}({fields})"


def _dump(value: Any) -> Any:
    if isinstance(value, Record):
        return value.model_dump(by_alias=True, exclude_none=True)
    if type(value) is dict:
        return {k: _dump(v) for k, v in value.items()}
    if type(value) is list:
        return [_dump(v) for v in value]
    return value


def _from_twin(conv: Conv, value: Any) -> Any:
    if value is None:
        return None
    inner = getattr(conv, "inner", None)
    if inner is not None:
        return _from_twin(inner, value)
    cls = getattr(conv, "record", None)
    if cls is not None:
        return cls().from_twin(value)
    item = getattr(conv, "item", None)
    if item is not None:
        return [_from_twin(item, v) for v in value]
    return value
