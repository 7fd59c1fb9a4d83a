"""The TensorBoard logger: epoch records written as scalars and read back with TensorBoard's own reader; a clear
ValueError where the tensorboard package is missing."""
import builtins
import importlib.util
import json
import sys

import pytest

from lstmkit.report.tensorboard import MISSING, TensorBoardLogger, scalars

RECORDS = [{"epoch": e, "train_loss": 1.0 / e, "lr": 0.002 * (3 - e), "seconds": 0.1, "sentences_per_s": 100.0 * e,
            "unit": "sentences", "best": True,
            "dev": {"accuracy": 0.5 + 0.1 * e, "loss": 0.9 / e, "confusion": [[1, 0], [0, 1]], "n": 4,
                    "mae_by_step": [0.1 * e, 0.2 * e], "beam_size": 1, "ok": True, "nan": float("nan")}}
           for e in (1, 2)]


def test_scalars_of_a_record():
    s = scalars(RECORDS[1])
    assert s == {"train/loss": 0.5, "dev/accuracy": 0.7, "dev/loss": 0.45, "dev/n": 4.0, "dev/mae_by_step/0": 0.2,
                 "dev/mae_by_step/1": 0.4, "dev/beam_size": 1.0, "lr": 0.002, "throughput/sentences_per_s": 200.0}
    tokens = scalars({"epoch": 1, "unit": "tokens", "tokens_per_s": 5.0, "dev": {}})
    assert tokens == {"throughput/tokens_per_s": 5.0}


@pytest.mark.skipif(importlib.util.find_spec("tensorboard") is None, reason="the tensorboard package is not installed")
def test_scalars_read_back_with_tensorboards_reader(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    with TensorBoardLogger(tmp_path / "tb") as logger:
        for record in RECORDS:
            logger.log(record)
    events = EventAccumulator(str(tmp_path / "tb"))
    events.Reload()
    tags = set(events.Tags()["scalars"])
    assert tags == set(scalars(RECORDS[0]))
    for tag in ("train/loss", "dev/accuracy", "lr", "throughput/sentences_per_s", "dev/mae_by_step/1"):
        got = [(e.step, e.value) for e in events.Scalars(tag)]
        want = [(r["epoch"], scalars(r)[tag]) for r in RECORDS]
        assert [s for s, _ in got] == [s for s, _ in want]
        assert [v for _, v in got] == pytest.approx([v for _, v in want], rel=1e-6)    # stored as float32


def test_a_record_needs_an_int_epoch(tmp_path):
    pytest.importorskip("tensorboard")
    with TensorBoardLogger(tmp_path / "tb") as logger:
        with pytest.raises(ValueError, match="record must have an int 'epoch', got '1'"):
            logger.log({"epoch": "1", "dev": {}})


def test_without_the_tensorboard_package_it_says_what_to_install(monkeypatch, tmp_path):
    real = builtins.__import__

    def no_tensorboard(name, *args, **kwargs):
        if name == "tensorboard" or name.startswith("tensorboard.") or name == "torch.utils.tensorboard":
            raise ModuleNotFoundError(f"No module named {name!r}")
        return real(name, *args, **kwargs)

    for name in [m for m in sys.modules if m.startswith(("tensorboard", "torch.utils.tensorboard"))]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setattr(builtins, "__import__", no_tensorboard)
    with pytest.raises(ValueError, match="^--tensorboard needs the tensorboard package: pip install tensorboard$"):
        TensorBoardLogger(tmp_path / "tb")
    assert MISSING.endswith("pip install tensorboard")
    assert not (tmp_path / "tb").exists()


@pytest.mark.skipif(importlib.util.find_spec("tensorboard") is None, reason="the tensorboard package is not installed")
def test_train_tensorboard_logs_every_epoch_of_a_real_training(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from lstmkit.cli import main

    data = tmp_path / "cls.tsv"
    data.write_text("label\ttext\n" + "".join(f"1\t真好{k}\n0\t太差{k}\n" for k in range(8)), encoding="utf-8")
    assert main(["train", "classify", "--train", str(data), "--dev", str(data), "--out", str(tmp_path / "run"),
                 "--epochs", "2", "--units", "4", "--embedding-dim", "4", "--patience", "0", "--quiet",
                 "--tensorboard", str(tmp_path / "tb")]) == 0
    events = EventAccumulator(str(tmp_path / "tb"))
    events.Reload()
    lines = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    got = [(e.step, e.value) for e in events.Scalars("dev/accuracy")]
    assert got == [(r["epoch"], pytest.approx(r["dev"]["accuracy"], rel=1e-6)) for r in lines]
    assert [e.value for e in events.Scalars("train/loss")] == pytest.approx([r["train_loss"] for r in lines], rel=1e-6)
