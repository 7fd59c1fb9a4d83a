"""Helpers for padded batches of sequences ``(B, T, ...)`` with true ``lengths`` ``(B,)``."""
from __future__ import annotations

import torch


class _Involution(torch.autograd.Function):
    """``x[b, idx[b, t]]`` for an index that is its own inverse: the backward is the same gather (no scatter)."""

    @staticmethod
    def forward(ctx, x, idx):
        ctx.save_for_backward(idx)
        return x.gather(1, idx)

    @staticmethod
    def backward(ctx, grad):
        (idx,) = ctx.saved_tensors
        return grad.gather(1, idx), None


def reverse_within_lengths(x: torch.Tensor, lengths: torch.Tensor | None) -> torch.Tensor:
    """Reverse each sequence of ``x (B, T, ...)`` within its own length; padding stays where it is.

    Its own inverse, so the same call aligns a backward pass's outputs back to the input positions.
    """
    if lengths is None:
        return x.flip(1)
    T = x.shape[1]
    t = torch.arange(T, device=x.device).unsqueeze(0)                      # (1, T)
    n = lengths.to(x.device).unsqueeze(1)                                  # (B, 1)
    idx = torch.where(t < n, n - 1 - t, t)                                 # (B, T)
    idx = idx.view(*idx.shape, *([1] * (x.dim() - 2))).expand(x.shape)     # (B, T, ...)
    return _Involution.apply(x, idx)


def valid_mask(lengths: torch.Tensor, time: int) -> torch.Tensor:
    """``(B, T)`` bool: True at the steps each sequence really has."""
    return torch.arange(time, device=lengths.device) < lengths.unsqueeze(1)


def stack_directions(layers, x: torch.Tensor, lengths: torch.Tensor | None, dropout: float, training: bool, run):
    """Drive a stack ``layers[k][d]`` layer by layer, direction by direction.

    ``run(k, d, cell, xs) -> (outputs (B, T, P), final state)`` runs one cell over ``xs``; the backward
    direction (``d = 1``) gets each sequence reversed within its length and its outputs are re-aligned.
    Dropout (in training) falls on every layer's input but the first. Returns ``(outputs (B, T, D*P),
    final[k][d])``.
    """
    final = []
    for k, layer in enumerate(layers):
        if k and dropout and training:
            x = torch.nn.functional.dropout(x, dropout, True)
        outs, states = [], []
        for d, cell in enumerate(layer):
            xs = x if d == 0 else reverse_within_lengths(x, lengths)
            out, state = run(k, d, cell, xs)
            outs.append(out if d == 0 else reverse_within_lengths(out, lengths))
            states.append(state)
        x = outs[0] if len(outs) == 1 else torch.cat(outs, dim=2)             # (B, T, D*P)
        final.append(states)
    return x, final
