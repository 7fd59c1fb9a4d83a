"""Zoneout (Krueger et al. 2017, "Zoneout: regularizing RNNs by randomly preserving hidden activations"), an option
of every cell: ``zoneout_c`` and ``zoneout_h``, the probabilities that a unit of ``c`` (of ``h``) keeps its previous
value at a step.

In training each unit draws its own Bernoulli mask (from ``cell.generator`` when set, else PyTorch's default
generator, so ``torch.manual_seed`` reproduces the masks); in evaluation the step returns the expectation
``z * previous + (1 - z) * new``. The output ``h_t`` is the zoned-out ``h``.

Shape legend: ``B`` batch, ``T`` time steps, ``H`` units, ``P`` the size of ``h``.
"""
from __future__ import annotations

import math

import torch


def check_probability(owner: str, name: str, value) -> float:
    """A probability in [0, 1): zoneout's (1 would freeze the state at its initial value)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value < 1.0:
        raise ValueError(f"{owner}: {name} must be a number in [0, 1), got {value!r}")
    return float(value)


def _bernoulli(shape: tuple, p: float, generator, device):
    """``shape`` bool, each True with probability ``p`` rounded to a multiple of 1/32768 (None where ``p`` is 0):
    15 random bits a unit, two units from each 31-bit draw of the generator, twice as fast on a CPU as comparing
    ``torch.rand`` with ``p``, which takes one draw a unit."""
    if not p:
        return None
    n = math.prod(shape)
    draws = torch.empty((n + 1) // 2, dtype=torch.int32, device=device).random_(generator=generator)  # [0, 2^31)
    bits = draws.view(torch.int16)[:n].bitwise_and(0x7FFF)                        # two 15-bit numbers a draw
    return (bits < round(p * 32768)).view(shape)


class Zoneout:
    """What a cell needs for zoneout; mixed into the cells' base class (which has ``num_units``, ``proj_size`` and
    ``training``). Its step calls :meth:`_zoneout` on the new state."""

    def _init_zoneout(self, zoneout_c, zoneout_h, generator) -> None:
        name = type(self).__name__
        self.zoneout_c = check_probability(name, "zoneout_c", zoneout_c)
        self.zoneout_h = check_probability(name, "zoneout_h", zoneout_h)
        if generator is not None and not isinstance(generator, torch.Generator):
            raise TypeError(f"{name}: generator must be a torch.Generator or None, got {type(generator).__name__}")
        self.generator = generator

    @property
    def zoneout(self) -> bool:
        """Whether the cell zones out ``c`` or ``h`` (``zoneout_c`` or ``zoneout_h`` above 0)."""
        return bool(self.zoneout_c or self.zoneout_h)

    def zoneout_masks(self, batch: int, steps: int, like: torch.Tensor):
        """``(keep_c (B, T, H), keep_h (B, T, P))`` bool, True where a unit keeps its previous value, drawn from
        ``self.generator`` (``c`` first, then ``h``; random integers, whatever the dtype, so float32 and float64 cells
        draw the same masks; :func:`_bernoulli`); a part is None when its probability is 0. None outside training."""
        if not (self.training and self.zoneout):
            return None
        keep_c = _bernoulli((batch, steps, self.num_units), self.zoneout_c, self.generator, like.device)
        keep_h = _bernoulli((batch, steps, self.proj_size), self.zoneout_h, self.generator, like.device)
        return keep_c, keep_h

    def _zoneout_repr(self) -> str:
        return "".join(f", {n}={getattr(self, n)}" for n in ("zoneout_c", "zoneout_h") if getattr(self, n))

    def _zoneout(self, prev, new, masks):
        """Zoneout of one step: ``masks`` ``(keep_c (B, H), keep_h (B, P))`` in training (drawn here when None),
        the expectation in evaluation."""
        if self.training:
            keep_c, keep_h = masks if masks is not None else (
                m if m is None else m[:, 0] for m in self.zoneout_masks(new.c.shape[0], 1, new.c))
            c = new.c if keep_c is None else torch.where(keep_c, prev.c, new.c)
            h = new.h if keep_h is None else torch.where(keep_h, prev.h, new.h)
            return type(new)(c, h)
        zc, zh = self.zoneout_c, self.zoneout_h
        return type(new)(zc * prev.c + (1 - zc) * new.c if zc else new.c,
                         zh * prev.h + (1 - zh) * new.h if zh else new.h)
