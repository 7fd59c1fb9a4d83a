"""Data-parallel training under torchrun, on loopback (gloo on the CPU, one thread a process), through the real
CLI: two processes train the model one process trains (dropout off: the same weights to float32 rounding); a worker
killed mid-epoch under ``--max-restarts`` is restarted by torchrun and the job ends at the uninterrupted job's very
weights (dropout on: its draws are seeded by rank and step); a job killed under two processes resumes on one; an
existing ``--out`` is refused by every rank and left untouched.

The kills come from ``LSTMKIT_TEST_KILL_AFTER_STEPS=K@RANK`` (test only: that rank SIGKILLs itself after
optimizer step K, in the first attempt only)."""
import json
import os
import socket
import subprocess
import sys

import pytest
import torch
from safetensors.torch import load_file
from train_data import train_args

pytestmark = pytest.mark.skipif(not torch.distributed.is_available(), reason="this torch has no torch.distributed")

# 80 examples in global batches of 8: 10 optimizer steps an epoch, a checkpoint every 3
COMMON = ["--epochs", "2", "--units", "6", "--embedding-dim", "4", "--batch-size", "8", "--quiet",
          "--checkpoint-every", "3", "--patience", "0"]
TINY_EXAMPLES = 80       # of each task, for the tiny-data fixture ``data`` (tests/train/conftest.py)


def _args(d, task: str, out: str, *more) -> list:
    return train_args(d, task, out, COMMON, *more)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env(kill: str = "") -> dict:
    env = {k: v for k, v in os.environ.items() if k != "LSTMKIT_TEST_KILL_AFTER_STEPS"}
    env |= {"OMP_NUM_THREADS": "1", "GLOO_SOCKET_IFNAME": "lo"}
    if kill:
        env["LSTMKIT_TEST_KILL_AFTER_STEPS"] = kill
    return env


def _one(args: list) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lstmkit", *args], check=False, stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, env=_env(), timeout=120)


def _torchrun(args: list, processes: int = 2, restarts: int = 0, kill: str = "") -> subprocess.CompletedProcess:
    launcher = [sys.executable, "-m", "torch.distributed.run", "--nnodes", "1", "--nproc-per-node", str(processes),
                "--rdzv-backend", "c10d", "--rdzv-endpoint", f"127.0.0.1:{_free_port()}",
                "--max-restarts", str(restarts), "--monitor-interval", "0.2"]
    return subprocess.run([*launcher, "-m", "lstmkit", *args], check=False, stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, env=_env(kill), timeout=240)


def _weights(run) -> dict:
    return load_file(str(run / "model.safetensors"))


def _max_difference(a: dict, b: dict) -> float:
    assert a.keys() == b.keys()
    return max(float((a[k].double() - b[k].double()).abs().max()) for k in a)


def _metrics(run) -> list:
    """metrics.jsonl without the clock's fields."""
    lines = [json.loads(line) for line in (run / "metrics.jsonl").read_text(encoding="utf-8").splitlines()]
    return [{k: v for k, v in r.items() if k != "seconds" and not k.endswith("_per_s")} for r in lines]


@pytest.mark.parametrize("task", ["classify", "tag"])
def test_two_processes_train_what_one_trains(data, task):
    quiet = ["--dropout", "0"] + (["--token-dropout", "0"] if task == "classify" else [])
    one = _one(_args(data, task, f"{task}_one", *quiet))
    assert one.returncode == 0, one.stderr
    two = _torchrun(_args(data, task, f"{task}_two", *quiet))
    assert two.returncode == 0, two.stderr[-3000:]
    assert "torchrun: 2 processes (gloo), each training about 4 of every batch of 8" in two.stderr
    a, b = _weights(data / f"{task}_one"), _weights(data / f"{task}_two")
    assert all(float(v.abs().max()) > 0 for v in a.values())             # trained weights, not zeros
    assert _max_difference(a, b) < 1e-5
    one_lines, two_lines = _metrics(data / f"{task}_one"), _metrics(data / f"{task}_two")
    assert [r["epoch"] for r in two_lines] == [1, 2]                      # rank 0 alone wrote the log
    for r1, r2 in zip(one_lines, two_lines):
        assert r2["train_loss"] == pytest.approx(r1["train_loss"], rel=1e-5)
        numbers = {k: v for k, v in r1["dev"].items() if isinstance(v, float)}
        assert {k: r2["dev"][k] for k in numbers} == pytest.approx(numbers, rel=1e-5)
    assert sorted(p.name for p in (data / f"{task}_two").iterdir()) == sorted(
        p.name for p in (data / f"{task}_one").iterdir())                 # no checkpoint left, no rank's extra files


def test_a_killed_worker_is_restarted_and_the_job_ends_at_the_uninterrupted_weights(data):
    whole = _torchrun(_args(data, "classify", "elastic_whole"))
    assert whole.returncode == 0, whole.stderr[-3000:]
    # rank 1 dies after step 14 (epoch 2, step 4); the last checkpoint is step 12's; dropout (0.5) stays on
    killed = _torchrun(_args(data, "classify", "elastic_killed"), restarts=1, kill="14@1")
    assert killed.returncode == 0, killed.stderr[-3000:]
    assert "resuming" in killed.stderr and "epoch 2 step 2" in killed.stderr and "restart 1" in killed.stderr
    assert _max_difference(_weights(data / "elastic_whole"), _weights(data / "elastic_killed")) == 0.0
    assert _metrics(data / "elastic_whole") == _metrics(data / "elastic_killed")


def test_a_language_models_carried_state_is_gathered_and_resumed_across_a_restart(data):
    """Its rows are shared out among the processes, each carrying its rows' LSTM state from batch to batch: a
    checkpoint gathers every process's rows, a restart hands each its rows back."""
    (data / "lm.txt").write_text("".join(f"春眠不觉晓{k}\n处处闻啼鸟\n" for k in range(24)), encoding="utf-8")
    args = ["train", "lm", "--train", str(data / "lm.txt"), "--dev", str(data / "lm.txt"), "--epochs", "2",
            "--units", "6", "--embedding-dim", "4", "--bptt", "4", "--batch-size", "4", "--quiet",
            "--checkpoint-every", "1", "--patience", "0", "--out"]
    whole = _torchrun([*args, str(data / "lm_whole")])
    assert whole.returncode == 0, whole.stderr[-3000:]
    killed = _torchrun([*args, str(data / "lm_killed")], restarts=1, kill="10@1")
    assert killed.returncode == 0, killed.stderr[-3000:]
    assert "resuming" in killed.stderr and "epoch 1 step 10" in killed.stderr        # mid-epoch
    assert _max_difference(_weights(data / "lm_whole"), _weights(data / "lm_killed")) == 0.0


def test_a_job_killed_under_two_processes_resumes_on_one(data):
    quiet = ["--dropout", "0", "--token-dropout", "0"]
    whole = _one(_args(data, "classify", "fewer_whole", *quiet))
    assert whole.returncode == 0, whole.stderr
    killed = _torchrun(_args(data, "classify", "fewer", *quiet), kill="14@0")
    assert killed.returncode != 0
    assert json.loads((data / "fewer" / "checkpoint.json").read_text())["position"]["global_step"] == 12
    resumed = _one(_args(data, "classify", "fewer", *quiet, "--resume"))
    assert resumed.returncode == 0, resumed.stderr
    assert _max_difference(_weights(data / "fewer_whole"), _weights(data / "fewer")) < 1e-5


def test_an_existing_run_is_refused_by_every_rank_and_left_untouched(data, tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / "config.json").write_text('{"task": "classify"}', encoding="utf-8")
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    refused = _torchrun(_args(data, "classify", str(out)))
    assert refused.returncode != 0
    errors = [line for line in refused.stderr.splitlines() if line.startswith("lstmkit train classify: error:")]
    assert len(errors) == 2 and "already holds a run" in errors[0], refused.stderr[:3000]
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
