"""The CLI end to end on a tiny data set: train, evaluate --json, predict --json, and every user error as one
line and a non-zero exit."""
import json
import subprocess
import sys

import pytest

from lstmkit.cli import main

TRAIN = ["label\ttext"] + [f"1\t这个真好{k}" for k in range(30)] + [f"0\t那个太差{k}" for k in range(30)]
SMALL = ["--epochs", "3", "--units", "8", "--embedding-dim", "8", "--batch-size", "8", "--lr", "0.02", "--quiet"]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli")
    (d / "train.tsv").write_text("\n".join(TRAIN) + "\n", encoding="utf-8")
    (d / "dev.tsv").write_text("label\ttext\n1\t真好\n0\t太差\n1\t好极了\n0\t差劲\n", encoding="utf-8")
    code = main(["train", "classify", "--train", str(d / "train.tsv"), "--dev", str(d / "dev.tsv"),
                 "--out", str(d / "run"), *SMALL])
    assert code == 0
    return d


def test_run_folder_holds_data_only(run):
    names = {p.name for p in (run / "run").iterdir()}
    assert names == {"config.json", "vocab.json", "vocab_bigrams.json", "model.safetensors", "metrics.jsonl"}
    config = json.loads((run / "run" / "config.json").read_text(encoding="utf-8"))
    assert config["task"] == "classify" and config["model"]["tokenizer"]["name"] == "char"
    lines = (run / "run" / "metrics.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 3 and "accuracy" in json.loads(lines[0])["dev"]


def test_ema_is_a_training_option_saved_with_the_run(run):
    out = run / "run-ema"
    assert main(["train", "classify", "--train", str(run / "train.tsv"), "--dev", str(run / "dev.tsv"),
                 "--out", str(out), *SMALL, "--ema", "0.9"]) == 0
    config = json.loads((out / "config.json").read_text(encoding="utf-8"))
    assert config["train"]["ema"] == 0.9


def test_a_student_is_trained_from_teacher_runs(run, capsys):
    """--teacher RUN (repeated: an ensemble) distils its probabilities; the run records its teachers."""
    out = run / "run-student"
    teach = ["--teacher", str(run / "run"), "--teacher", str(run / "run")]
    assert main(["train", "classify", "--train", str(run / "train.tsv"), "--dev", str(run / "dev.tsv"),
                 "--out", str(out), *SMALL, *teach, "--distill", "0.7"]) == 0
    assert "distillation: targets 0.3 x label + 0.7 x the probabilities of" in capsys.readouterr().err
    config = json.loads((out / "config.json").read_text(encoding="utf-8"))
    assert config["model"]["distill"] == 0.7 and config["teachers"] == [str(run / "run")] * 2
    assert main(["predict", str(out), "真好", "--json"]) == 0     # a student predicts as any run
    assert json.loads(capsys.readouterr().out)["label"] in ("0", "1")
    for extra, message in ((["--distill", "0.5"], "--distill weighs a teacher's probabilities: give --teacher"),
                           (["--teacher", str(run / "nowhere")], "nowhere")):
        assert main(["train", "classify", "--train", str(run / "train.tsv"), "--dev", str(run / "dev.tsv"),
                     "--out", str(run / "r5"), *SMALL, *extra]) == 2
        err = capsys.readouterr().err.strip()
        assert message in err and len(err.splitlines()) == 1, err
    assert not (run / "r5").exists()


def test_ema_out_of_range_is_a_usage_error(run, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["train", "classify", "--train", str(run / "train.tsv"), "--out", str(run / "r4"), "--ema", "1.5"])
    assert exc.value.code == 2
    assert "argument --ema: expected a number in [0, 1), got 1.5" in capsys.readouterr().err


def test_evaluate_json_has_stable_keys(run, capsys):
    assert main(["evaluate", str(run / "run"), "--test", str(run / "dev.tsv"), "--json"]) == 0
    metrics = json.loads(capsys.readouterr().out)
    assert {"accuracy", "macro_f1", "per_class", "confusion"} <= set(metrics)
    assert metrics["n"] == 4
    assert main(["evaluate", str(run / "run"), "--test", str(run / "dev.tsv")]) == 0
    assert "confusion" in capsys.readouterr().out


def test_predict_json_lines_and_empty_text(run, capsys):
    assert main(["predict", str(run / "run"), "真好", "   ", "太差", "--json"]) == 0
    recs = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["input"] for r in recs] == ["真好", "   ", "太差"]
    assert recs[0]["label"] == "1" and recs[2]["label"] == "0"
    assert set(recs[0]["probabilities"]) == {"0", "1"} and abs(sum(recs[0]["probabilities"].values()) - 1) < 1e-5
    assert recs[1]["label"] is None and "empty text" in recs[1]["error"]
    (run / "in.txt").write_text("真好\n\n太差\n", encoding="utf-8")
    assert main(["predict", str(run / "run"), "--file", str(run / "in.txt")]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 2 and out[0].startswith("1\t")


@pytest.mark.parametrize("args,message", [
    (["evaluate", "{d}/nope", "--test", "{d}/dev.tsv"], "run folder not found"),
    (["evaluate", "{d}", "--test", "{d}/dev.tsv"], "is not a run folder: it has no config.json"),
    (["evaluate", "{d}/run", "--test", "{d}/missing.tsv"], "file not found"),
    (["evaluate", "{d}/run", "--test", "{d}/dev.tsv", "--label-column", "stars"], "no column 'stars'"),
    (["evaluate", "{d}/run", "--test", "{d}/gbk.tsv"], "gbk.tsv:3: not UTF-8"),
    (["train", "classify", "--train", "{d}/empty.tsv", "--out", "{d}/r2"], "no examples"),
    (["train", "classify", "--train", "{d}/train.tsv", "--out", "{d}/r3", "--tokenizer", "bpe"],
     "unknown tokenizer 'bpe'"),
    (["train", "classify", "--train", "{d}/train.tsv", "--out", "{d}/run"], "already holds a run"),
    (["predict", "{d}/nomodel", "好"], "is not a complete run folder: it has no vocab.json"),
])
def test_user_errors_are_one_line_and_nonzero(run, capsys, args, message):
    d = run
    (d / "gbk.tsv").write_bytes("label\ttext\n1\t好\n".encode("utf-8") + "0\t坏\n".encode("gbk"))
    (d / "empty.tsv").write_text("label\ttext\n\n", encoding="utf-8")
    (d / "nomodel").mkdir(exist_ok=True)
    (d / "nomodel" / "config.json").write_text('{"task": "classify", "model": {}}', encoding="utf-8")
    code = main([a.format(d=d) for a in args])
    err = capsys.readouterr().err.strip()
    assert code != 0
    assert message in err and len(err.splitlines()) == 1 and "Traceback" not in err


def test_console_script_prints_no_traceback(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "lstmkit.cli", "predict", str(tmp_path / "none"), "x"],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and proc.stderr.startswith("lstmkit predict: error: run folder not found")
    assert "Traceback" not in proc.stderr


def test_params_command(capsys):
    assert main(["params", "--input-size", "28", "--units", "128"]) == 0
    out = capsys.readouterr().out
    assert "(28 + 128) * 4*128 + 4*128 = 80,384" in out and "4*128 * (28 + 128) + 8*128 = 80,896" in out


def test_corpus_and_task_must_fit(run, capsys):
    assert main(["train", "classify", "--corpus", "msra-ner", "--out", str(run / "x")]) == 2
    assert "is for tagging" in capsys.readouterr().err
    assert main(["evaluate", str(run / "run"), "--corpus", "pd98-seg"]) == 2
    assert "does not fit a 'classify' run" in capsys.readouterr().err


def test_classifier_ensemble_evaluates_and_predicts(run, capsys):
    """evaluate/predict --ensemble with classifier runs: the class probabilities averaged; a run joined with
    itself is the run alone; a run of another kind, --backend onnx, or --ensemble on a kind that has none is a
    one-line error."""
    other = run / "run-seed2"
    assert main(["train", "classify", "--train", str(run / "train.tsv"), "--dev", str(run / "dev.tsv"),
                 "--out", str(other), *SMALL, "--seed", "2", "--tokenizer", "regex"]) == 0
    capsys.readouterr()
    test = ["--test", str(run / "dev.tsv"), "--json"]
    got = {}
    for name, extra in (("a", []), ("a+a", ["--ensemble", str(run / "run")]), ("a+b", ["--ensemble", str(other)])):
        assert main(["evaluate", str(run / "run"), *test, *extra]) == 0
        got[name] = json.loads(capsys.readouterr().out)
    assert "members" not in got["a"] and got["a+a"]["members"] == got["a+b"]["members"] == 2
    assert got["a+a"]["loss"] == pytest.approx(got["a"]["loss"], abs=1e-6)
    assert got["a+b"]["loss"] != pytest.approx(got["a"]["loss"], abs=1e-6)
    assert main(["evaluate", str(run / "run"), "--test", str(run / "dev.tsv"), "--ensemble", str(other)]) == 0
    assert "(an ensemble of 2 runs)" in capsys.readouterr().out
    probs = []
    for args in ([str(run / "run")], [str(other)], [str(run / "run"), "--ensemble", str(other)]):
        assert main(["predict", args[0], "真好", *args[1:], "--json"]) == 0   # --ensemble takes the words after it
        probs.append(json.loads(capsys.readouterr().out)["probabilities"]["1"])
    assert probs[2] == pytest.approx((probs[0] + probs[1]) / 2, abs=1e-5)
    (run / "pairs.tsv").write_text("ab\tA B\nba\tB A\n" * 8, encoding="utf-8")
    assert main(["train", "seq2seq", "--train", str(run / "pairs.tsv"), "--dev", str(run / "pairs.tsv"),
                 "--out", str(run / "s2s"), "--epochs", "1", "--units", "8", "--embedding-dim", "4", "--quiet"]) == 0
    capsys.readouterr()
    (run / "lm").mkdir()      # the kind is checked from config.json, before any model is read
    (run / "lm" / "config.json").write_text('{"task": "lm", "model": {}}', encoding="utf-8")
    for args, message in ((["evaluate", str(run / "run"), *test, "--ensemble", str(run / "s2s")],
                           "--ensemble joins runs of one kind"),
                          (["evaluate", str(run / "s2s"), "--test", str(run / "pairs.tsv"), "--ensemble",
                            str(run / "run")], "--ensemble joins runs of one kind"),
                          (["predict", str(run / "run"), "好", "--backend", "onnx", "--ensemble", str(other)],
                           "--ensemble runs on the torch backend"),
                          (["predict", str(run / "run"), "--ensemble", str(other), "好"],
                           "--ensemble: run folder not found: 好 (put the texts before --ensemble)"),
                          (["predict", str(run / "lm"), "好", "--ensemble", str(other)],
                           "--ensemble joins classify or seq2seq runs; "),
                          (["predict", str(run / "run"), "好", "--rescore", str(other)],
                           "--rescore applies to seq2seq")):
        assert main(args) == 2
        err = capsys.readouterr().err.strip()
        assert message in err and len(err.splitlines()) == 1, err
