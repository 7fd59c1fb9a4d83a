"""The front door: the Python API (``lstmkit.train``, ``lstmkit.load``), ``--config`` and ``--limit`` on train
commands, ``--version``, defaults in ``--help``, ``explain RUN TEXT``, ``params --json``, a forecaster's
``predict`` on standard input."""
import io
import json
import subprocess
import sys

import pytest

import lstmkit
from lstmkit.cli import main

TRAIN = "label\ttext\n" + "".join(f"1\t这个真好{k}\n0\t那个太差{k}\n" for k in range(30))
DEV = "label\ttext\n1\t真好\n0\t太差\n1\t好极了\n0\t差劲\n"
SMALL = {"epochs": 2, "units": 8, "embedding_dim": 8, "batch_size": 8, "lr": 0.02, "adversarial": 0.0, "quiet": True}


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    d = tmp_path_factory.mktemp("front")
    (d / "train.tsv").write_text(TRAIN, encoding="utf-8")
    (d / "dev.tsv").write_text(DEV, encoding="utf-8")
    return d


@pytest.fixture(scope="module")
def model(data):
    return lstmkit.train("classify", train=data / "train.tsv", dev=data / "dev.tsv", out=data / "api", **SMALL)


def test_the_python_api_gives_what_the_cli_prints(model, data, capsys):
    assert model.task == "classify" and model.config["options"]["units"] == 8
    assert model.core.model.lstm.cell(0, 0).num_units == 8 and model.run == data / "api"
    capsys.readouterr()
    assert main(["predict", str(data / "api"), "真好", "太差", "--json"]) == 0
    cli = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert model.predict(["真好", "太差"]) == cli
    assert lstmkit.load(data / "api").predict("真好") == cli[:1]        # one string is one text
    assert main(["evaluate", str(data / "api"), "--test", str(data / "dev.tsv"), "--json"]) == 0
    assert model.evaluate(data / "dev.tsv") == json.loads(capsys.readouterr().out)


def test_the_python_api_checks_its_arguments(model, data):
    with pytest.raises(ValueError, match=r"lstmkit.train: units: expected a positive integer, got -3"):
        lstmkit.train("classify", train=data / "train.tsv", out=data / "bad", units=-3)
    with pytest.raises(ValueError, match=r"not options of 'train classify': unitz"):
        lstmkit.train("classify", train=data / "train.tsv", out=data / "bad", unitz=3)
    with pytest.raises(ValueError, match="task must be one of classify, tag"):
        lstmkit.train("classification", out=data / "bad")
    with pytest.raises(FileExistsError, match="already holds a run"):
        lstmkit.train("classify", train=data / "train.tsv", dev=data / "dev.tsv", out=data / "api", **SMALL)
    with pytest.raises(TypeError, match="inputs must be str texts, got int at 1"):
        model.predict(["好", 3])
    with pytest.raises(ValueError, match="give data"):
        model.evaluate()
    assert not (data / "bad").exists()


def test_config_re_runs_a_run_and_the_command_line_overrides_it(model, data, capsys):
    config = data / "api" / "config.json"
    assert main(["train", "classify", "--config", str(config), "--out", str(data / "again")]) == 0
    first = (data / "api" / "metrics.jsonl").read_text(encoding="utf-8").splitlines()
    again = (data / "again" / "metrics.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(a)["train_loss"] for a in again] == [json.loads(f)["train_loss"] for f in first]
    (data / "opts.toml").write_text("units = 6\nbatch-size = 4\nbidirectional = false\n", encoding="utf-8")
    assert main(["train", "classify", "--train", str(data / "train.tsv"), "--dev", str(data / "dev.tsv"),
                 "--config", str(data / "opts.toml"), "--units", "5", "--epochs", "1", "--quiet",
                 "--out", str(data / "toml")]) == 0
    saved = json.loads((data / "toml" / "config.json").read_text(encoding="utf-8"))
    assert saved["model"]["units"] == 5 and saved["model"]["bidirectional"] is False     # the flag wins
    assert saved["options"]["batch_size"] == 4 and saved["train"]["batch_size"] == 4
    capsys.readouterr()
    for text, message in (("units = 'x'\n", "units: expected a positive integer, got 'x'"),
                          ("unitz = 3\n", "not options of 'train classify': unitz"),
                          ("units = \n", "not valid TOML"),
                          ("bidirectional = 3\n", "bidirectional: expected true or false, got 3"),
                          ('{"units": null}', "units: expected a value, got null")):
        bad = data / ("bad.json" if text.startswith("{") else "bad.toml")
        bad.write_text(text, encoding="utf-8")
        assert main(["train", "classify", "--config", str(bad), "--out", str(data / "x")]) == 2
        err = capsys.readouterr().err.strip()
        assert message in err and len(err.splitlines()) == 1, err
    assert not (data / "x").exists()


def test_limit_takes_the_first_examples_of_each_split(data, capsys):
    assert main(["train", "classify", "--train", str(data / "train.tsv"), "--dev", str(data / "dev.tsv"),
                 "--limit", "10", "--epochs", "1", "--units", "4", "--embedding-dim", "4", "--quiet",
                 "--out", str(data / "limited")]) == 0
    assert "--limit 10: 10, 4 training examples (train, dev)" in capsys.readouterr().err
    saved = json.loads((data / "limited" / "config.json").read_text(encoding="utf-8"))
    assert saved["options"]["limit"] == 10
    assert lstmkit.load(data / "limited").evaluate(data / "dev.tsv")["confusion"] is not None


def test_version_and_defaults_in_help(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0 and capsys.readouterr().out.strip() == f"lstmkit {lstmkit.__version__}"
    with pytest.raises(SystemExit):
        main(["train", "classify", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--layers LAYERS (default: 1)" in text and "--lr LR (default: 0.002)" in text
    assert "(default: max)" in text and "(default: None)" not in text


def test_explain_takes_the_run_first_as_every_command_does(model, data, capsys):
    assert main(["explain", str(data / "api"), "真好", "--json"]) == 0
    positional = json.loads(capsys.readouterr().out)
    assert main(["explain", "--run", str(data / "api"), "真好", "--json"]) == 0
    assert positional == json.loads(capsys.readouterr().out)
    assert main(["explain", "今天天气", "--json", "--units", "4", "--embedding-dim", "3"]) == 0
    fresh = json.loads(capsys.readouterr().out)
    assert "char" in json.dumps(fresh)          # without a run it tokenizes as training does, by characters


def test_params_json_counts_the_walkthroughs_lstm():
    out = io.StringIO()
    sys_stdout, sys.stdout = sys.stdout, out
    try:
        assert main(["params", "--input-size", "28", "--units", "128", "--json"]) == 0
    finally:
        sys.stdout = sys_stdout
    table = json.loads(out.getvalue())
    assert table["tensorflow"]["total"] == 80_384 and table["pytorch"]["total"] == 80_896
    assert table["difference"] == 512


def test_params_of_a_huge_lstm_costs_no_memory(capsys):
    assert main(["params", "--input-size", "28", "--units", "40000", "--json"]) == 0     # 6.4e9 weights, on meta
    assert json.loads(capsys.readouterr().out)["tensorflow"]["total"] == (28 + 40000) * 4 * 40000 + 4 * 40000


def test_a_forecaster_predicts_from_standard_input(tmp_path, capsys, monkeypatch):
    rows = "y\n" + "".join(f"{(k % 16) / 4:.2f}\n" for k in range(96))
    (tmp_path / "s.csv").write_text(rows, encoding="utf-8")
    run = tmp_path / "reg"
    assert main(["train", "regress", "--train", str(tmp_path / "s.csv"), "--window", "8", "--units", "4",
                 "--epochs", "1", "--quiet", "--out", str(run)]) == 0
    capsys.readouterr()
    assert main(["predict", str(run), "--file", str(tmp_path / "s.csv"), "--json"]) == 0
    from_file = json.loads(capsys.readouterr().out)
    monkeypatch.setattr(sys, "stdin", io.StringIO(rows))
    assert main(["predict", str(run), "--json"]) == 0
    from_stdin = json.loads(capsys.readouterr().out)
    assert from_stdin["forecast"] == from_file["forecast"] and from_stdin["input"].startswith("<stdin>")


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_progress_bars_show_on_a_terminal_only_and_quiet_silences_them(model, data, monkeypatch, capsys):
    from lstmkit.progress import progress, set_progress

    texts = ["真好"] * 3000                      # past MIN_ITEMS: tokenizing them shows a bar
    monkeypatch.setattr(sys, "stderr", _Terminal())
    try:
        model.predict(texts)
        assert "tokenizing (char)" in sys.stderr.getvalue()
        sys.stderr.seek(0), sys.stderr.truncate()
        set_progress(False)
        model.predict(texts)
        assert sys.stderr.getvalue() == ""
        set_progress(True)
        assert list(progress(range(3), "few")) == [0, 1, 2] and sys.stderr.getvalue() == ""   # too few: none
    finally:
        set_progress(True)
    monkeypatch.setattr(sys, "stderr", io.StringIO())          # not a terminal: never a bar
    model.predict(texts)
    assert sys.stderr.getvalue() == ""
    (data / "many.txt").write_text("\n".join(texts) + "\n", encoding="utf-8")
    monkeypatch.setattr(sys, "stderr", _Terminal())
    assert main(["predict", str(data / "api"), "--file", str(data / "many.txt"), "--quiet"]) == 0
    assert "tokenizing" not in sys.stderr.getvalue()
    assert main(["predict", str(data / "api"), "--file", str(data / "many.txt")]) == 0
    assert "tokenizing (char)" in sys.stderr.getvalue()


def test_python_dash_m_lstmkit_is_the_command():
    import subprocess

    out = subprocess.run([sys.executable, "-m", "lstmkit", "--version"], capture_output=True, text=True,
                         stdin=subprocess.DEVNULL, timeout=60)
    assert out.returncode == 0 and out.stdout.strip() == f"lstmkit {lstmkit.__version__}"


def test_predict_reads_standard_input_as_it_reads_a_file(tmp_path):
    """Bytes, decoded strictly: CRLF's "\\r" is not part of a text, a byte that is not UTF-8 names its line."""
    data = tmp_path / "cls.tsv"
    data.write_text("label\ttext\n" + "".join(f"1\t真好{k}\n0\t太差{k}\n" for k in range(6)), encoding="utf-8")
    assert main(["train", "classify", "--train", str(data), "--dev", str(data), "--out", str(tmp_path / "run"),
                 "--epochs", "1", "--units", "4", "--embedding-dim", "4", "--quiet"]) == 0

    def predict(stdin: bytes) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "lstmkit", "predict", str(tmp_path / "run"), "--json"],
                              input=stdin, capture_output=True, timeout=60)

    crlf = predict("真好\r\n\r\n太差\r\n".encode())
    assert crlf.returncode == 0, crlf.stderr
    assert [json.loads(line)["input"] for line in crlf.stdout.decode().splitlines()] == ["真好", "太差"]
    bad = predict(b"ok\n\xff\n")
    assert bad.returncode == 2 and bad.stderr.decode().strip().splitlines() == [
        "lstmkit predict: error: <stdin>:2: not UTF-8 (byte 0xff: invalid start byte); convert the file to UTF-8"]
