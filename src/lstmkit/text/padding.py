"""Step 4 of the pipeline: pad every sequence to one length with 0, and keep the true lengths."""
from __future__ import annotations

from typing import Sequence

import numpy as np


def pad_sequences(sequences: Sequence[Sequence[int]], maxlen: int | None = None, padding: str = "post",
                  truncating: str = "post", value: int = 0, dtype="int64") -> tuple[np.ndarray, np.ndarray]:
    """Pad (and truncate) id sequences to ``maxlen``; Keras's ``pad_sequences`` semantics, plus the lengths.

    Args:
        sequences: N lists of ids.
        maxlen: the common length; None: the longest sequence's.
        padding: ``"post"`` (default) pads at the end, ``"pre"`` at the start.
        truncating: ``"post"`` (default) drops ids from the end of longer sequences, ``"pre"`` from the start.
        value: the padding id (0, ``<pad>``).
        dtype: an integer type (default int64); every id and ``value`` must fit in it.

    Returns:
        ``(padded (N, maxlen), lengths (N,))``: ``lengths[n]`` counts the real ids kept.

    The only difference from Keras is the defaults: Keras pads and truncates "pre"; lstmkit defaults to "post"
    because the engine masks by ``lengths`` and expects each sequence's real steps first. With
    ``padding="pre"`` the real steps sit at the end: pass such arrays to an LSTM without lengths.

    Ids are ints: a float, a string, a nested list or an id outside ``dtype`` is a ValueError naming the
    sequence, never truncated or wrapped around.
    """
    for name, v in (("padding", padding), ("truncating", truncating)):
        if v not in ("pre", "post"):
            raise ValueError(f"pad_sequences: {name} must be 'pre' or 'post', got {v!r}")
    dtype = np.dtype(dtype)
    if dtype.kind not in "iu":
        raise ValueError(f"pad_sequences: dtype must be an integer type (ids), got {dtype}")
    low, high = np.iinfo(dtype).min, np.iinfo(dtype).max
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not low <= value <= high:
        raise ValueError(f"pad_sequences: value must be an int from {low} to {high} ({dtype}), got {value!r}")
    if isinstance(sequences, (str, bytes)):
        raise TypeError(f"pad_sequences: sequences must be a list of id lists, got a {type(sequences).__name__}")
    seqs = [list(s) for s in sequences]
    if maxlen is None:
        maxlen = max((len(s) for s in seqs), default=0)
    elif isinstance(maxlen, bool) or not isinstance(maxlen, (int, np.integer)) or maxlen < 0:
        raise ValueError(f"pad_sequences: maxlen must be a non-negative int or None, got {maxlen!r}")
    out = np.full((len(seqs), maxlen), value, dtype=dtype)
    lengths = np.zeros(len(seqs), dtype=np.int64)
    for n, s in enumerate(seqs):
        if not s or maxlen == 0:
            continue
        kept = s[-maxlen:] if truncating == "pre" else s[:maxlen]
        try:
            ids = np.asarray(kept)           # ints beyond int64 give dtype object, floats float64: refused below
        except (ValueError, TypeError):      # ragged nesting
            ids = None
        if ids is None or ids.ndim != 1 or ids.dtype.kind not in "iu" or ids.min() < low or ids.max() > high:
            raise ValueError(f"pad_sequences: sequence {n} must hold {dtype} ids (ints from {low} to {high}), got "
                             f"{repr(kept)[:80]}")
        if padding == "post":
            out[n, : len(kept)] = kept
        else:
            out[n, maxlen - len(kept):] = kept
        lengths[n] = len(kept)
    return out, lengths
