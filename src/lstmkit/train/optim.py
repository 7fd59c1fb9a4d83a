"""The optimizer, its learning-rate schedule and the moving average of the weights, as the trainer uses them."""
from __future__ import annotations

import contextlib
import math
from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:
    from .trainer import TrainConfig

def lr_factor(step: int, total: int, warmup: float, schedule: str) -> float:
    """The learning rate's factor at optimizer step ``step`` of ``total``: a linear warm-up over ``warmup`` of
    the steps, then a linear decay to zero, a cosine, or constant (``schedule``)."""
    warm = max(1, int(total * warmup)) if warmup > 0 else 0
    if step < warm:
        return (step + 1) / warm
    if schedule == "constant":
        return 1.0
    progress = (step - warm) / max(1, total - warm)
    if schedule == "cosine":
        return 0.5 * (1 + math.cos(math.pi * progress))
    return max(0.0, 1.0 - progress)


def make_optimizer(params: list, config: "TrainConfig", fused: bool | None = None) -> torch.optim.AdamW:
    """AdamW with weight decay on matrices only (not on biases, gains or CRF start/end scores).

    ``fused`` (default: on CPU and CUDA) updates every parameter in one pass of one kernel instead of a chain of
    whole-tensor operations: the same result to rounding, and faster where a large embedding dominates (a whole
    training step of the MSRA tagger with 135,000 character bigrams: 1.8-1.9x; ``benchmarks/bench_optimizer.py``).
    """
    params = list(params)
    if fused is None:
        fused = bool(params) and all(p.device.type in ("cpu", "cuda") for p in params)
    decay = [p for p in params if p.dim() > 1]
    no_decay = [p for p in params if p.dim() <= 1]
    return torch.optim.AdamW([{"params": decay, "weight_decay": config.weight_decay},
                              {"params": no_decay, "weight_decay": 0.0}], lr=config.lr, fused=fused)


class WeightAverage:
    """An exponential moving average of parameters (Polyak averaging; Keras's ``use_ema``, TensorFlow's
    ``ExponentialMovingAverage``): after update ``n`` the average moves toward the weights by
    ``1 - min(decay, (1 + n) / (10 + n))``, so the first updates are not dominated by the initial weights.

    ``swapped()`` is a context in which the parameters hold the average (to evaluate or save it); on leaving,
    the training weights are back.
    """

    def __init__(self, params: list, decay: float):
        self.params, self.decay, self.updates = list(params), decay, 0
        self.average = [p.detach().clone() for p in self.params]

    @torch.no_grad()
    def update(self) -> None:
        self.updates += 1
        decay = min(self.decay, (1 + self.updates) / (10 + self.updates))
        torch._foreach_lerp_(self.average, [p.detach() for p in self.params], 1.0 - decay)

    @contextlib.contextmanager
    def swapped(self):
        with torch.no_grad():
            training = [p.detach().clone() for p in self.params]
            for p, a in zip(self.params, self.average):
                p.copy_(a)
        try:
            yield
        finally:
            with torch.no_grad():
                for p, t in zip(self.params, training):
                    p.copy_(t)
