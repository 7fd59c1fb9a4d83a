"""G2P runs trained side by side on one GPU, then scored together: the step a session with a lent GPU takes for
issue 6 (WER on cmudict-g2p), prepared so that it fits one device call.

A 2-layer G2P model costs 2+ CPU hours here; on a GPU an epoch takes seconds, and several trainings share one GPU
well (each is bound by its decoder's step loop, not by the GPU's arithmetic). This script starts them at once,
waits, and prints ``benchmarks/bench_g2p.py``'s table for them: each run alone, the left-to-right runs as an
ensemble, and their beam re-ranked by the right-to-left runs (``--rescore``):

    PYTHONUNBUFFERED=1 PYTHONPATH=src python benchmarks/g2p_gpu.py --out DIR            # on the GPU machine
    PYTHONPATH=src python benchmarks/g2p_gpu.py --out /tmp/g --device cpu --epochs 1 \\
        --train pairs.tsv --dev pairs.tsv --limit 50                                    # a dry run anywhere

Each run is ``lstmkit train seq2seq --corpus cmudict-g2p --layers 2 --batch-size B --lr 3e-3 --dropout 0.3
--amp bf16 --device cuda`` with its own seed, half of them ``--reverse-target``; logs and the summary
(``g2p_gpu.md``) go to DIR, the run folders to DIR/runs. ``--minutes`` bounds the training: a run still going
then is stopped, and the best checkpoint it saved stands (its learning rate had not decayed yet, so choose
``--epochs`` to end in time: the README's GPU section has the measured speeds).
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def train_command(args, out: Path, seed: int, reverse: bool) -> list[str]:
    data = (["--train", args.train, "--dev", args.dev or args.train] if args.train
            else ["--corpus", "cmudict-g2p"])
    return ([sys.executable, "-m", "lstmkit.cli", "train", "seq2seq", *data, "--layers", str(args.layers),
             "--epochs", str(args.epochs), "--batch-size", str(args.batch_size), "--lr", str(args.lr),
             "--dropout", "0.3", "--seed", str(seed), "--device", args.device, "--quiet", "--out", str(out)]
            + (["--amp", args.amp] if args.amp != "off" else []) + (["--reverse-target"] if reverse else []))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True, help="a new folder for the logs, the summary and the runs")
    p.add_argument("--device", default="cuda")
    p.add_argument("--amp", default="bf16", choices=["off", "bf16", "fp16"])
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--forward-seeds", type=int, nargs="+", default=[5, 7], help="left-to-right runs")
    p.add_argument("--reverse-seeds", type=int, nargs="+", default=[31], help="right-to-left runs (rescorers)")
    p.add_argument("--minutes", type=float, default=8.0, help="stop the trainings after this long")
    p.add_argument("--train", help="a pairs file instead of the corpus (a dry run); scoring then uses --limit")
    p.add_argument("--dev")
    p.add_argument("--limit", type=int, help="score the first N test words only")
    p.add_argument("--threads", type=int, default=8, help="CPU threads for the scoring")
    args = p.parse_args()

    out = Path(args.out)
    (out / "runs").mkdir(parents=True, exist_ok=False)
    plan = [(f"l2r-s{s}", s, False) for s in args.forward_seeds] + [(f"r2l-s{s}", s, True) for s in args.reverse_seeds]
    t0, procs = time.perf_counter(), {}
    for name, seed, reverse in plan:
        log = open(out / f"train_{name}.log", "w", encoding="utf-8")
        procs[name] = (subprocess.Popen(train_command(args, out / "runs" / name, seed, reverse), cwd=ROOT,
                                        stdout=log, stderr=subprocess.STDOUT), log)
        print(f"started {name}", flush=True)
    for name, (proc, log) in procs.items():
        left = args.minutes * 60 - (time.perf_counter() - t0)
        try:
            status = f"exit {proc.wait(timeout=max(1.0, left))}"
        except subprocess.TimeoutExpired:
            proc.terminate()
            proc.wait()
            status = f"stopped at the {args.minutes:g}-minute limit (its best checkpoint kept)"
        log.close()
        print(f"{name}: {status}, {time.perf_counter() - t0:.0f} s", flush=True)
    trained = [name for name, _, _ in plan if (out / "runs" / name / "model.safetensors").exists()]
    forward = [str(out / "runs" / n) for n in trained if n.startswith("l2r")]
    reverse = [str(out / "runs" / n) for n in trained if n.startswith("r2l")]
    lines = [f"# G2P on {args.device}: {len(trained)} of {len(plan)} runs trained in "
             f"{time.perf_counter() - t0:.0f} s ({args.layers} layers, {args.epochs} epochs planned, batch "
             f"{args.batch_size}, amp {args.amp})", ""]
    for name in trained:
        tail = (out / f"train_{name}.log").read_text(encoding="utf-8").strip().splitlines()
        ends = [line for line in tail if line.startswith(("best", "test"))]
        epochs = [line for line in tail if line.startswith("epoch")]
        lines.append(f"- {name}: " + " / ".join(ends or epochs[-1:]))
    if forward:
        cmd = [sys.executable, str(ROOT / "benchmarks" / "bench_g2p.py"), *forward, "--beams", "1", "5",
               "--threads", str(args.threads)] + (["--rescore", *reverse] if reverse else [])
        cmd += ["--limit", str(args.limit)] if args.limit else []
        score = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
        lines += ["", "$ " + " ".join(cmd[1:]), score.stdout, score.stderr[-2000:]]
    (out / "g2p_gpu.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))
    return 0 if len(trained) == len(plan) else 1


if __name__ == "__main__":
    sys.exit(main())
