"""Batches of similar lengths (less padding), in an order fixed by a seed."""
from __future__ import annotations

import numpy as np


def bucket_batches(lengths, batch_size: int, shuffle: bool = True, seed: int = 0, pool: int = 50):
    """Index batches: shuffle, sort by length inside pools of ``pool * batch_size`` examples, cut into
    batches, shuffle the batches. The same ``seed`` always gives the same batches.

    Returns a list of index arrays; every example appears exactly once.
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"bucket_batches: batch_size must be a positive int, got {batch_size!r}")
    lengths = np.asarray(lengths)
    n = len(lengths)
    rng = np.random.default_rng(seed)
    order = rng.permutation(n) if shuffle else np.arange(n)
    batches = []
    span = batch_size * pool
    for start in range(0, n, span):
        chunk = order[start: start + span]
        chunk = chunk[np.argsort(-lengths[chunk], kind="stable")]
        batches += [chunk[k: k + batch_size] for k in range(0, len(chunk), batch_size)]
    if shuffle:
        batches = [batches[k] for k in rng.permutation(len(batches))]
    return batches
