"""Step 5 of the pipeline: the embedding lookup every model here starts with."""
from __future__ import annotations

import torch
from torch import nn

from ..checks import parameters_fit


def padded_embedding(rows: int, dim: int) -> nn.Embedding:
    """``nn.Embedding(rows, dim)`` whose row 0 (``<pad>``) is zero and gets no gradient; the others ~ N(0, 0.1)."""
    parameters_fit("embedding", rows * dim, f"{rows:,} rows x {dim:,} dimensions")
    emb = nn.Embedding(rows, dim, padding_idx=0)
    nn.init.normal_(emb.weight, 0.0, 0.1)
    with torch.no_grad():
        emb.weight[0].zero_()
    return emb
