"""Training that survives a crash: a training SIGKILLed mid-epoch, then SIGKILLed or SIGTERMed again, and resumed
with --resume ends with the very bytes of the training that never stopped; SIGTERM saves a checkpoint; --force, --accumulate, and the errors
(an existing --out, a truncated checkpoint, options that contradict the run's).

The kills come from ``LSTMKIT_TEST_KILL_AFTER_STEPS`` (test only: the trainer SIGKILLs itself after that
optimizer step), so they land at known steps, between two checkpoints (``--checkpoint-every 3``)."""
import json
import os
import shutil
import signal
import subprocess
import sys

import pytest
import torch
from safetensors.torch import load_file, save_file
from train_data import train_args

from lstmkit.cli import main
from lstmkit.data import read_lines
from lstmkit.tasks import load_run
from lstmkit.train.checkpoint import LOCK
from lstmkit.train.metrics import classification_report
from lstmkit.train.resume import CHECKPOINT, Checkpoints
from lstmkit.train.task import Task
from lstmkit.train.trainer import TrainConfig, TrainingInterrupted, fit

# 40 examples of each task in batches of 4: 10 optimizer steps an epoch; dropout (and the classifier's token
# dropout) left on, so every step draws from torch's generator
COMMON = ["--epochs", "3", "--units", "6", "--embedding-dim", "4", "--batch-size", "4", "--quiet",
          "--checkpoint-every", "3", "--patience", "0"]
TINY_EXAMPLES = 40       # of each task, for the tiny-data fixture ``data`` (tests/train/conftest.py)


def _args(d, task: str, out: str, *more) -> list:
    return train_args(d, task, out, COMMON, *more)


def _cli(args: list, kill_after="") -> subprocess.CompletedProcess:
    # one thread (as conftest gives this process): small LSTMs crawl on two contended ones; and the same count
    # in every run, which bit-identical results need
    env = {k: v for k, v in os.environ.items() if k != "LSTMKIT_TEST_KILL_AFTER_STEPS"} | {"OMP_NUM_THREADS": "1"}
    if kill_after:
        env["LSTMKIT_TEST_KILL_AFTER_STEPS"] = str(kill_after)
    return subprocess.run([sys.executable, "-m", "lstmkit.cli", *args], check=False, stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, env=env, timeout=120)


def _metrics(run) -> list:
    """metrics.jsonl without the clock's fields."""
    lines = [json.loads(line) for line in (run / "metrics.jsonl").read_text(encoding="utf-8").splitlines()]
    return [{k: v for k, v in r.items() if k != "seconds" and not k.endswith("_per_s")} for r in lines]


@pytest.mark.parametrize("task,how", [("classify", "TERM"), ("tag", "KILL")])
def test_killed_twice_then_resumed_equals_the_uninterrupted_training(data, task, how, capsys):
    whole = _cli(_args(data, task, f"{task}_whole"))
    assert whole.returncode == 0, whole.stderr
    run = data / f"{task}_killed"
    first = _cli(_args(data, task, run.name), kill_after=5)           # epoch 1, step 5: checkpoint at step 3
    assert first.returncode == -signal.SIGKILL
    assert json.loads((run / CHECKPOINT).read_text())["position"]["step"] == 3
    # epoch 2, step 7: SIGKILL leaves the checkpoint of step 5 (global step 15); SIGTERM saves one after step 8
    second = _cli(_args(data, task, run.name, "--resume"), kill_after=f"17:{how}")
    assert "resuming" in second.stderr and "epoch 1 step 3" in second.stderr
    if how == "TERM":
        assert second.returncode == 130 and second.stderr.strip().splitlines()[-1] == (
            f"lstmkit train {task}: interrupted: checkpoint saved at epoch 2 step 8; continue with --resume")
    else:
        assert second.returncode == -signal.SIGKILL
    third = _cli(_args(data, task, run.name, "--resume"))
    assert third.returncode == 0, third.stderr
    assert f"resuming {run} at epoch 2 step {8 if how == 'TERM' else 5}" in third.stderr
    assert (run / "model.safetensors").read_bytes() == (data / f"{task}_whole" / "model.safetensors").read_bytes()
    assert _metrics(run) == _metrics(data / f"{task}_whole") and len(_metrics(run)) == 3
    # a finished run keeps no checkpoint, and says it finished
    assert not (run / CHECKPOINT).exists() and not list(run.glob("checkpoint-*"))
    assert json.loads((run / "config.json").read_text())["finished"] is True
    assert main(_args(data, task, run.name, "--resume")) == 2
    assert "finished its training" in capsys.readouterr().err


def test_a_language_model_resumes_mid_epoch_with_the_state_it_carried(data, capsys):
    """Its batches carry the LSTM state from one to the next: a checkpoint keeps that state, so a training killed
    mid-epoch resumes to the same bytes; it cannot cut batches into micro-batches."""
    (data / "lm.txt").write_text("".join(f"春眠不觉晓{k}\n处处闻啼鸟\n" for k in range(12)), encoding="utf-8")
    args = ["train", "lm", "--train", str(data / "lm.txt"), "--dev", str(data / "lm.txt"), "--epochs", "2",
            "--units", "6", "--embedding-dim", "4", "--bptt", "4", "--batch-size", "4", "--quiet",
            "--checkpoint-every", "1", "--out"]
    assert _cli([*args, str(data / "lm_whole")]).returncode == 0
    task = load_run(data / "lm_whole")
    per_epoch = len(task.batches(task.encode(read_lines(str(data / "lm.txt"))), 4, shuffle=True, seed=14))
    assert per_epoch > 3
    killed = _cli([*args, str(data / "lm_killed")], kill_after=per_epoch + 3)     # epoch 2, step 3
    assert killed.returncode == -signal.SIGKILL
    saved = json.loads((data / "lm_killed" / CHECKPOINT).read_text())
    assert (saved["position"]["epoch"], saved["position"]["step"], saved["carried"]) == (2, 3, 2)  # c, h of 1 layer
    resumed = _cli([*args, str(data / "lm_killed"), "--resume"])
    assert resumed.returncode == 0 and "at epoch 2 step 3" in resumed.stderr
    assert (data / "lm_killed" / "model.safetensors").read_bytes() == (data / "lm_whole" / "model.safetensors").read_bytes()
    assert _metrics(data / "lm_killed") == _metrics(data / "lm_whole")
    assert main([*args, str(data / "lm_acc"), "--accumulate", "2"]) == 2
    assert "accumulate must be 1" in capsys.readouterr().err


def test_accumulate_equals_one_batch_twice_as_large(data):
    plain = ["--dropout", "0", "--token-dropout", "0", "--adversarial", "0", "--epochs", "2"]
    assert main(_args(data, "classify", "big", *plain, "--batch-size", "8")) == 0
    assert main(_args(data, "classify", "acc", *plain, "--batch-size", "4", "--accumulate", "2")) == 0
    big, acc = load_file(data / "big" / "model.safetensors"), load_file(data / "acc" / "model.safetensors")
    for name in big:
        torch.testing.assert_close(acc[name], big[name], rtol=1e-5, atol=1e-6)
    # the schedule counts optimizer steps: 5 a epoch, as with --batch-size 8
    assert [r["lr"] for r in _metrics(data / "acc")] == [r["lr"] for r in _metrics(data / "big")]


def test_an_existing_run_is_refused_untouched_and_force_replaces_it(data, capsys):
    assert main(_args(data, "classify", "kept", "--epochs", "1")) == 0
    before = {p.name: p.read_bytes() for p in (data / "kept").iterdir()}
    assert main(_args(data, "classify", "kept", "--epochs", "1", "--seed", "5")) == 2
    assert "already holds a run" in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in (data / "kept").iterdir()} == before
    assert main(_args(data, "classify", "kept", "--epochs", "1", "--seed", "5", "--force")) == 0
    after = json.loads((data / "kept" / "config.json").read_text())
    assert after["options"]["seed"] == 5 and (data / "kept" / "model.safetensors").read_bytes() != before[
        "model.safetensors"]
    assert main(_args(data, "classify", "kept", "--resume", "--force")) == 2
    assert "not both" in capsys.readouterr().err
    (data / "mine").mkdir()
    (data / "mine" / "notes.txt").write_text("mine")
    assert main(_args(data, "classify", "mine", "--force")) == 2          # a folder of the user's, never removed
    assert (data / "mine" / "notes.txt").read_text() == "mine"


@pytest.fixture
def killed(data, tmp_path):
    """A classifier run killed at step 5, with its checkpoint of step 3 (copied from a run made once)."""
    source = data / "killed_once"
    if not source.exists():
        assert _cli(_args(data, "classify", source.name), kill_after=5).returncode == -signal.SIGKILL
    run = tmp_path / "run"
    shutil.copytree(source, run)
    return run


def test_a_truncated_or_corrupted_checkpoint_is_an_error_naming_the_file(data, killed, capsys):
    args = _args(data, "classify", "x", "--resume")
    args[args.index("--out") + 1] = str(killed)
    tensors = next(killed.glob("checkpoint-*.safetensors"))
    tensors.write_bytes(tensors.read_bytes()[:100])
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(tensors) in err and "truncated or corrupted" in err
    (killed / CHECKPOINT).write_text('{"format": 1, "pos')
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(killed / CHECKPOINT) in err and "not valid JSON" in err


def test_options_that_contradict_the_run_are_named(data, killed, capsys):
    args = _args(data, "classify", "x", "--resume", "--batch-size", "8", "--units", "7", "--device", "cpu")
    args[args.index("--out") + 1] = str(killed)
    before = {p.name: p.read_bytes() for p in killed.iterdir() if p.name != LOCK}    # the kill left its lock
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--batch-size 4 (now 8)" in err and "--units 6 (now 7)" in err
    assert "--device" not in err                                        # where it runs may change
    assert {p.name: p.read_bytes() for p in killed.iterdir()} == before


def test_resume_without_a_checkpoint_starts_from_the_beginning(data, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    args = _args(data, "classify", "x", "--resume", "--epochs", "1")
    args[args.index("--out") + 1] = str(empty)
    assert main(args) == 0 and (empty / "model.safetensors").exists() and len(_metrics(empty)) == 1


class _Toy(Task):
    """A linear model with dropout on fixed data (the trainer's toy task, with a generator to restore); it sends
    itself SIGTERM during optimizer step ``term_at``."""

    name, primary_metric, config_class = "toy", "accuracy", dict

    def __init__(self, term_at=None):
        torch.manual_seed(0)
        self.model = torch.nn.Sequential(torch.nn.Dropout(0.3), torch.nn.Linear(2, 2))
        self.x = torch.randn(64, 2)
        self.y = (self.x[:, 0] > 0).long()
        self.calls, self.term_at = 0, term_at

    from_data = from_saved = encode = predict_records = None

    def batches(self, data, batch_size, shuffle=False, seed=0):
        order = torch.randperm(64, generator=torch.Generator().manual_seed(seed))
        return [{"index": order[k:k + batch_size].tolist()} for k in range(0, 64, batch_size)]

    def step(self, batch):
        self.calls += 1
        if self.calls == self.term_at:
            os.kill(os.getpid(), signal.SIGTERM)
        return torch.nn.functional.cross_entropy(self.model(self.x[batch["index"]]), self.y[batch["index"]])

    def evaluate(self, data):
        with torch.no_grad():
            return classification_report(self.y, self.model(self.x).argmax(1), ["0", "1"])


def test_sigterm_saves_a_checkpoint_and_the_resumed_training_is_the_same(tmp_path):
    config = TrainConfig(epochs=3, batch_size=8, lr=0.05, progress=False, device="cpu", ema=0.9, patience=0)
    best = tmp_path / "best.safetensors"

    def keep(task):
        return lambda record: save_file({k: v.contiguous() for k, v in task.model.state_dict().items()}, best)

    whole = _Toy()
    fit(whole, None, None, config)
    stopped, handler = _Toy(term_at=13), signal.getsignal(signal.SIGTERM)
    with pytest.raises(TrainingInterrupted, match="checkpoint saved at epoch 2 step 5; continue with --resume"):
        fit(stopped, None, None, config, on_best=keep(stopped), checkpoints=Checkpoints(tmp_path, options={}))
    assert signal.getsignal(signal.SIGTERM) == handler                   # the trainer's handlers are gone
    assert json.loads((tmp_path / CHECKPOINT).read_text())["position"]["global_step"] == 13
    resumed = _Toy()
    fit(resumed, None, None, config, on_best=keep(resumed),
        checkpoints=Checkpoints(tmp_path, best_file=best, resume=True))
    assert resumed.calls == 3 * 8 - 13
    for a, b in zip(whole.model.state_dict().values(), resumed.model.state_dict().values()):
        assert torch.equal(a, b)
