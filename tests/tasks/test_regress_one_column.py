"""`lstmkit train regress --train F.csv` without --column: a CSV of one column is read as the series (train, the
held-out dev, a --dev file), and the run's evaluate and predict read that column by the name the run saved; a CSV
of several columns still needs --column, and the error lists them."""
import json

import numpy as np
import pytest

from lstmkit.cli import main

ARGS = ["--window", "6", "--horizon", "2", "--units", "4", "--epochs", "1", "--batch-size", "16", "--quiet",
        "--device", "cpu"]


def _csv(path, header, n, phase=0.0):
    values = 5.0 + 2.0 * np.sin(2 * np.pi * (np.arange(n) + phase) / 12)
    if "," in header:
        rows = [f"{k},{v:.6f}" for k, v in enumerate(values)]
    else:
        rows = [f"{v:.6f}" for v in values]
    path.write_text(header + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def _error(capsys, argv) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err, err
    return err


@pytest.mark.parametrize("dev", [False, True])
def test_a_one_column_csv_trains_evaluates_and_predicts_without_column(tmp_path, capsys, dev):
    train, test = _csv(tmp_path / "train.csv", "level", 60), _csv(tmp_path / "test.csv", "level", 20, 60)
    run = tmp_path / "run"
    extra = ["--dev", str(_csv(tmp_path / "dev.csv", "level", 20, 60))] if dev else []
    assert main(["train", "regress", "--train", str(train), *extra, "--out", str(run), *ARGS]) == 0
    capsys.readouterr()
    model = json.loads((run / "config.json").read_text(encoding="utf-8"))["model"]
    assert model["columns"] == ["level"] and model["target"] == "level"

    assert main(["evaluate", str(run), "--test", str(test), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["n"] == 20 - 6 - 2 + 1
    assert main(["predict", str(run), "--file", str(test), "--json"]) == 0
    rec = json.loads(capsys.readouterr().out)
    assert rec["target"] == "level" and rec["columns"] == ["level"] and len(rec["forecast"]) == 2
    assert rec["last"] == pytest.approx(float(test.read_text().split()[-1]))

    other = _csv(tmp_path / "other.csv", "price", 20)     # the run reads its own column, by name
    assert "other.csv:1: no column 'level' (columns: price)" in _error(
        capsys, ["evaluate", str(run), "--test", str(other)])
    assert "other.csv:1: no column 'level' (columns: price)" in _error(
        capsys, ["predict", str(run), "--file", str(other)])


def test_several_columns_without_column_is_an_error_listing_them(tmp_path, capsys):
    two = _csv(tmp_path / "two.csv", "step,y", 60)
    err = _error(capsys, ["train", "regress", "--train", str(two), "--out", str(tmp_path / "run"), *ARGS])
    assert err.endswith("--column NAME is required with --train when the CSV has several columns: "
                        f"{two} has 2 (step, y); name the one(s) to read (the first is the target unless --target "
                        "says otherwise)"), err
    assert not (tmp_path / "run").exists()
    assert main(["train", "regress", "--train", str(two), "--column", "y", "--out", str(tmp_path / "run"),
                 *ARGS]) == 0


def test_a_one_column_csv_checks_target_and_cells(tmp_path, capsys):
    one = _csv(tmp_path / "one.csv", "level", 60)
    err = _error(capsys, ["train", "regress", "--train", str(one), "--target", "y", "--out",
                          str(tmp_path / "run"), *ARGS])
    assert err.endswith("--target 'y' must be the CSV's one column, 'level'"), err
    bad = tmp_path / "bad.csv"
    bad.write_text("level\n1.5\nabc\n", encoding="utf-8")
    err = _error(capsys, ["train", "regress", "--train", str(bad), "--out", str(tmp_path / "run"), *ARGS])
    assert "bad.csv:3: column 'level': expected a finite number, got 'abc'" in err
    assert not (tmp_path / "run").exists()
