"""Recording a model's own intermediate tensors: ``with recording() as rec: model(...)``, then ``rec["logits"]``.

Models call :func:`record` at the points worth showing (the embedded batch, the LSTM's outputs and final
states, the logits, ...; each model's docstring lists its names and shapes). Outside a :func:`recording` block
``record`` is one context-variable read and a return: nothing is copied and nothing is kept. Inside, every
recorded tensor is detached and cloned (a later in-place change to the model's tensor does not reach the
recording). ``lstmkit explain`` shows these tensors instead of recomputing the forward pass by hand, so a
change to a model cannot silently drift from its walkthrough.

Blocks nest: a tensor recorded inside an inner block reaches it and every enclosing block. The active blocks
live in a :class:`contextvars.ContextVar`, so each thread (and each asyncio task) records only what runs in it:
a model called on another thread at the same time never lands in this thread's recording.

Example::

    >>> with recording() as rec:
    ...     logits = model(ids, lengths)
    >>> rec["logits"].shape, rec.names()
    (torch.Size([4, 2]), ['embedded', 'outputs', 'final_states', 'pooled', 'logits'])
"""
from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar

import torch

_ACTIVE: ContextVar[tuple] = ContextVar("lstmkit_recordings", default=())


class Recording:
    """The tensors recorded in one :func:`recording` block, by name, in the order they were recorded.

    ``rec[name]`` is the latest value recorded as ``name``; ``rec.all(name)`` every one of them (a name recorded
    once per decoder step, or by a model called twice, keeps each value). Values are tensors, or tuples of them
    (``final_states``: per layer an ``LSTMStateTuple``, or its ``(fw, bw)`` pair), or None.
    """

    def __init__(self):
        self._values: dict[str, list] = {}

    def __getitem__(self, name: str):
        values = self._values.get(name)
        if not values:
            raise KeyError(f"recording: nothing was recorded as {name!r}; recorded: {self.names()}")
        return values[-1]

    def get(self, name: str, default=None):
        values = self._values.get(name)
        return values[-1] if values else default

    def all(self, name: str) -> list:
        """Every value recorded as ``name``, oldest first (an empty list if none)."""
        return list(self._values.get(name, ()))

    def names(self) -> list[str]:
        """The names recorded so far, in the order each was first recorded."""
        return list(self._values)

    def __contains__(self, name: str) -> bool:
        return name in self._values

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return f"Recording({', '.join(f'{n} x{len(v)}' for n, v in self._values.items())})"


@contextmanager
def recording():
    """Collect what models :func:`record` while the block runs, in this thread (or task); yields a
    :class:`Recording`."""
    rec = Recording()
    token = _ACTIVE.set(_ACTIVE.get() + (rec,))
    try:
        yield rec
    finally:
        _ACTIVE.reset(token)


def record(name: str, value) -> None:
    """Hand ``value`` (a tensor, a tuple/list of them, or None) to every active :func:`recording` as ``name``;
    nothing happens outside one."""
    active = _ACTIVE.get()
    if not active:
        return
    value = _detached(value)
    for rec in active:
        rec._values.setdefault(name, []).append(value)


def _detached(value):
    if isinstance(value, torch.Tensor):
        return value.detach().clone()
    if isinstance(value, tuple) and hasattr(value, "_fields"):       # a named tuple: LSTMStateTuple
        return type(value)(*(_detached(v) for v in value))
    if isinstance(value, (tuple, list)):
        return type(value)(_detached(v) for v in value)
    if value is None:
        return None
    raise TypeError(f"record: value must be a tensor, a tuple or list of tensors, or None; got "
                    f"{type(value).__name__}")
