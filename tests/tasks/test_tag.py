"""The tagger: learns a toy NER task with the CRF and with softmax, metrics agree with seqeval, runs round-trip."""
import json

import numpy as np
import pytest

from lstmkit.cli import main
from lstmkit.data.tagged import TaggedDataset
from lstmkit.tasks.tag import TagConfig, TagTask, tagging_report
from lstmkit.train.checkpoint import load_run, save_run
from lstmkit.train.trainer import TrainConfig, fit

seqeval_metrics = pytest.importorskip("seqeval.metrics")

NAMES, PLACES = ["张三", "李四", "王小明"], ["北京", "上海", "天安门"]
FILL = list("我们在今天去了看见和的")


def _toy(n, seed):
    """Sentences with one person (B/M/E/S-PER) and one place (B/M/E-LOC) among filler characters."""
    rng = np.random.default_rng(seed)
    sents, tags = [], []
    for _ in range(n):
        toks, tgs = [], []
        for part in ("fill", "PER", "fill", "LOC", "fill"):
            if part == "fill":
                for ch in rng.choice(FILL, size=rng.integers(1, 4)):
                    toks.append(str(ch))
                    tgs.append("O")
            else:
                word = str(rng.choice(NAMES if part == "PER" else PLACES))
                toks += list(word)
                tgs += (["B-" + part] + ["M-" + part] * (len(word) - 2) + ["E-" + part]) if len(word) > 1 \
                    else ["S-" + part]
        sents.append(toks)
        tags.append(tgs)
    return TaggedDataset(sents, tags, "toy")


@pytest.mark.parametrize("decoder", ["crf", "softmax"])
def test_learns_toy_ner_and_round_trips(tmp_path, decoder):
    train, dev = _toy(200, 0), _toy(40, 1)
    cfg = TagConfig(kind="entities", scheme="BMES", embedding_dim=16, units=16, decoder=decoder, dropout=0.1)
    task = TagTask.from_data(cfg, train)
    best = fit(task, task.encode(train), task.encode(dev),
               TrainConfig(epochs=8, batch_size=16, lr=1e-2, progress=False, patience=0))
    assert best["dev"]["f1"] >= 0.95
    save_run(tmp_path / "run", task)
    again = load_run(tmp_path / "run")
    assert again.predict_ids(again.encode(dev)) == task.predict_ids(task.encode(dev))
    rec = again.predict_records(["我们张三去了北京的", ""])
    assert {(e["type"], e["text"]) for e in rec[0]["entities"]} == {("LOC", "北京"), ("PER", "张三")}
    assert "error" in rec[1]


def test_entity_metrics_agree_with_seqeval():
    gold = [["B-PER", "E-PER", "O", "S-LOC"], ["B-ORG", "M-ORG", "E-ORG", "O"]]
    pred = [["B-PER", "E-PER", "O", "O"], ["B-ORG", "E-ORG", "O", "S-LOC"]]
    r = tagging_report(gold, pred, TagConfig(kind="entities", scheme="BMES", labels=["O"]))
    to_bioes = lambda seqs: [[t.replace("M-", "I-") for t in s] for s in seqs]  # noqa: E731
    g, p = to_bioes(gold), to_bioes(pred)
    assert r["f1"] == pytest.approx(seqeval_metrics.f1_score(g, p))
    assert r["precision"] == pytest.approx(seqeval_metrics.precision_score(g, p))
    assert r["recall"] == pytest.approx(seqeval_metrics.recall_score(g, p))
    assert r["token_accuracy"] == pytest.approx(4 / 8)
    assert r["per_type"]["PER"]["f1"] == 1.0 and r["per_type"]["ORG"]["f1"] == 0.0


def test_cli_train_evaluate_predict_tag(tmp_path, capsys):
    def write(name, data):
        lines = []
        for toks, tags in zip(data.sentences, data.tags):
            lines += [f"{t} {g}" for t, g in zip(toks, tags)] + [""]
        (tmp_path / name).write_text("\n".join(lines), encoding="utf-8")

    write("train.txt", _toy(200, 0))
    write("dev.txt", _toy(40, 1))
    assert main(["train", "tag", "--train", str(tmp_path / "train.txt"), "--dev", str(tmp_path / "dev.txt"),
                 "--format", "conll", "--out", str(tmp_path / "run"), "--epochs", "6", "--units", "16",
                 "--embedding-dim", "16", "--batch-size", "16", "--lr", "0.01", "--quiet"]) == 0
    capsys.readouterr()
    assert main(["evaluate", str(tmp_path / "run"), "--test", str(tmp_path / "dev.txt"), "--json"]) == 0
    m = json.loads(capsys.readouterr().out)
    assert {"f1", "precision", "recall", "token_accuracy", "per_type"} <= set(m) and m["f1"] > 0.9
    assert main(["predict", str(tmp_path / "run"), "我们李四去了上海的"]) == 0
    out = capsys.readouterr().out
    assert "PER [2, 4) 李四" in out and "LOC [6, 8) 上海" in out
    assert main(["explain", "--run", str(tmp_path / "run"), "张三"]) == 2
    assert "reads classifier runs" in capsys.readouterr().err
