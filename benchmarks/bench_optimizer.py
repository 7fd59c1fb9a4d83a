"""The trainer's optimizer step, AdamW as a chain of whole-tensor operations (torch's default "foreach"
implementation) against the fused one, on the MSRA tagger whose character-bigram embedding dominates the
parameters.

    python benchmarks/bench_optimizer.py                          # bigram vocabularies of 50,000 and all
    python benchmarks/bench_optimizer.py --steps 10 --rounds 5 --embedding-dim 200

One training step = forward, CRF loss, backward, gradient clipping, AdamW. The two optimizers take turns on the
same model and batches, a few steps each, and each keeps its best time per step. Prints one table.
"""
from __future__ import annotations

import argparse
import time

import torch

from lstmkit.data import load_corpus
from lstmkit.tasks.tag import TagConfig, TagTask
from lstmkit.train.trainer import TrainConfig, make_optimizer, seed_everything


def time_steps(task, batches, opt, params) -> float:
    """Seconds per training step, the mean over ``batches``."""
    t0 = time.perf_counter()
    for batch in batches:
        loss = task.step(batch)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 5.0)
        opt.step()
    return (time.perf_counter() - t0) / len(batches)


def bench(train, max_bigrams, embedding_dim: int, steps: int, rounds: int) -> dict:
    seed_everything(13)
    config = TagConfig(kind="entities", scheme="BMES", embedding_dim=embedding_dim, max_bigrams=max_bigrams)
    task = TagTask.from_data(config, train)
    batches = list(task.batches(task.encode(train), 64, shuffle=True, seed=13))[:steps]
    task.model.train()
    params = [p for p in task.model.parameters() if p.requires_grad]
    opts = {"foreach": make_optimizer(params, TrainConfig(), fused=False),
            "fused": make_optimizer(params, TrainConfig(), fused=True)}
    best = dict.fromkeys(opts, float("inf"))
    for opt in opts.values():           # warm-up: allocate each optimizer's state
        time_steps(task, batches[:1], opt, params)
    for _ in range(rounds):
        for name, opt in opts.items():
            best[name] = min(best[name], time_steps(task, batches, opt, params))
    n_params = sum(p.numel() for p in params)
    return {"bigrams": len(task.bigram_vocab), "params": n_params, **best}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--steps", type=int, default=8, help="training steps per turn")
    ap.add_argument("--rounds", type=int, default=4, help="turns each optimizer takes")
    ap.add_argument("--embedding-dim", type=int, default=200)
    args = ap.parse_args()
    train = load_corpus("msra-ner")["train"]
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s); msra-ner train "
          f"({len(train):,} sentences), batch 64, E={args.embedding_dim}, units 128, CRF\n")
    print("| bigram vocabulary | parameters | step, foreach AdamW (ms) | step, fused AdamW (ms) | speed-up |")
    print("|---:|---:|---:|---:|---:|")
    for cap in (50_000, None):
        r = bench(train, cap, args.embedding_dim, args.steps, args.rounds)
        print(f"| {r['bigrams']:,} | {r['params']:,} | {r['foreach'] * 1e3:.0f} | {r['fused'] * 1e3:.0f} "
              f"| {r['foreach'] / r['fused']:.2f}x |", flush=True)


if __name__ == "__main__":
    main()
