"""The step loop's fast path (being written): for now every cell runs the plain loop."""
from __future__ import annotations


def fast_blocker(cell) -> str | None:
    """Why ``cell`` has no fast path, or None when it has one."""
    return "no fast path yet"


def fast_loop(cell, x_proj, lengths, state, masks):
    raise NotImplementedError
