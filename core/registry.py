"""Registries: one definition of each layer kind and each weight policy, and of the models
that execute them.

An entry names itself and the models that support it (:data:`MODELS`); every layer asks
the registry, so "not supported by the RTL" is a property of an entry, checked here, with
one message.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Generic, Protocol, TypeVar

from layerpipe.core.errors import LayerPipeError

__all__ = ["MODELS", "ALL_MODELS", "Registry", "or_list"]

MODELS = {
    "schedule": "the scheduler",
    "cycle": "the cycle simulator",
    "float": "the float golden model",
    "fixed": "the fixed-point golden model",
    "functional": "the functional simulator",
    "rtl": "the RTL generator",
}
ALL_MODELS = frozenset(MODELS)


class _Entry(Protocol):
    name: str
    models: frozenset[str]


Entry = TypeVar("Entry", bound=_Entry)


def or_list(names: Iterable[str]) -> str:
    """``a``, ``a or b``, ``a, b or c``."""
    names = list(names)
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"


class Registry(Mapping[str, Entry], Generic[Entry]):
    """Entries by name, in the order they were defined (the order help texts and tables list them)."""

    def __init__(self, noun: str, entries: Iterable[Entry]):
        self.noun = noun
        self._entries = {}
        for entry in entries:
            unknown = entry.models - ALL_MODELS
            if unknown:
                raise ValueError(f"{noun} {entry.name}: unknown model {sorted(unknown)[0]!r}")
            if entry.name in self._entries:
                raise ValueError(f"{noun} {entry.name} is defined twice")
            self._entries[entry.name] = entry

    def __getitem__(self, name: str) -> Entry:
        return self._entries[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def names(self, model: str | None = None) -> tuple[str, ...]:
        """Every entry's name, or those ``model`` supports."""
        return tuple(name for name, entry in self._entries.items() if model is None or model in entry.models)

    def supported(self, name: str, model: str, field: str) -> Entry:
        """The entry ``name`` if ``model`` supports it; else a one-line error naming ``field`` and the choices."""
        choices = or_list(self.names(model))
        if name not in self._entries:
            raise LayerPipeError(f"{field} {name}: not a {self.noun}; use {choices}")
        if model not in self._entries[name].models:
            runs_in = or_list(MODELS[m] for m in MODELS if m in self._entries[name].models)
            raise LayerPipeError(f"{field} {name}: {MODELS[model]} supports {choices} only; "
                                 f"{name} runs in {runs_in}")
        return self._entries[name]
