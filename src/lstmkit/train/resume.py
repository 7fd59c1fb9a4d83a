"""Training checkpoints: all that :func:`lstmkit.train.trainer.fit` needs to go on exactly where it stopped.

A checkpoint holds the weights, AdamW's state, the learning-rate schedule's step count, the loss scaler, the
moving average of the weights (``--ema``), every random generator (Python's, NumPy's global one, torch's on the
CPU and on each CUDA device) and the position: the epoch, the optimizer steps done in it (the batch order is a
function of ``seed + epoch``, so skipping that many batches puts the data where it was), the running loss, the
best epoch's record and the early-stopping counter. The best epoch's weights are the run's ``model.safetensors``.

Two files in the run folder, nothing pickled: ``checkpoint-<n>.safetensors`` (every tensor, the optimizer's state
flattened to ``optimizer.<param>.<key>``) and ``checkpoint.json`` (the rest, with the tensors file's name, size
and SHA-256). Both are written atomically, the JSON last: it is the commit marker, so a process killed at any
instant leaves the previous checkpoint whole; older tensor files are removed only after the JSON names the new one.
When the training ends both files go, and the run's ``config.json`` says ``"finished": true``.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import random
import signal
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors

from ..io import atomic_write_bytes, atomic_write_text

CHECKPOINT = "checkpoint.json"
FORMAT = 1


class CheckpointError(ValueError):
    """A checkpoint that cannot be read (truncated, corrupted, from another run); the message names the file."""


@dataclass
class Position:
    """Where a training stands: ``epoch`` (1-based) and the optimizer ``step`` done in it, the epoch's running
    ``seen``/``loss_sum``/``seconds``, the best epoch's ``best`` record, the ``stale`` epochs since, and the
    optimizer steps done in all (``global_step``)."""

    epoch: int = 1
    step: int = 0
    seen: int = 0
    loss_sum: float = 0.0
    seconds: float = 0.0
    best: dict | None = None
    stale: int = 0
    global_step: int = 0

    def next_epoch(self) -> None:
        self.epoch, self.step, self.seen, self.loss_sum, self.seconds = self.epoch + 1, 0, 0, 0.0, 0.0


@dataclass
class TrainingState:
    """The live objects of one training, and how to turn them into a checkpoint (``capture``) and back."""

    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    scaler: torch.amp.GradScaler
    ema: object | None                       # a trainer.WeightAverage, or None
    position: Position = field(default_factory=Position)
    carried: list | None = None              # a stateful task's state mid-epoch (tensors, first dim the rows)

    def capture(self) -> tuple[dict, dict]:
        """``(tensors, meta)``: CPU tensors for safetensors, JSON values for the rest."""
        tensors = {f"model.{k}": v for k, v in self.model.state_dict().items()}
        opt = self.optimizer.state_dict()
        opt_meta = {"param_groups": opt["param_groups"], "state": {}}
        for index, entries in opt["state"].items():
            for key, value in entries.items():
                if torch.is_tensor(value):
                    tensors[f"optimizer.{index}.{key}"] = value
                else:
                    opt_meta["state"].setdefault(str(index), {})[key] = value
        sched = {k: v for k, v in self.scheduler.state_dict().items() if k != "lr_lambdas"}
        meta = {"position": asdict(self.position), "optimizer": opt_meta, "scheduler": sched,
                "scaler": self.scaler.state_dict(), "rng": _rng_meta(tensors)}
        if self.ema is not None:
            tensors.update({f"ema.{k}": a for k, a in enumerate(self.ema.average)})
            meta["ema_updates"] = self.ema.updates
        if self.carried is not None:
            tensors.update({f"carried.{k}": t for k, t in enumerate(self.carried)})
            meta["carried"] = len(self.carried)
        # safetensors wants contiguous CPU tensors that share no memory (tied weights would)
        return {k: v.detach().to("cpu", copy=True).contiguous() for k, v in tensors.items()}, meta

    def restore(self, tensors: dict, meta: dict) -> None:
        """Put a captured checkpoint back: weights, optimizer, schedule, scaler, average, generators, position."""
        def prefix(p: str) -> dict:
            return {k[len(p):]: v for k, v in tensors.items() if k.startswith(p)}

        self.model.load_state_dict(prefix("model."))
        state: dict = {}
        for name, value in prefix("optimizer.").items():
            index, key = name.split(".", 1)
            state.setdefault(int(index), {})[key] = value
        for index, entries in meta["optimizer"]["state"].items():
            state.setdefault(int(index), {}).update(entries)
        groups = [{k: tuple(v) if k == "betas" else v for k, v in g.items()} for g in meta["optimizer"]["param_groups"]]
        self.optimizer.load_state_dict({"state": state, "param_groups": groups})
        self.scheduler.load_state_dict({**meta["scheduler"], "lr_lambdas": [None] * len(self.optimizer.param_groups)})
        if meta["scaler"]:
            self.scaler.load_state_dict(meta["scaler"])
        if self.ema is not None:
            with torch.no_grad():
                for k, a in enumerate(self.ema.average):
                    a.copy_(tensors[f"ema.{k}"])
            self.ema.updates = meta["ema_updates"]
        self.position = Position(**meta["position"])
        self.carried = [tensors[f"carried.{k}"] for k in range(meta["carried"])] if meta.get("carried") else None
        _set_rng(tensors, meta["rng"])     # last: nothing above may draw from them


class TrainingInterrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM stopped the training; the message says where its checkpoint is."""


@contextlib.contextmanager
def signals_noted(enabled: bool):
    """SIGINT and SIGTERM set ``flag["stop"]`` instead of stopping at once (a second one stops at once); in the
    main thread only, where Python delivers signals, and when ``enabled``."""
    flag = {"stop": False}
    if not enabled or threading.current_thread() is not threading.main_thread():
        yield flag
        return

    def note(signum, frame):
        if flag["stop"]:
            raise KeyboardInterrupt
        flag["stop"] = True

    old = {s: signal.signal(s, note) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield flag
    finally:
        for s, handler in old.items():
            signal.signal(s, handler)


def test_kill_after(group=None) -> tuple[int, int]:
    """Test only: ``LSTMKIT_TEST_KILL_AFTER_STEPS=K`` SIGKILLs the process right after optimizer step K (counted
    over the whole training), as a crash would, so that tests can resume from whatever is on disk;
    ``K:TERM`` sends SIGTERM instead (as ``kill`` or a scheduler would). Under torchrun (``group``, a
    :class:`lstmkit.train.distributed.Group`) ``K[:TERM]@R`` names the rank that dies (default 0), and only the
    first attempt dies (an elastic restart runs on). Returns (K, signal); K = 0: never."""
    spec, _, rank = os.environ.get("LSTMKIT_TEST_KILL_AFTER_STEPS", "").partition("@")
    step, _, name = spec.partition(":")
    if group is not None and (group.restart or group.rank != (int(rank) if rank.isdigit() else 0)):
        return 0, signal.SIGKILL
    return (int(step) if step.isdigit() else 0), (signal.SIGTERM if name == "TERM" else signal.SIGKILL)


def _rng_meta(tensors: dict) -> dict:
    """Every generator's state: torch's into ``tensors``, Python's and NumPy's as JSON."""
    tensors["rng.torch"] = torch.get_rng_state()
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        for k, s in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"rng.cuda.{k}"] = s
    version, words, gauss = random.getstate()
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    return {"python": [version, list(words), gauss],
            "numpy": [kind, keys.tolist(), int(pos), int(has_gauss), float(cached)]}


def _set_rng(tensors: dict, meta: dict) -> None:
    torch.set_rng_state(tensors["rng.torch"])
    cuda = sorted((k for k in tensors if k.startswith("rng.cuda.")), key=lambda k: int(k.rsplit(".", 1)[1]))
    if cuda and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([tensors[k] for k in cuda][:torch.cuda.device_count()])
    version, words, gauss = meta["python"]
    random.setstate((version, tuple(words), gauss))
    kind, keys, pos, has_gauss, cached = meta["numpy"]
    np.random.set_state((kind, np.asarray(keys, dtype=np.uint32), pos, has_gauss, cached))


class Checkpoints:
    """The checkpoints of the run folder ``run_dir``: saved every ``every`` optimizer steps (0: at epoch ends
    only), at each epoch's end, and at least every ``minutes``; ``options`` (the command line's, JSON) are kept
    to compare with a resumed training's.

    ``resume=True`` loads the last checkpoint (``saved``: ``(tensors, meta)``, or None when there is none yet);
    ``best_file`` holds the best epoch's weights, which a resumed training keeps.
    """

    def __init__(self, run_dir, every: int = 0, minutes: float = 10.0, options: dict | None = None,
                 best_file=None, resume: bool = False):
        self.run, self.every, self.minutes = Path(run_dir), every, minutes
        self.options, self.best_file = options, best_file
        self.last_save = time.monotonic()
        self.seconds_saving, self.saves = 0.0, 0
        self.saved = self.load() if resume else None

    def due(self, global_step: int) -> bool:
        """Whether a checkpoint is due after optimizer step ``global_step`` (epoch ends are always saved)."""
        if self.every and global_step % self.every == 0:
            return True
        return time.monotonic() - self.last_save >= self.minutes * 60

    def save(self, state: TrainingState) -> None:
        t0 = time.perf_counter()
        tensors, meta = state.capture()
        data = save_safetensors(tensors)
        serial = self._serial() + 1
        name = f"checkpoint-{serial}.safetensors"
        atomic_write_bytes(self.run / name, data)
        meta = {"format": FORMAT, "tensors": name, "bytes": len(data),
                "sha256": hashlib.sha256(data).hexdigest(), "options": self.options, **meta}
        atomic_write_text(self.run / CHECKPOINT, json.dumps(meta, default=_plain))      # the commit marker
        self._drop_tensors(keep=name)
        self.last_save = time.monotonic()
        self.seconds_saving += time.perf_counter() - t0
        self.saves += 1

    def finish(self) -> None:
        """The training is over: its checkpoint goes (the run folder says it finished: ``config.json``)."""
        (self.run / CHECKPOINT).unlink(missing_ok=True)
        self._drop_tensors(keep=None)

    def read_meta(self) -> dict | None:
        """``checkpoint.json``'s content, checked to be a checkpoint; None when the run has none."""
        path = self.run / CHECKPOINT
        if not path.exists():
            return None
        try:
            meta = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise CheckpointError(f"{path}: truncated or corrupted (not valid JSON); remove it (and the "
                                  f"checkpoint-*.safetensors beside it) to train from the start") from None
        if not isinstance(meta, dict) or meta.get("format") != FORMAT or "position" not in meta:
            raise CheckpointError(f"{path}: not an lstmkit training checkpoint (format {FORMAT})")
        return meta

    def load(self) -> tuple[dict, dict] | None:
        meta = self.read_meta()
        if meta is None:
            return None
        name = meta.get("tensors")
        if not isinstance(name, str) or not name.startswith("checkpoint-") or "/" in name or "\\" in name:
            raise CheckpointError(f"{self.run / CHECKPOINT}: 'tensors' must name a checkpoint-<n>.safetensors "
                                  f"file of the run, got {name!r}")
        path = self.run / name
        if not path.is_file():
            raise CheckpointError(f"{path}: missing (named by {self.run / CHECKPOINT})")
        data = path.read_bytes()
        if len(data) != meta.get("bytes") or hashlib.sha256(data).hexdigest() != meta.get("sha256"):
            raise CheckpointError(f"{path}: truncated or corrupted ({len(data):,} bytes, its size or SHA-256 "
                                  f"differs from {CHECKPOINT}'s)")
        try:
            tensors = load_safetensors(data)
        except (SafetensorError, ValueError) as exc:
            raise CheckpointError(f"{path}: not a readable safetensors file ({exc})") from None
        if meta["position"]["best"] is not None:
            tensors.update({f"best.{k}": v for k, v in self._best_weights().items()})
        return tensors, meta

    def _best_weights(self) -> dict:
        if self.best_file is None or not Path(self.best_file).is_file():
            raise CheckpointError(f"{self.run / CHECKPOINT}: the checkpoint has a best epoch but the run has no "
                                  f"{Path(self.best_file or 'model.safetensors').name}")
        try:
            return load_safetensors(Path(self.best_file).read_bytes())
        except (SafetensorError, ValueError) as exc:
            raise CheckpointError(f"{self.best_file}: not a readable safetensors file ({exc})") from None

    def _serial(self) -> int:
        found = [p.name[len("checkpoint-"):-len(".safetensors")] for p in self.run.glob("checkpoint-*.safetensors")]
        return max((int(s) for s in found if s.isdigit()), default=0)

    def _drop_tensors(self, keep: str | None) -> None:
        for p in self.run.glob("checkpoint-*.safetensors"):
            if p.name != keep:
                p.unlink(missing_ok=True)


def _plain(value):
    """NumPy numbers and arrays in metrics, as JSON."""
    if isinstance(value, (np.generic, np.ndarray)):
        return value.tolist()
    raise TypeError(f"checkpoint: {type(value).__name__} is not JSON data")


def contradictions(saved: dict | None, given: dict | None, free: set) -> list[str]:
    """The options (other than ``free`` ones) whose values differ between a saved run's and a resumed one's."""
    saved, given = saved or {}, given or {}
    return sorted(k for k in set(saved) | set(given) if k not in free and saved.get(k) != given.get(k))
