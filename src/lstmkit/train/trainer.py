"""The trainer, shared by every task. It knows only the task contract (:class:`lstmkit.train.task.Task`):
``loss = task.step(batch)``, ``task.batches(...)`` (an iterable with ``len()``), ``task.evaluate(...)`` and
``task.primary_metric`` (higher is better unless ``greater_is_better`` is False, as for perplexity and errors);
what a batch holds is the task's. Throughput counts ``task.count(batch)`` of the task's ``unit`` (sentences; a
language model counts tokens).

AdamW, gradient clipping, a warm-up then linear-decay learning rate, early stopping on the dev metric (ties
broken by the dev loss), the best epoch's weights kept, seeds for determinism, a progress bar with loss and
sentences/s, and one line of metrics per epoch (``on_epoch``; the CLI appends them to ``metrics.jsonl``).
Optional mixed precision (``amp``): bfloat16 autocast, or float16 autocast with loss scaling (CUDA); the weights,
the optimizer state and evaluation stay float32.
"""
from __future__ import annotations

import contextlib
import copy
import itertools
import os
import random
import time
from dataclasses import dataclass

import numpy as np
import torch
from tqdm.auto import tqdm

from ..checks import positive_ints
from . import distributed
from .optim import WeightAverage, lr_factor, make_optimizer
from .resume import TrainingInterrupted, TrainingState, signals_noted, test_kill_after


class TrainingError(ValueError):
    """Training cannot go on (a NaN loss, an empty training set); the message says what to change."""


@dataclass
class TrainConfig:
    epochs: int = 5
    batch_size: int = 64
    lr: float = 2e-3
    weight_decay: float = 0.01
    clip: float = 5.0              # max global gradient norm; 0 disables
    warmup: float = 0.05           # share of the steps spent warming up
    schedule: str = "linear"       # "linear" decay to zero, "cosine", or "constant"
    patience: int = 3              # epochs without dev improvement before stopping; 0 disables
    seed: int = 13
    progress: bool = True
    device: str = "auto"           # "auto" (CUDA when available, else CPU), "cpu", "cuda", "cuda:1", ...
    amp: str = "off"               # mixed precision: "off", "bf16" (autocast), "fp16" (autocast + loss scaling; CUDA)
    ema: float = 0.0               # decay of an exponential moving average of the weights; 0 disables
    accumulate: int = 1            # micro-batches of batch_size per optimizer step (one batch N times larger)
    checkpoint_every: int = 0      # optimizer steps between checkpoints (0: epoch ends, and every 10 minutes)

    def check(self) -> "TrainConfig":
        positive_ints(self, ("epochs", "batch_size", "accumulate"))
        if isinstance(self.checkpoint_every, bool) or not isinstance(self.checkpoint_every, int) or \
                self.checkpoint_every < 0:
            raise ValueError(f"checkpoint_every must be an int >= 0 (0: at epoch ends), got {self.checkpoint_every!r}")
        if not self.lr > 0:
            raise ValueError(f"lr must be positive, got {self.lr!r}")
        if self.schedule not in ("linear", "cosine", "constant"):
            raise ValueError(f"schedule must be linear, cosine or constant, got {self.schedule!r}")
        if isinstance(self.ema, bool) or not isinstance(self.ema, (int, float)) or not 0.0 <= self.ema < 1.0:
            raise ValueError(f"ema must be a decay in [0, 1) (0: off; e.g. 0.999), got {self.ema!r}")
        device = resolve_device(self.device)
        if self.amp not in AMP_DTYPES:
            raise ValueError(f"amp must be off, bf16 or fp16, got {self.amp!r}")
        if self.amp == "fp16" and device.type != "cuda":
            raise ValueError(f"amp fp16 needs a CUDA device (training runs on {device}); use bf16 or off")
        return self


AMP_DTYPES = {"off": None, "bf16": torch.bfloat16, "fp16": torch.float16}


def resolve_device(name: str) -> torch.device:
    """``"auto"`` -> CUDA when available, else CPU; anything else must name a device this machine has."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ValueError(f"device must be auto, cpu or cuda[:N], got {name!r}") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {name!r} asked for, but this machine has no CUDA GPU (use cpu or auto)")
    return device


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _better(new: dict, old: dict, metric: str, greater: bool = True) -> bool:
    """A better dev metric wins (higher, or lower when not ``greater``); at a tie, a lower dev loss (when the
    task reports one)."""
    if new[metric] != old[metric]:
        return bool(new[metric] > old[metric]) == greater
    return bool("loss" in new and "loss" in old and new["loss"] < old["loss"])


def split_batch(batch: dict, parts: int) -> list[dict]:
    """``batch`` cut into ``parts`` consecutive micro-batches (sizes differing by one at most): every value whose
    first dimension is the batch's ``B = len(batch["index"])`` is sliced; the rest (flags, padded length ``T``)
    is shared, so each example is computed exactly as in the whole batch."""
    size = len(batch["index"])
    bounds = np.linspace(0, size, parts + 1).round().astype(int)

    def cut(v, a: int, b: int):
        per_example = (hasattr(v, "shape") and len(v.shape) and v.shape[0] == size) or (
            isinstance(v, list) and len(v) == size)
        return v[a:b] if per_example else v

    return [{k: cut(v, a, b) for k, v in batch.items()} for a, b in itertools.pairwise(bounds) if b > a]


def fit(task, train, dev, config: TrainConfig, on_epoch=None, on_best=None, checkpoints=None) -> dict:
    """Train ``task.model`` on the encoded ``train`` set, select on ``dev``; returns the best epoch's record.

    ``on_epoch(record)`` is called after every epoch with ``{"epoch", "train_loss", "dev": metrics, "lr",
    "seconds", "<unit>_per_s"}`` (``sentences_per_s`` unless the task says otherwise); ``on_best(record)``
    whenever the dev metric improves. At the end the model holds the best epoch's weights. With ``config.ema``
    the dev set scores, and the best epoch keeps, the moving average of the weights instead of the last ones.

    One optimizer step takes a batch of ``batch_size * accumulate`` examples, in ``accumulate`` micro-batches
    whose gradients add up to the whole batch's (each loss weighted by its share of ``task.count``).
    ``checkpoints`` (a :class:`lstmkit.train.resume.Checkpoints`) saves the training as it goes and, when it
    holds one, continues from its last checkpoint: the result is the same, bit for bit, as a training that never
    stopped. SIGINT and SIGTERM then save a checkpoint and raise :class:`TrainingInterrupted`.

    Under torchrun (``WORLD_SIZE`` > 1) every rank calls ``fit`` on the same data and trains its share of each
    global batch (:mod:`lstmkit.train.distributed`); rank 0 alone scores ``dev``, calls ``on_epoch`` and
    ``on_best`` and saves checkpoints; a checkpoint to resume from is rank 0's, sent to the others.
    """
    config.check()
    seed_everything(config.seed)
    device = resolve_device(config.device)
    group = distributed.setup(device)
    device = distributed.rank_device(device, group)
    main = group is None or group.main
    model = task.model.to(device)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = make_optimizer(params, config)
    amp = AMP_DTYPES[config.amp]
    # float16 needs its loss scaled against underflowing gradients; bfloat16 has float32's range and needs none
    scaler = torch.amp.GradScaler(device.type, enabled=config.amp == "fp16")
    carries = getattr(task, "carries_state", False)
    if carries and config.accumulate > 1:
        raise ValueError(f"{task.name}: accumulate must be 1: its batches carry the model's state from one to the "
                         f"next, so a batch cannot be cut into micro-batches (use a larger batch size)")
    big = config.batch_size * config.accumulate
    n_batches = len(task.batches(train, big, shuffle=True, seed=config.seed))    # optimizer steps per epoch
    if n_batches == 0:
        raise TrainingError("the training set is empty")
    total = n_batches * config.epochs
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: lr_factor(s, total, config.warmup, config.schedule))
    ema = WeightAverage(params, config.ema) if config.ema else None
    state = TrainingState(model, opt, sched, scaler, ema)
    best_state = None
    saved = checkpoints.saved if checkpoints is not None else None
    if group is not None:     # rank 0's checkpoint (only it reads the run folder), or its initial weights
        tensors = distributed.broadcast_tensors(saved[0] if saved else None)
        saved = None if tensors is None else (tensors, distributed.broadcast_json(saved[1] if saved else None))
        if saved is None:
            distributed.broadcast_parameters(model)
    if saved is not None:
        tensors, meta = saved
        state.restore(tensors, meta)
        if state.position.best is not None:
            best_state = {k[len("best."):]: v.to(device) for k, v in tensors.items() if k.startswith("best.")}
    pos = state.position
    metric, greater, unit, count = task.primary_metric, task.greater_is_better, task.unit, task.count
    kill_after, kill_with = test_kill_after(group)

    if saved is not None and state.carried is not None:     # mid-epoch: the rows' state where it stopped
        task.restore_carried(distributed.rows_of(state.carried, group))
    rows = None                      # the last global batch's rows (a carried state is cut as they are)

    def checkpoint(stop: bool) -> None:
        # the state a stateful task carries into the next batch, all its rows (gathered from every rank)
        state.carried = distributed.gather_rows(task.carried_state(), rows, group) if carries and pos.step else None
        if main:
            checkpoints.save(state)
        if stop and group is not None:
            distributed.barrier()     # every rank stops once rank 0's checkpoint is on disk
        if stop:
            raise TrainingInterrupted(f"interrupted: checkpoint saved at epoch {pos.epoch} step {pos.step}; "
                                      f"continue with --resume")

    with signals_noted(checkpoints is not None) as signals:
        while pos.epoch <= config.epochs and not (config.patience and pos.stale >= config.patience):
            epoch = pos.epoch
            model.train()
            t0 = time.perf_counter() - pos.seconds
            batches = task.batches(train, big, shuffle=True, seed=config.seed + epoch)
            bar = tqdm(itertools.islice(batches, pos.step, None), total=n_batches, initial=pos.step,
                       desc=f"epoch {epoch}/{config.epochs}", disable=not (config.progress and main), leave=False,
                       unit="batch")
            stop = False
            for batch in bar:
                whole, rows = count(batch), len(batch["index"])    # the global batch's examples (or tokens), rows
                if group is not None:                  # this rank's consecutive share of the global batch
                    if carries and rows < group.world:
                        raise ValueError(f"{task.name} under torchrun: {rows} rows of text for {group.world} "
                                         f"processes; use fewer processes or a larger --batch-size")
                    shares = split_batch(batch, group.world)
                    batch = shares[group.rank] if group.rank < len(shares) else None
                    torch.manual_seed(distributed.step_seed(config.seed, group.rank, pos.global_step))
                micro = [] if batch is None else split_batch(batch, config.accumulate) if config.accumulate > 1 \
                    else [batch]
                counts = [count(m) for m in micro]
                opt.zero_grad(set_to_none=True)
                loss_sum = 0.0
                for part, n in zip(micro, counts):
                    with torch.autocast(device.type, dtype=amp, enabled=amp is not None):
                        loss = task.step(part)  # the forward pass and the loss, in the autocast dtype where it helps
                    if not torch.isfinite(loss):
                        raise TrainingError(f"the loss became {loss.item()} at epoch {epoch} (after {pos.seen:,} "
                                            f"sentences); lower --lr (now {config.lr:g}) or keep --clip on (now "
                                            f"{config.clip:g})")
                    # the micro-batches' mean losses, weighted by their share: the whole batch's mean
                    scaler.scale(loss if n == whole else loss * (n / whole)).backward()
                    loss_sum += loss.item() * n
                stop = signals["stop"]
                due = checkpoints is not None and main and checkpoints.due(pos.global_step + 1)
                if group is not None:       # the whole batch's gradient on every rank; a signal stops them all,
                    loss_sum, stops, dues = distributed.sum_gradients(params, [loss_sum, float(stop), float(due)])
                    stop, due = stops > 0, dues > 0     # and rank 0's clock saves on every rank at the same step
                pos.seen += whole
                pos.loss_sum += loss_sum
                if config.clip > 0:
                    scaler.unscale_(opt)
                    torch.nn.utils.clip_grad_norm_(params, config.clip)
                scaler.step(opt)
                scaler.update()
                sched.step()
                if ema is not None:
                    ema.update()
                pos.step += 1
                pos.global_step += 1
                rate = pos.seen / (time.perf_counter() - t0)
                bar.set_postfix({"loss": f"{pos.loss_sum / pos.seen:.4f}", f"{unit}/s": f"{rate:.0f}"})
                if pos.step < n_batches and (stop or due):
                    pos.seconds = time.perf_counter() - t0
                    checkpoint(stop)
                if pos.global_step == kill_after:
                    os.kill(os.getpid(), kill_with)
            bar.close()
            seconds = time.perf_counter() - t0
            # scored, kept and saved: the weights themselves, or their moving average with ema
            with ema.swapped() if ema is not None else contextlib.nullcontext():
                dev_metrics = task.evaluate(dev) if main else None
                if group is not None:    # scored by rank 0 alone: every rank selects and stops alike
                    dev_metrics = distributed.broadcast_json(dev_metrics)
                record = {"epoch": epoch, "train_loss": pos.loss_sum / pos.seen, "dev": dev_metrics,
                          "lr": sched.get_last_lr()[0], "seconds": round(seconds, 2),
                          f"{unit}_per_s": round(pos.seen / seconds, 1), "unit": unit}
                improved = pos.best is None or _better(dev_metrics, pos.best["dev"], metric, greater)
                record["best"] = improved
                if on_epoch and main:
                    on_epoch(record)
                if improved:
                    pos.best, pos.stale = record, 0
                    best_state = copy.deepcopy(model.state_dict())
                    if on_best and main:
                        on_best(record)
                else:
                    pos.stale += 1
            pos.next_epoch()
            stop = signals["stop"] if group is None else distributed.any_rank(signals["stop"])
            if checkpoints is not None:
                checkpoint(stop)
    model.load_state_dict(best_state)
    return pos.best
