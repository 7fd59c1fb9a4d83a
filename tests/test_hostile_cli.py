"""Hostile but fair input to the real command line: every case ends with a non-zero exit and one line that names
the file, option or key, no traceback, and nothing changed on disk that the command did not own."""
import hashlib
import json
import os
from pathlib import Path

import pytest

from lstmkit.cli import main

TRAIN = "label\ttext\n" + "".join(f"1\t这个真好{k}\n0\t那个太差{k}\n" for k in range(12))
SMALL = ["--epochs", "1", "--units", "4", "--embedding-dim", "4", "--quiet"]
CONLL = "".join("张 B-PER\n三 E-PER\n去 O\n北 B-LOC\n京 E-LOC\n\n李 B-PER\n四 E-PER\n好 O\n\n" for _ in range(4))


@pytest.fixture(scope="module")
def place(tmp_path_factory):
    d = tmp_path_factory.mktemp("hostile")
    (d / "train.tsv").write_text(TRAIN, encoding="utf-8")
    (d / "ner.conll").write_text(CONLL, encoding="utf-8")
    assert main(["train", "classify", "--train", str(d / "train.tsv"), "--dev", str(d / "train.tsv"),
                 "--adversarial", "0", "--out", str(d / "run"), *SMALL]) == 0
    assert main(["train", "tag", "--train", str(d / "ner.conll"), "--dev", str(d / "ner.conll"), "--format", "conll",
                 "--word-features", "none", "--out", str(d / "tagger"), *SMALL]) == 0
    (d / "mine").mkdir()
    (d / "mine" / "notes.txt").write_text("a user's own file\n", encoding="utf-8")
    (d / "page.html").write_text("<p>mine</p>", encoding="utf-8")
    (d / "afile").write_text("x", encoding="utf-8")
    return d


def _snapshot(root):
    return {str(p.relative_to(root)): hashlib.md5(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


CASES = [  # (argv with {d} for the folder, a fragment of the one-line message)
    (["export", "{d}/run", "--onnx", "{d}/run/model.safetensors"], "would write over an input of this command"),
    (["export", "{d}/run", "--onnx", "{d}/page.html"], "--onnx {d}/page.html exists; add --force"),
    (["export", "{d}/run", "--onnx", "{d}/mine"], "--onnx {d}/mine is a folder"),
    (["explain", "{d}/run", "好", "--html", "{d}/page.html"], "--html {d}/page.html exists; add --force"),
    (["explain", "{d}/run", "好", "--html", "{d}/run/config.json", "--force"], "would write over an input"),
    (["train", "classify", "--train", "{d}/train.tsv", "--out", "{d}/mine"], "is a folder with files in it"),
    (["train", "classify", "--train", "{d}/train.tsv", "--out", "{d}/afile"], "is a file; --out names the folder"),
    (["train", "classify", "--train", "{d}/train.tsv", "--dev", "{d}/train.tsv", "--out", "{d}/new", "--units",
      "100000"],
     "over the limit of 1,000,000,000"),
    (["explain", "好", "--units", "100000"], "LSTM (input_size=28, units=100000, layers=1)"),
    (["params", "--input-size", "28", "--units", str(10 ** 30)], "params: units must be at most 2,147,483,647"),
    (["train", "classify", "--train", "{d}/train.tsv", "--out", "{d}/new", "--weight-decay", "nan"],
     "argument --weight-decay: expected a finite number >= 0, got nan"),
    (["train", "classify", "--train", "{d}/train.tsv", "--out", "{d}/new", "--lr", "inf"],
     "argument --lr: expected a positive number, got inf"),
    (["evaluate", "{d}/tagger", "--test", "{d}/train.tsv"], "is it conll data (the run's format)"),
    (["predict", "{d}/run", "x" * 100_001], "input 1 has 100,001 characters, over --max-chars 100,000"),
]


@pytest.mark.parametrize("argv,message", CASES, ids=[" ".join(c[0][:2]) + f" #{k}" for k, c in enumerate(CASES)])
def test_bad_input_is_one_line_and_changes_nothing(place, argv, message, capsys):
    before = _snapshot(place)
    try:
        code = main([a.format(d=place) for a in argv])
    except SystemExit as exc:                               # argparse's errors: usage, then one error line
        code = exc.code
    err = capsys.readouterr().err.strip()
    assert code != 0
    if err.startswith("usage:"):
        err = err.split("\n")[-1]
    assert len(err.splitlines()) == 1, err
    assert message.format(d=place) in err and "Traceback" not in err, err
    assert _snapshot(place) == before
    assert not (place / "new").exists()


def test_force_replaces_an_output_but_never_the_runs_own_files(place, capsys):
    assert main(["explain", str(place / "run"), "好", "--html", str(place / "out.html")]) == 0
    assert main(["explain", str(place / "run"), "好", "--html", str(place / "out.html"), "--force"]) == 0
    assert (place / "out.html").read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    (place / "out.html").unlink()


def test_generate_refuses_an_infinite_temperature(tmp_path, capsys):
    (tmp_path / "t.txt").write_text("今天天气很好\n明天也好\n" * 6, encoding="utf-8")
    assert main(["train", "lm", "--train", str(tmp_path / "t.txt"), "--dev", str(tmp_path / "t.txt"),
                 "--out", str(tmp_path / "lm"), *SMALL]) == 0
    capsys.readouterr()
    for value in ("inf", "nan", "-1"):
        with pytest.raises(SystemExit) as exc:
            main(["generate", str(tmp_path / "lm"), "--temperature", value])
        assert exc.value.code == 2
        assert "argument --temperature: expected a finite number >= 0" in capsys.readouterr().err
    from lstmkit.tasks import load_run

    with pytest.raises(ValueError, match="temperature must be a finite number >= 0, got inf"):
        load_run(tmp_path / "lm").generate("今", temperature=float("inf"))


@pytest.mark.parametrize("edit,message", [
    (lambda c: c["model"]["tokenizer"].update(name="jieba", user_dict="/etc/passwd"),
     "model.tokenizer.user_dict (the jieba user dictionary) must be a file inside the run folder, got '/etc/passwd'"),
    (lambda c: c["model"]["tokenizer"].update(name="jieba", user_dict="../../secret.txt"),
     "must be a file inside the run folder, got '../../secret.txt'"),
    (lambda c: c["model"].update(tokenizer=["char"]), "model.tokenizer must be an object"),
    (lambda c: c["model"].update(units="many"), "config.json: model: units must be a positive int, got 'many'"),
    (lambda c: c.update(model=[1, 2]), "'model' must be an object of options"),
])
def test_a_hand_edited_config_json_names_the_file_and_the_key(place, tmp_path, edit, message, capsys):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(place / "run", run)
    config = json.loads((run / "config.json").read_text(encoding="utf-8"))
    edit(config)
    (run / "config.json").write_text(json.dumps(config), encoding="utf-8")
    assert main(["predict", str(run), "好"]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1 and "root:" not in err, err


def test_two_trainings_into_one_folder_the_second_is_refused(tmp_path):
    from lstmkit.train.checkpoint import LOCK, claim_run

    with claim_run(tmp_path / "run") as created:
        assert created and (tmp_path / "run" / LOCK).exists()
        with pytest.raises(FileExistsError, match="another lstmkit training is writing this run folder"):
            with claim_run(tmp_path / "run"):
                pass
    assert not (tmp_path / "run" / LOCK).exists()           # released and removed at the end
    with claim_run(tmp_path / "run") as created:           # an empty folder may be taken again
        assert not created


def test_the_model_size_check_counts_exactly(monkeypatch):
    from lstmkit.nn import LSTM

    exact = sum(p.numel() for p in LSTM(13, 11, num_layers=2, bidirectional=True, cell="lstm", num_proj=7,
                                        use_peepholes=True).parameters())
    monkeypatch.setenv("LSTMKIT_MAX_PARAMS", str(exact))
    LSTM(13, 11, num_layers=2, bidirectional=True, cell="lstm", num_proj=7, use_peepholes=True)
    monkeypatch.setenv("LSTMKIT_MAX_PARAMS", str(exact - 1))
    with pytest.raises(ValueError, match=f"{exact:,} parameters"):
        LSTM(13, 11, num_layers=2, bidirectional=True, cell="lstm", num_proj=7, use_peepholes=True)


@pytest.mark.skipif(not hasattr(os, "getuid"), reason="POSIX owners")
def test_jiebas_cache_lives_in_a_private_folder(tmp_path, monkeypatch):
    from lstmkit.text.tokenizers import private_cache_dir

    import tempfile

    from lstmkit.text import tokenizers

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    path = private_cache_dir("jieba")
    assert path == str(tmp_path / "cache" / "lstmkit" / "jieba") and os.stat(path).st_mode & 0o777 == 0o700
    os.chmod(path, 0o777)                       # writable by others: not trusted; this user's under the temp folder
    other = private_cache_dir("jieba")
    assert other == str(tmp_path / "tmp" / f"lstmkit-{os.getuid()}" / "jieba")
    assert os.stat(other).st_mode & 0o777 == 0o700 and private_cache_dir("jieba") == other    # kept, not remade
    os.chmod(Path(other).parent, 0o777)         # that one untrusted too: a fresh folder, removed at exit
    fresh = private_cache_dir("jieba")
    assert fresh not in (path, other) and os.stat(fresh).st_mode & 0o777 == 0o700
    (Path(fresh) / "jieba.cache").write_bytes(b"x")
    tokenizers.remove_fresh_cache_dirs()
    assert not os.path.exists(fresh) and os.path.isdir(other)
