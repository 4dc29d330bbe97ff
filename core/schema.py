"""A small declarative schema for JSON documents: each field says what it must be, once.

A schema is a tree of :class:`Field` objects; :meth:`Field.check` walks a document and raises
one :class:`~layerpipe.core.errors.LayerPipeError` naming the first bad field by its path
(``processor_tasks[1][0].cycles``) and what it should be. Fields a schema does not name are
left alone, so a newer writer may add fields an older reader ignores.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from layerpipe.core.errors import LayerPipeError

__all__ = ["Field", "Integer", "Number", "Text", "Boolean", "Nullable", "ListOf", "Record", "MapOf", "Table", "raiser",
           "require_integer"]


def _describe(value) -> str:
    return "nothing" if value is None else repr(value) if isinstance(value, (int, float, str, bool)) \
        else f"a {type(value).__name__}"


class Field:
    """What one value must be. ``fail`` is the document's error prefix and the path to the value."""

    expected: str = "a value"

    def check(self, value, path: str, fail: Callable[[str, str], None]) -> None:
        if not self.accepts(value):
            fail(path, f"should be {self.expected}, found {_describe(value)}")

    def accepts(self, value) -> bool:
        return True


@dataclass(frozen=True)
class Integer(Field):
    minimum: int | None = None

    @property
    def expected(self) -> str:
        return "an integer" if self.minimum is None else f"an integer >= {self.minimum}"

    def accepts(self, value) -> bool:
        return isinstance(value, int) and not isinstance(value, bool) and (self.minimum is None
                                                                            or value >= self.minimum)


@dataclass(frozen=True)
class Number(Field):
    expected = "a number"

    def accepts(self, value) -> bool:
        return isinstance(value, (int, float)) and not isinstance(value, bool)


@dataclass(frozen=True)
class Text(Field):
    choices: tuple[str, ...] = ()

    @property
    def expected(self) -> str:
        return f"one of {', '.join(self.choices)}" if self.choices else "a string"

    def accepts(self, value) -> bool:
        return isinstance(value, str) and (not self.choices or value in self.choices)


@dataclass(frozen=True)
class Boolean(Field):
    expected = "true or false"

    def accepts(self, value) -> bool:
        return isinstance(value, bool)


@dataclass(frozen=True)
class Nullable(Field):
    inner: Field

    @property
    def expected(self) -> str:
        return f"{self.inner.expected} or null"

    def check(self, value, path, fail) -> None:
        if value is not None:
            self.inner.check(value, path, fail)


@dataclass(frozen=True)
class ListOf(Field):
    item: Field

    expected = "a list"

    def accepts(self, value) -> bool:
        return isinstance(value, list)

    def check(self, value, path, fail) -> None:
        super().check(value, path, fail)
        for index, item in enumerate(value):
            self.item.check(item, f"{path}[{index}]", fail)


@dataclass(frozen=True)
class Record(Field):
    """A table of named fields; ``optional`` ones may be absent."""

    fields: dict[str, Field]
    optional: frozenset[str] = field(default=frozenset())

    expected = "a table of fields"

    def accepts(self, value) -> bool:
        return isinstance(value, dict)

    def check(self, value, path, fail) -> None:
        super().check(value, path, fail)
        for name, inner in self.fields.items():
            where = f"{path}.{name}" if path else name
            if name not in value:
                if name not in self.optional:
                    fail(where, "is missing")
                continue
            inner.check(value[name], where, fail)


@dataclass(frozen=True)
class MapOf(Field):
    """A table whose keys are data (e.g. weight policy names), every value of one schema."""

    value: Field

    expected = "a table"

    def accepts(self, value) -> bool:
        return isinstance(value, dict)

    def check(self, value, path, fail) -> None:
        super().check(value, path, fail)
        for key, inner in value.items():
            self.value.check(inner, f"{path}.{key}", fail)


@dataclass(frozen=True)
class Table(Field):
    """A table validated by its own reader (a network, a cost model): only its type is checked here."""

    expected = "a table of fields"

    def accepts(self, value) -> bool:
        return isinstance(value, dict)


def raiser(prefix: str) -> Callable[[str, str], None]:
    """The ``fail`` of a document whose errors start with ``prefix``."""
    def fail(path: str, message: str) -> None:
        raise LayerPipeError(f"{prefix}: {path}: {message}")
    return fail


def require_integer(value, minimum: int, what: str) -> int:
    """``value`` if it is an integer (not a bool) of at least ``minimum``; else a one-line error
    "<what> is <value>; set it to a positive integer" (or "an integer >= <minimum>")."""
    if not Integer(minimum).accepts(value):
        bound = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
        raise LayerPipeError(f"{what} is {value!r}; set it to {bound}")
    return value
