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


class PaddedBatches:
    """Length-bucketed batches of padded tensors, built lazily; ``len()`` counts them without building any.

    ``sequences``: id lists per field (``"ids"`` drives the lengths and the bucketing; every field has one
    list per example, as long as its ``"ids"``). ``per_example``: arrays with one value per example (labels).
    Each batch: ``{field: (B, T) int64, "lengths": (B,), "index": example indices, per_example fields}``, on
    ``device``.
    """

    def __init__(self, sequences: dict, batch_size: int, shuffle: bool = False, seed: int = 0,
                 device=None, per_example: dict | None = None):
        self.sequences = {k: v for k, v in sequences.items() if v is not None}
        self.per_example = {k: v for k, v in (per_example or {}).items() if v is not None}
        self.device = device
        self.order = bucket_batches([len(s) for s in self.sequences["ids"]], batch_size, shuffle=shuffle,
                                    seed=seed)

    def __len__(self) -> int:
        return len(self.order)

    def __iter__(self):
        import torch

        from ..text.padding import pad_sequences

        for idx in self.order:
            batch = {"index": idx}
            for name, seqs in self.sequences.items():
                padded, lengths = pad_sequences([seqs[i] for i in idx])
                batch[name] = torch.from_numpy(padded).to(self.device)
                if name == "ids":
                    batch["lengths"] = torch.from_numpy(lengths).to(self.device)
            for name, values in self.per_example.items():
                batch[name] = torch.from_numpy(np.asarray(values)[idx]).to(self.device)
            yield batch
