"""G2P on the built-in ``cmudict-g2p`` corpus: trained seq2seq runs, alone and as an ensemble, on the test split.

Training a G2P model takes CPU hours here, so this script evaluates runs that ``lstmkit train seq2seq --corpus
cmudict-g2p`` made (see the README for the commands):

    python benchmarks/bench_g2p.py runs/g2p-more runs/g2p-d3-s7 runs/g2p-d3ls-s21
    python benchmarks/bench_g2p.py runs/a runs/b --beams 1 5 --split dev --threads 2
    python benchmarks/bench_g2p.py runs/a runs/b --rescore runs/r2l-a runs/r2l-b --no-single
    python benchmarks/bench_g2p.py runs/a runs/b --rescore runs/r2l-a --rescore-inverse runs/p2g --no-single

Prints one table: each run alone, then all of them together (``--ensemble``: their next-token probabilities
averaged at every step), for each beam width: WER, PER, the same against any listed pronunciation, and words/s.
With ``--rescore`` (runs trained with ``--reverse-target``, or any others of the same data): those runs alone and
as an ensemble, then the beam of the first table's last row re-ranked by every model's mean log-probability
(``--rescore``); with ``--rescore-inverse`` (runs trained phonemes -> spelling, ``--corpus cmudict-p2g``) once more
with their ``log P(spelling | candidate)`` voting too.
"""
from __future__ import annotations

import argparse
import os
import platform
import time

import torch

from lstmkit.data.pairs import PairDataset, cmudict_g2p
from lstmkit.train.metrics import sequence_report
from lstmkit.tasks import load_task


def row(name: str, task, enc: dict, beam: int) -> str:
    t0 = time.perf_counter()
    hyps = task.decode(enc, beam_size=beam)                      # decoding alone is timed
    speed = len(hyps) / (time.perf_counter() - t0)
    m = sequence_report(enc["refs"], [h[0].tokens for h in hyps], enc["alternatives"])
    return (f"| {name} | {beam} | {m['wer']:.4f} | {m['per']:.4f} | {m['wer_any']:.4f} | {m['per_any']:.4f} "
            f"| {speed:,.0f} |")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("runs", nargs="+", metavar="RUN", help="seq2seq runs trained on cmudict-g2p")
    p.add_argument("--beams", type=int, nargs="+", default=[1, 5], help="beam widths (1: greedy)")
    p.add_argument("--split", choices=["dev", "test"], default="test")
    p.add_argument("--limit", type=int, help="the first N words only (a quick look)")
    p.add_argument("--threads", type=int, default=torch.get_num_threads())
    p.add_argument("--rescore", nargs="+", default=[], metavar="RUN",
                   help="runs that re-rank the beam of RUN... (e.g. right-to-left ones)")
    p.add_argument("--rescore-inverse", nargs="+", default=[], metavar="RUN",
                   help="runs trained the other way (cmudict-p2g) that vote with log P(spelling | candidate)")
    p.add_argument("--no-single", action="store_true", help="the ensembles only")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    data = cmudict_g2p()[args.split]
    if args.limit:
        data = PairDataset(data.sources[: args.limit], data.targets[: args.limit], data.source,
                           alternatives=data.alternatives)
    print(f"cmudict-g2p {args.split}: {len(data.sources):,} words; torch {torch.__version__}, {args.threads} "
          f"thread(s), {platform.processor() or platform.machine()}, {os.cpu_count()} cores\n")
    print("| model | beam | WER | PER | WER, any variant | PER, any variant | words/s |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    tasks = [load_task(run) for run in args.runs]
    rescorers = [load_task(run) for run in args.rescore]
    inverse = [load_task(run) for run in args.rescore_inverse]
    enc = tasks[0].encode(data)    # for the ensembles and rescoring, whose members must share these vocabularies
    for group, names in ((tasks, args.runs), (rescorers, args.rescore)):
        if not group:
            continue
        if not args.no_single or len(group) == 1:
            for run, task in zip(names, group):
                own = task.encode(data)                          # once per run, for every beam width
                for beam in args.beams:
                    print(row(run, task, own, beam), flush=True)
        if len(group) > 1:
            joined = group[0].ensemble(group[1:])
            for beam in args.beams:
                print(row(f"ensemble of {len(group)}", joined, enc, beam), flush=True)
    if rescorers or inverse:
        search = tasks[0].ensemble(tasks[1:]) if len(tasks) > 1 else tasks[0]
        name = f"ensemble of {len(tasks)}" if len(tasks) > 1 else args.runs[0]
        ways = [(f"{len(rescorers)} more", rescorers, [])] if rescorers else []
        if inverse:
            label = (f"{len(rescorers)} more + " if rescorers else "") + f"{len(inverse)} inverse"
            ways.append((label, rescorers, inverse))
        for beam in [b for b in args.beams if b > 1]:
            for label, more, inv in ways:
                print(row(f"{name}, rescored with {label}", search.rescored(more, inv), enc, beam), flush=True)


if __name__ == "__main__":
    main()
