"""Progress bars for the slow parts (tokenizing, encoding, evaluating, predicting, beam search): tqdm on stderr,
shown only where stderr is a terminal and progress is on. The command line turns them off with ``--quiet``;
a program may call :func:`set_progress`.
"""
from __future__ import annotations

import sys
from contextlib import contextmanager

_ENABLED = True
MIN_ITEMS = 2_000       # fewer items than this never get a bar (a bar flashing by helps nobody)


def set_progress(enabled: bool) -> None:
    """Show progress bars (where stderr is a terminal) or never."""
    global _ENABLED
    _ENABLED = bool(enabled)


@contextmanager
def quiet():
    """No progress bars inside the block."""
    global _ENABLED
    before, _ENABLED = _ENABLED, False
    try:
        yield
    finally:
        _ENABLED = before


def shown(total: int | None = None) -> bool:
    """Whether a bar of ``total`` items would be shown now."""
    return _ENABLED and sys.stderr.isatty() and (total is None or total >= MIN_ITEMS)


def progress(iterable, desc: str, total: int | None = None, unit: str = "it", min_items: int = MIN_ITEMS):
    """``iterable``, with a tqdm bar on stderr when :func:`shown` says so (``total`` defaults to ``len()``)."""
    if total is None and hasattr(iterable, "__len__"):
        total = len(iterable)
    if not (_ENABLED and sys.stderr.isatty()) or (total is not None and total < min_items):
        return iterable
    from tqdm.auto import tqdm

    return tqdm(iterable, desc=desc, total=total, unit=unit, leave=False, file=sys.stderr)
