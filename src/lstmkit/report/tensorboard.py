"""Epoch records as TensorBoard scalars, as a training writes them (``train --tensorboard DIR``).

One record (a line of ``metrics.jsonl``: ``epoch``, ``train_loss``, ``lr``, ``<unit>_per_s``, ``dev`` {...}) becomes
scalars at ``step = epoch``: ``train/loss``, ``dev/<name>`` for every numeric dev metric (``dev/accuracy``,
``dev/perplexity``, ``dev/mae_by_step/0`` for a list), ``lr`` and ``throughput/<unit>_per_s``. Example::

    >>> logger = TensorBoardLogger("runs/clf/tensorboard")
    >>> logger.log({"epoch": 1, "train_loss": 0.69, "lr": 0.002, "sentences_per_s": 812.0,
    ...             "unit": "sentences", "dev": {"accuracy": 0.5}})
    >>> logger.close()
"""
from __future__ import annotations

import math

MISSING = "--tensorboard needs the tensorboard package: pip install tensorboard"


def _number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def scalars(record: dict) -> dict:
    """The scalars of one epoch record, ``{tag: value}`` (non-numeric values and non-finite ones left out; a
    list of numbers gives one tag per position; a confusion matrix or a per-type table is not a scalar)."""
    out = {}
    if _number(record.get("train_loss")):
        out["train/loss"] = float(record["train_loss"])
    for name, v in (record.get("dev") or {}).items():
        if _number(v):
            out[f"dev/{name}"] = float(v)
        elif isinstance(v, list) and v and all(_number(x) for x in v):
            out.update({f"dev/{name}/{k}": float(x) for k, x in enumerate(v)})
    if _number(record.get("lr")):
        out["lr"] = float(record["lr"])
    unit = record.get("unit", "sentences")
    if _number(record.get(f"{unit}_per_s")):
        out[f"throughput/{unit}_per_s"] = float(record[f"{unit}_per_s"])
    return out


class TensorBoardLogger:
    """Write each epoch record's :func:`scalars` into TensorBoard event files under ``logdir`` (created if
    needed). A ValueError when the ``tensorboard`` package is missing."""

    def __init__(self, logdir):
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:               # torch's writer imports tensorboard itself
            raise ValueError(MISSING) from None
        self.logdir = str(logdir)
        self.writer = SummaryWriter(log_dir=self.logdir)

    def log(self, record: dict) -> None:
        """Add one epoch record (``record["epoch"]`` is the step)."""
        epoch = record.get("epoch")
        if isinstance(epoch, bool) or not isinstance(epoch, int):
            raise ValueError(f"TensorBoardLogger.log: record must have an int 'epoch', got {epoch!r}")
        for tag, value in scalars(record).items():
            self.writer.add_scalar(tag, value, global_step=epoch)
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()

    def __enter__(self) -> "TensorBoardLogger":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
