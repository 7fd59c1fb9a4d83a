"""What the benchmark scripts share: train a task with its defaults into a throwaway run folder, timed."""
from __future__ import annotations

import tempfile
import time

from lstmkit.train.runs import train_run
from lstmkit.train.trainer import TrainConfig


def train_timed(task, splits: dict, epochs: int | None, log) -> tuple[dict, float]:
    """Train ``task`` on ``splits["train"]`` (selecting on ``"dev"``); returns (best epoch record, seconds)."""
    config = TrainConfig(progress=False) if epochs is None else TrainConfig(progress=False, epochs=epochs)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as out:
        best = train_run(task, splits["train"], splits["dev"], config, f"{out}/run", log=log)
    return best, time.perf_counter() - t0
