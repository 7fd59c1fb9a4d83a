"""A linear-chain CRF over per-step emissions: log-likelihood by the forward algorithm, Viterbi decoding.

Shape legend: ``B`` batch, ``T`` time steps, ``K`` tags. Both algorithms run on the whole batch at once and
loop only over time; a sequence's steps past its length leave its forward variables untouched, so no Python
loop ever runs over batch items.

Scores: ``score(y) = start[y_0] + sum_t emissions[t, y_t] + sum_t transitions[y_(t-1), y_t] + end[y_(L-1)]``;
``log p(y) = score(y) - log Z`` with ``log Z = logsumexp over every tag sequence``. Optional constraints forbid
transitions (e.g. O -> E-PER): a forbidden move scores ``-10000``, so it is never decoded and its probability
is zero to float precision.
"""
from __future__ import annotations

import torch
from torch import nn

from .sequences import valid_mask

FORBIDDEN = -10_000.0


class CRF(nn.Module):
    """Linear-chain CRF with ``transitions (K, K)`` (from, to), ``start (K,)`` and ``end (K,)`` scores.

    Args:
        num_tags: ``K``.
        allowed: optional ``(K, K)`` bool, ``allowed[i, j]`` when tag ``j`` may follow tag ``i``.
        allowed_start, allowed_end: optional ``(K,)`` bool, the tags a sequence may begin / end with.
    """

    def __init__(self, num_tags: int, allowed=None, allowed_start=None, allowed_end=None):
        super().__init__()
        if isinstance(num_tags, bool) or not isinstance(num_tags, int) or num_tags < 1:
            raise ValueError(f"CRF: num_tags must be a positive int, got {num_tags!r}")
        self.num_tags = num_tags
        self.transitions = nn.Parameter(torch.empty(num_tags, num_tags).uniform_(-0.1, 0.1))
        self.start = nn.Parameter(torch.zeros(num_tags))
        self.end = nn.Parameter(torch.zeros(num_tags))
        K = num_tags
        for name, mask, shape in (("allowed", allowed, (K, K)), ("allowed_start", allowed_start, (K,)),
                                  ("allowed_end", allowed_end, (K,))):
            mask = torch.ones(shape, dtype=torch.bool) if mask is None else torch.as_tensor(mask, dtype=torch.bool)
            if tuple(mask.shape) != shape:
                raise ValueError(f"CRF: {name} must be {shape}, got {tuple(mask.shape)}")
            self.register_buffer(f"_{name}", mask, persistent=False)

    def _scores(self, dtype):
        """Transitions, start and end scores with the forbidden moves pushed to ``FORBIDDEN``."""
        def penalty(mask):
            return torch.zeros(mask.shape, dtype=dtype, device=mask.device).masked_fill(~mask, FORBIDDEN)

        return (self.transitions + penalty(self._allowed), self.start + penalty(self._allowed_start),
                self.end + penalty(self._allowed_end))

    def _check(self, emissions, lengths):
        if emissions.dim() != 3 or emissions.shape[2] != self.num_tags:
            raise ValueError(f"CRF: emissions must be (B, T, {self.num_tags}), got {tuple(emissions.shape)}")
        B, T = emissions.shape[:2]
        if lengths is None:
            return torch.full((B,), T, dtype=torch.long, device=emissions.device)
        lengths = torch.as_tensor(lengths, device=emissions.device).long()
        if lengths.shape != (B,) or int(lengths.min()) < 1 or int(lengths.max()) > T:
            raise ValueError(f"CRF: lengths must be ({B},) with values in 1..{T}, got {lengths.tolist()}")
        return lengths

    def log_partition(self, emissions: torch.Tensor, lengths=None) -> torch.Tensor:
        """``log Z`` per sequence, ``(B,)``: the forward algorithm.

        Each step is ``alpha'_j = logsumexp_i(alpha_i + trans_ij) + e_j``, computed as a matrix product in
        exp space, shifted for stability: ``m + log(exp(alpha - m) @ exp(trans - tmax)) + tmax`` with ``m`` each
        row's max: one ``(B, K) @ (K, K)`` per step instead of exponentiating a ``(B, K, K)`` block.
        """
        lengths = self._check(emissions, lengths)
        trans, start, end = self._scores(emissions.dtype)
        tmax = trans.max().detach()
        exp_trans = torch.exp(trans - tmax)                                     # (K, K), forbidden moves -> 0
        tiny = torch.finfo(emissions.dtype).tiny
        alpha = start + emissions[:, 0]                                         # (B, K)
        for t in range(1, emissions.shape[1]):
            m = alpha.max(dim=1, keepdim=True).values.detach()                  # (B, 1)
            summed = torch.exp(alpha - m) @ exp_trans                           # (B, K) @ (K, K) -> (B, K)
            nxt = torch.log(summed.clamp_min(tiny)) + m + tmax + emissions[:, t]
            alpha = torch.where((t < lengths).unsqueeze(1), nxt, alpha)
        return torch.logsumexp(alpha + end, dim=1)

    def score(self, emissions: torch.Tensor, tags: torch.Tensor, lengths=None) -> torch.Tensor:
        """The score of the given tag sequences ``tags (B, T)``, ``(B,)``."""
        lengths = self._check(emissions, lengths)
        trans, start, end = self._scores(emissions.dtype)
        B, T = tags.shape
        valid = valid_mask(lengths, T).to(emissions.dtype)                                 # (B, T)
        emit = emissions.gather(2, tags.unsqueeze(2)).squeeze(2)              # (B, T)
        moves = trans[tags[:, :-1], tags[:, 1:]]                               # (B, T-1)
        last = tags.gather(1, (lengths - 1).unsqueeze(1)).squeeze(1)           # (B,)
        return start[tags[:, 0]] + (emit * valid).sum(1) + (moves * valid[:, 1:]).sum(1) + end[last]

    def log_likelihood(self, emissions, tags, lengths=None) -> torch.Tensor:
        """``log p(tags | emissions)`` per sequence, ``(B,)``; training minimises its negative mean."""
        return self.score(emissions, tags, lengths) - self.log_partition(emissions, lengths)

    @torch.no_grad()
    def viterbi(self, emissions: torch.Tensor, lengths=None):
        """The best tag sequence per sequence: ``(tags (B, T) zero past each length, scores (B,))``."""
        lengths = self._check(emissions, lengths)
        trans, start, end = self._scores(emissions.dtype)
        B, T, K = emissions.shape
        delta = start + emissions[:, 0]                                          # (B, K)
        keep = torch.arange(K, device=emissions.device).expand(B, K)
        back = []
        for t in range(1, T):
            best, arg = (delta.unsqueeze(2) + trans).max(dim=1)                 # (B, K) each
            running = (t < lengths).unsqueeze(1)
            delta = torch.where(running, best + emissions[:, t], delta)
            back.append(torch.where(running, arg, keep))                        # past the end: stay put
        scores, last = (delta + end).max(dim=1)
        path = [last]
        for arg in reversed(back):
            path.append(arg.gather(1, path[-1].unsqueeze(1)).squeeze(1))
        tags = torch.stack(path[::-1], dim=1)                                   # (B, T)
        tags = tags.masked_fill(~valid_mask(lengths, T), 0)
        return tags, scores
