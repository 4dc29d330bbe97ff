"""Elaboratables whose constructor arguments are checked before the object exists.

Amaranth warns (``UnusedElaboratable``) about an elaboratable that is garbage collected
without having been elaborated. The object is marked unused by ``MustUse.__new__``, before
``__init__`` runs, so a constructor that refuses its arguments would leave one behind, and
the warning would blame the caller of a refused constructor. :class:`CheckedFirst` runs the
class's ``check`` (a static method taking the constructor's arguments, raising on bad ones)
in ``__new__``: a refused component never exists.
"""

from __future__ import annotations

__all__ = ["CheckedFirst"]


class CheckedFirst:
    """Mixin, first among the bases of an Elaboratable: ``check(*args, **kwargs)`` before creation."""

    @staticmethod
    def check(*args, **kwargs) -> None:
        """Raise if the constructor's arguments are refused (override)."""

    def __new__(cls, *args, **kwargs):
        cls.check(*args, **kwargs)
        return super().__new__(cls, *args, src_loc_at=1, **kwargs)  # the creation is the caller's
