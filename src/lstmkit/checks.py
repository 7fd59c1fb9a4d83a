"""Argument checks that configs of every layer share: one message each, naming the option and what came."""
from __future__ import annotations


def _values(obj, names) -> list:
    return [(n, obj[n] if isinstance(obj, dict) else getattr(obj, n)) for n in names]


def positive_ints(obj, names, owner: str = "") -> None:
    """Each option ``names`` of ``obj`` (a dataclass or a dict) is an int >= 1 (a bool is not)."""
    for name, v in _values(obj, names):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"{owner + ': ' if owner else ''}{name} must be a positive int, got {v!r}")


def fractions(obj, names, owner: str = "") -> None:
    """Each option ``names`` of ``obj`` is a number in [0, 1) (a share: dropout, smoothing)."""
    for name, v in _values(obj, names):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0.0 <= v < 1.0:
            raise ValueError(f"{owner + ': ' if owner else ''}{name} must be in [0, 1), got {v!r}")
