"""Every task's CLI on ``tests/device.py``'s device: train, evaluate and predict (and generate) with ``--device``.

Here and in CI that is the CPU; ``benchmarks/gpu_check.py`` runs this file with ``LSTMKIT_TEST_DEVICE=cuda``.
"""
import json
import math
import random

import pytest

from device import DEVICE
from lstmkit.cli import main

DEV = ["--device", str(DEVICE)]
TINY = ["--epochs", "1", "--units", "8", "--quiet", *DEV]


def _write(path, lines):
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


def _files(tmp_path, kind):
    rng = random.Random(0)
    if kind == "classify":
        rows = ["label\ttext"] + [f"{y}\t{'好' if y else '差'}{rng.choice('的了是')}{k}" for k in range(40) for y in (0, 1)]
        f = _write(tmp_path / "data.tsv", rows)
        return ["--embedding-dim", "8"], f, ["真好的", "太差了"]
    if kind == "tag":
        lines = []
        for _ in range(40):
            lines += [f"{c} O" for c in rng.choice(["我在", "他去"])] + ["北 B-LOC", "京 E-LOC", ""]
        f = _write(tmp_path / "data.txt", lines)
        return ["--format", "conll", "--embedding-dim", "8", "--word-features", "none"], f, ["我在北京"]
    if kind == "seq2seq":
        words = ["".join(rng.choice("abc") for _ in range(rng.randint(1, 4))) for _ in range(80)]
        f = _write(tmp_path / "data.tsv", [f"{w}\t{' '.join(w.upper())}" for w in words])
        return ["--embedding-dim", "8"], f, ["abc"]
    if kind == "lm":
        f = _write(tmp_path / "data.txt", ["春眠不觉晓", "处处闻啼鸟", "夜来风雨声", "花落知多少"] * 5)
        return ["--embedding-dim", "8", "--bptt", "8", "--batch-size", "4"], f, None
    rows = ["step,y"] + [f"{k},{math.sin(k / 4):.5f}" for k in range(120)]
    f = _write(tmp_path / "data.csv", rows)
    return ["--column", "y", "--window", "8"], f, None


@pytest.mark.parametrize("kind", ["classify", "tag", "seq2seq", "lm", "regress"])
def test_train_evaluate_predict_on_the_device(kind, tmp_path, capsys):
    flags, data, texts = _files(tmp_path, kind)
    run = str(tmp_path / "run")
    assert main(["train", kind, "--train", data, "--dev", data, "--out", run, *flags, *TINY]) == 0
    capsys.readouterr()
    assert main(["evaluate", run, "--test", data, "--json", *DEV]) == 0
    metrics = json.loads(capsys.readouterr().out)
    assert all(not isinstance(v, float) or math.isfinite(v) for v in metrics.values())
    if kind == "lm":
        assert main(["generate", run, "--prompt", "春眠", "--max-tokens", "5", "--json", *DEV]) == 0
        assert json.loads(capsys.readouterr().out)["text"].startswith("春眠")
        return
    predict = ["predict", run, *texts] if texts else ["predict", run, "--file", data]
    assert main([*predict, "--json", *DEV]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(records) == (len(texts) if texts else 1) and not any(r.get("error") for r in records)


def test_a_device_this_machine_lacks_is_a_one_line_error(tmp_path, capsys):
    flags, data, texts = _files(tmp_path, "classify")
    run = str(tmp_path / "run")
    assert main(["train", "classify", "--train", data, "--dev", data, "--out", run, *flags, *TINY]) == 0
    capsys.readouterr()
    assert main(["predict", run, "好", "--device", "tpu"]) == 2
    assert "device must be auto, cpu or cuda" in capsys.readouterr().err


def test_seq2seq_ensemble_and_right_to_left_rescoring_on_the_device(tmp_path, capsys):
    flags, data, texts = _files(tmp_path, "seq2seq")
    runs = [str(tmp_path / name) for name in ("l2r", "l2r-ema", "r2l")]
    for run, extra in zip(runs, ([], ["--ema", "0.9", "--seed", "2"], ["--reverse-target"])):
        assert main(["train", "seq2seq", "--train", data, "--dev", data, "--out", run, *flags, *TINY, *extra]) == 0
    capsys.readouterr()
    assert main(["evaluate", runs[0], "--test", data, "--ensemble", runs[1], "--rescore", runs[2], "--json",
                 *DEV]) == 0
    metrics = json.loads(capsys.readouterr().out)
    assert 0.0 <= metrics["wer"] <= 1.0 and metrics["rescorers"] == 1
    assert main(["predict", runs[2], *texts, "--rescore", runs[0], "--json", *DEV]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(records) == len(texts) and not any(r.get("error") for r in records)
