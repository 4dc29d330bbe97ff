"""What the project's parameter records share: the cost model and the numeric format are frozen
dataclasses that travel as JSON (in tables, sidecars, reports) and check their fields alike."""

from __future__ import annotations

from dataclasses import asdict, fields
from typing import ClassVar

from layerpipe.core.errors import LayerPipeError
from layerpipe.core.schema import require_integer

__all__ = ["ConfigRecord"]


class ConfigRecord:
    """Mixin for a frozen dataclass of named integer (or string) parameters; ``title`` names it in errors."""

    title: ClassVar[str]

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict):
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise LayerPipeError(f"{cls.title}: unknown field '{unknown[0]}'; known fields are "
                                 f"{', '.join(sorted(known))}")
        return cls(**data)

    def require_ints(self, names, minimum: int) -> None:
        """Each field of ``names`` is an integer (not a bool) of at least ``minimum``."""
        for name in names:
            require_integer(getattr(self, name), minimum, f"{self.title}: '{name}'")
