"""explain --run for taggers and seq2seq runs: real shapes, heatmaps that are what they say (attention rows sum
to 1 over the source, tag probabilities per token), the same predictions as ``predict``, text/JSON/HTML."""
import json

import numpy as np
import pytest
import torch

from lstmkit.cli import main
from lstmkit.data.pairs import PairDataset
from lstmkit.data.tagged import TaggedDataset
from lstmkit.explain.html import render_model_html
from lstmkit.explain.models import explain_run, render_model_text
from lstmkit.tasks.seq2seq import Seq2SeqConfig, Seq2SeqTask
from lstmkit.tasks.tag import TagConfig, TagTask
from lstmkit.train.checkpoint import save_run


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    d = tmp_path_factory.mktemp("runs")
    torch.manual_seed(0)
    pairs = PairDataset(["cat", "dog", "act"], ["K AE T", "D AO G", "AE K T"], "toy")
    s2s = Seq2SeqTask.from_data(Seq2SeqConfig(embedding_dim=6, units=8, beam_size=2), pairs)
    save_run(d / "s2s", s2s)
    save_run(d / "r2l", Seq2SeqTask.from_data(Seq2SeqConfig(embedding_dim=6, units=8, beam_size=2,
                                                            reverse_target=True), pairs))
    tagged = TaggedDataset([list("张三在北京"), list("李四去上海")],
                           [["B-PER", "E-PER", "O", "B-LOC", "E-LOC"]] * 2, "toy")
    tag = TagTask.from_data(TagConfig(scheme="BIOES", embedding_dim=6, units=8), tagged)
    save_run(d / "tag", tag)
    return d


def test_seq2seq_walkthrough(runs):
    tr = explain_run(runs / "s2s", ["cat", "tacocat"])
    shapes = {t.name: t.shape for s in tr.steps for t in s.tensors}
    assert shapes["padded ids"] == (2, 7) and shapes["memory (encoder outputs)"] == (2, 7, 16)
    assert shapes["decoder initial h, layer 0"] == (2, 8)
    for b, (maps, rec) in enumerate(zip(tr.heatmaps, tr.results)):
        att = maps[0]
        assert att.matrix.shape == (len(rec["tokens"]) + 1, len(tr.inputs[b]))
        assert np.allclose(att.matrix.sum(1), 1.0, atol=1e-6) and att.cols == list(tr.inputs[b])
    weights = next(t for s in tr.steps for t in s.tensors if t.name == "attention weights").values
    assert np.all(weights[0, :, 3:] == 0)                         # padding of the short source gets nothing
    from lstmkit.tasks import load_run

    assert tr.results == load_run(runs / "s2s").predict_records(["cat", "tacocat"], beam_size=2, n_best=1)
    text = render_model_text(tr)
    assert "attention: output steps x source steps" in text and "bridge" in text
    page = render_model_html(tr)
    assert page.count('class="heatmap"') == 2 and "<script" not in page
    doc = tr.to_json()
    assert doc["task"] == "seq2seq" and len(doc["heatmaps"]) == 2


def test_seq2seq_walkthrough_of_a_right_to_left_run(runs):
    """A --reverse-target run is replayed in the order its decoder wrote: the attention rows run from the last
    output token to the first, and the replayed logits give the output its beam log-probability."""
    tr = explain_run(runs / "r2l", ["cat", "tacocat"])
    logits = torch.from_numpy(next(t for s in tr.steps for t in s.tensors if t.name == "logits").values)
    from lstmkit.tasks import load_run

    task = load_run(runs / "r2l")
    assert tr.results == task.predict_records(["cat", "tacocat"], beam_size=2, n_best=1)
    assert any("right to left" in line for s in tr.steps for line in s.lines)
    for b, (maps, rec) in enumerate(zip(tr.heatmaps, tr.results)):
        rows = maps[0].rows
        assert rows == rec["tokens"][::-1] + ["<eos>"]
        ids = torch.tensor(task.target_vocab.encode(rec["tokens"][::-1]) + [task.target_vocab.eos_id])
        steps = torch.log_softmax(logits[b, : len(ids)].double(), -1).gather(1, ids[:, None])[:, 0]
        # <eos> counts when the search ended with it; an untrained model may stop at the length limit instead
        assert rec["nbest"][0]["log_prob"] in (pytest.approx(float(steps.sum()), abs=1e-4),
                                               pytest.approx(float(steps[:-1].sum()), abs=1e-4))


def test_tagger_walkthrough(runs, capsys):
    assert main(["explain", "--run", str(runs / "tag"), "张三去北京", "上海", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    shapes = {t["name"]: t["shape"] for s in doc["steps"] for t in s["tensors"]}
    assert shapes["outputs"] == [2, 5, 16] and shapes["emissions"][2] == len(doc["heatmaps"][0][0]["cols"])
    probs = np.array(doc["heatmaps"][1][0]["values"])
    assert probs.shape[0] == 2 and np.allclose(probs.sum(1), 1.0, atol=1e-5)
    assert main(["predict", str(runs / "tag"), "张三去北京", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["tags"] == doc["results"][0]["tags"]
    assert main(["explain", "--run", str(runs / "tag"), "上海", "--html", str(runs / "t.html")]) == 0
    assert (runs / "t.html").read_text(encoding="utf-8").count('class="heatmap"') == 1


def test_language_model_and_forecaster_walkthroughs(tmp_path, capsys):
    from lstmkit.data import TextDataset
    from lstmkit.data.series import SeriesDataset
    from lstmkit.tasks.lm import LMConfig, LMTask
    from lstmkit.tasks.regress import RegressConfig, RegressTask

    torch.manual_seed(0)
    lm = LMTask.from_data(LMConfig(embedding_dim=6, units=8), TextDataset(["我爱北京", "北京天安门"], None, "toy"))
    save_run(tmp_path / "lm", lm)
    tr = explain_run(tmp_path / "lm", ["我爱天安门"])
    probs = tr.heatmaps[0][0]
    assert probs.matrix.shape[0] == 6 and probs.rows[0] == "after <eos>"      # <eos> then five characters
    assert (probs.matrix <= 1).all() and (probs.matrix.sum(1) <= 1 + 1e-6).all()
    logits = next(t for s in tr.steps for t in s.tensors if t.name == "logits")
    assert logits.shape == (1, 6, len(lm.vocab))
    assert tr.results == lm.predict_records(["我爱天安门"])

    t = np.arange(60, dtype=np.float64)
    series = SeriesDataset(np.stack([np.sin(t / 3), np.cos(t / 5)], 1), ["y", "x"], "toy")
    reg = RegressTask.from_data(RegressConfig(columns=["y", "x"], window=8, horizon=2, units=6), series)
    save_run(tmp_path / "reg", reg)
    csv = tmp_path / "s.csv"
    csv.write_text("y,x\n" + "".join(f"{a},{b}\n" for a, b in series.values), encoding="utf-8")
    assert main(["explain", "--run", str(tmp_path / "reg"), "--file", str(csv), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["heatmaps"][0][0]["shape"] == [8, 2] and doc["heatmaps"][0][0]["cols"] == ["y", "x"]
    shapes = {t["name"]: t["shape"] for s in doc["steps"] for t in s["tensors"]}
    assert shapes["raw window"] == [1, 8, 2] and shapes["outputs"][-1] == 2
    assert doc["results"][0]["forecast"] == reg.predict_records([series])[0]["forecast"]
