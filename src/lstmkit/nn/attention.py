"""Attention over encoder outputs: Luong's dot and general scores, Bahdanau's additive score.

The decoder's query ``q (B, H)`` scores every source step's key; a softmax over the *valid* source steps only
(padding gets weight exactly 0) turns the scores into weights ``a (B, S)`` that sum to 1; the context is the
weighted sum of the encoder outputs ``(B, S, Hs) -> (B, Hs)``.

    dot:       score(q, k_s) = q . k_s                         (needs H == Hs)
    general:   score(q, k_s) = q . (W_a k_s)                   W_a: (Hs -> H)
    additive:  score(q, k_s) = v . tanh(W_q q + W_k k_s)       W_q: (H -> A), W_k: (Hs -> A), v: (A,)

Shape legend: ``B`` batch, ``S`` source steps, ``Hs`` encoder output size, ``H`` query size, ``A`` attention size.
"""
from __future__ import annotations

import torch
from torch import nn

SCORES = ("dot", "general", "additive")


class Attention(nn.Module):
    """``Attention(score, query_size, memory_size)``; call :meth:`keys` once per source batch, then
    ``attend(query, keys, memory, mask)`` at every decoder step.

    Example::

        >>> att = Attention("general", 8, 6)
        >>> memory = torch.randn(2, 5, 6); mask = torch.tensor([[1, 1, 1, 0, 0], [1] * 5]).bool()
        >>> context, weights = att.attend(torch.randn(2, 8), att.keys(memory), memory, mask)
        >>> context.shape, weights.sum(1)
        (torch.Size([2, 6]), tensor([1., 1.]))
    """

    def __init__(self, score: str, query_size: int, memory_size: int, attention_size: int | None = None):
        super().__init__()
        if score not in SCORES:
            raise ValueError(f"Attention: score must be one of {SCORES}, got {score!r}")
        if score == "dot" and query_size != memory_size:
            raise ValueError(f"Attention: the dot score needs query and memory of one size, got query_size "
                             f"{query_size} and memory_size {memory_size} (use 'general' or 'additive')")
        self.score, self.query_size, self.memory_size = score, query_size, memory_size
        if score == "general":
            self.w_a = nn.Linear(memory_size, query_size, bias=False)
        elif score == "additive":
            a = attention_size or query_size
            self.w_k = nn.Linear(memory_size, a, bias=False)
            self.w_q = nn.Linear(query_size, a, bias=True)
            self.v = nn.Linear(a, 1, bias=False)

    def keys(self, memory: torch.Tensor) -> torch.Tensor:
        """What the query is compared with, computed once per source batch: ``(B, S, Hs) -> (B, S, H or A)``."""
        if memory.dim() != 3 or memory.shape[2] != self.memory_size:
            raise ValueError(f"Attention.keys: memory must be (B, S, {self.memory_size}), got {tuple(memory.shape)}")
        if self.score == "general":
            return self.w_a(memory)                                            # (B, S, H)
        if self.score == "additive":
            return self.w_k(memory)                                            # (B, S, A)
        return memory

    def scores(self, query: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
        """Raw scores of ``query`` ``(B, H)`` -> ``(B, S)``, or of every step's ``(B, T, H)`` -> ``(B, T, S)``."""
        q = query.unsqueeze(1) if query.dim() == 2 else query                            # (B, T, H)
        if self.score == "additive":
            hidden = torch.tanh(keys.unsqueeze(1) + self.w_q(q).unsqueeze(2))          # (B, T, S, A)
            s = self.v(hidden).squeeze(3)                                              # (B, T, S)
        else:
            s = torch.bmm(q, keys.transpose(1, 2))                                     # (B, T, H) @ (B, H, S)
        return s.squeeze(1) if query.dim() == 2 else s

    def attend(self, query, keys, memory, mask) -> tuple[torch.Tensor, torch.Tensor]:
        """``(context, weights)``: ``(B, Hs)`` and ``(B, S)`` for a query ``(B, H)``, or ``(B, T, Hs)`` and
        ``(B, T, S)`` for every step's ``(B, T, H)``; ``mask (B, S)`` is True at valid source steps."""
        m = mask if query.dim() == 2 else mask.unsqueeze(1)
        scores = self.scores(query, keys).masked_fill(~m, float("-inf"))
        weights = torch.softmax(scores, dim=-1)                                        # 0 at padding
        if query.dim() == 2:
            return torch.bmm(weights.unsqueeze(1), memory).squeeze(1), weights         # (B, 1, S) @ (B, S, Hs)
        return torch.bmm(weights, memory), weights                                     # (B, T, S) @ (B, S, Hs)

    def extra_repr(self) -> str:
        return f"score={self.score!r}, query_size={self.query_size}, memory_size={self.memory_size}"
