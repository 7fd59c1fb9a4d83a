"""explain shows the models' own recorded tensors: change what a model's forward computes and every walkthrough
changes with it (nothing is recomputed beside it), and the classifier's hand-stepped layer-0 loop is held to
the model's recorded outputs."""
import numpy as np
import pytest
import torch

from lstmkit.data import TextDataset
from lstmkit.data.pairs import PairDataset
from lstmkit.data.series import SeriesDataset
from lstmkit.data.tagged import TaggedDataset
from lstmkit.explain import trace
from lstmkit.explain.models import explain_run
from lstmkit.nn import record, recording
from lstmkit.nn.seq2seq import Seq2Seq
from lstmkit.tasks import load_run
from lstmkit.tasks.classify import ClassifyConfig, ClassifyTask, TextClassifier
from lstmkit.tasks.lm import LanguageModel, LMConfig, LMTask
from lstmkit.tasks.regress import RegressConfig, RegressTask, SeriesRegressor
from lstmkit.tasks.seq2seq import Seq2SeqConfig, Seq2SeqTask
from lstmkit.tasks.tag import TagConfig, Tagger, TagTask
from lstmkit.train.checkpoint import save_run

TEXTS = ["今天天气很好", "好"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    d = tmp_path_factory.mktemp("runs")
    torch.manual_seed(0)
    save_run(d / "classify", ClassifyTask.from_data(ClassifyConfig(embedding_dim=6, units=5), TextDataset(
        ["今天很好", "天气太差", "好"], ["1", "0", "1"], "toy")))
    save_run(d / "tag", TagTask.from_data(TagConfig(scheme="BIOES", embedding_dim=6, units=4), TaggedDataset(
        [list("张三在北京")], [["B-PER", "E-PER", "O", "B-LOC", "E-LOC"]], "toy")))
    save_run(d / "seq2seq", Seq2SeqTask.from_data(Seq2SeqConfig(embedding_dim=6, units=8, beam_size=2), PairDataset(
        ["cat", "dog"], ["K AE T", "D AO G"], "toy")))
    save_run(d / "lm", LMTask.from_data(LMConfig(embedding_dim=6, units=8), TextDataset(["我爱北京"], None, "toy")))
    t = np.arange(40, dtype=np.float64)
    series = SeriesDataset(np.stack([np.sin(t / 3), np.cos(t / 5)], 1), ["y", "x"], "toy")
    save_run(d / "regress", RegressTask.from_data(RegressConfig(columns=["y", "x"], window=6, horizon=2, units=4),
                                                  series))
    (d / "s.csv").write_text("y,x\n" + "".join(f"{a},{b}\n" for a, b in series.values), encoding="utf-8")
    return d


def _shown(tr, name, step=None):
    """The values of the tensor called ``name`` (in step ``step``: a forecaster shows two "outputs")."""
    return next(t for s in tr.steps for t in s.tensors if t.name == name and step in (None, s.number)).values


def _scaled_forward(monkeypatch, cls, name, factor=10.0):
    """``cls.forward`` now ends with ``name`` scaled by ``factor``: recorded and returned, as a changed model's
    forward would; a walkthrough that recomputed the model beside it would not see the change."""
    forward = cls.forward

    def scaled(self, *args, **kwargs):
        out = forward(self, *args, **kwargs)
        first = (out[0] if isinstance(out, tuple) else out) * factor
        record(name, first)
        return (first, *out[1:]) if isinstance(out, tuple) else first

    monkeypatch.setattr(cls, "forward", scaled)


def test_the_classifier_walkthrough_shows_the_models_logits(runs, monkeypatch):
    plain = trace(TEXTS, run=runs / "classify")
    _scaled_forward(monkeypatch, TextClassifier, "logits")
    scaled = trace(TEXTS, run=runs / "classify")
    np.testing.assert_allclose(_shown(scaled, "logits"), 10 * _shown(plain, "logits"), rtol=1e-6)
    task = load_run(runs / "classify")
    probs = task.predict_proba(task.encode(TextDataset(TEXTS, None, "x")))     # the patched model predicts too
    np.testing.assert_allclose(_shown(scaled, "softmax"), probs, atol=1e-6)
    assert not np.allclose(_shown(scaled, "softmax"), _shown(plain, "softmax"), atol=1e-4)


def test_the_classifier_walkthrough_follows_a_change_inside_the_forward(runs, monkeypatch):
    """Pooling that triples the sentence vector: the walkthrough's logits are what the changed model returns."""
    plain = trace(TEXTS, run=runs / "classify")
    pool = TextClassifier.pool
    monkeypatch.setattr(TextClassifier, "pool", lambda self, *a: 3 * pool(self, *a))
    tripled = trace(TEXTS, run=runs / "classify")
    task = load_run(runs / "classify")
    probs = task.predict_proba(task.encode(TextDataset(TEXTS, None, "x")))
    np.testing.assert_allclose(_shown(tripled, "softmax"), probs, atol=1e-6)
    np.testing.assert_array_equal(_shown(tripled, "outputs"), _shown(plain, "outputs"))
    assert not np.allclose(_shown(tripled, "logits"), _shown(plain, "logits"), atol=1e-4)


@pytest.mark.parametrize("kind,cls,shown,inputs", [
    ("tag", Tagger, {"embedded": (5, "embedded batch"), "outputs": (6, "outputs"), "emissions": (7, "emissions")},
     ["张三去北京", "上海"]),
    ("seq2seq", Seq2Seq, {"embedded_source": (5, "embedded source"), "memory": (6, "memory (encoder outputs)"),
                          "attention_keys": (7, "attention keys"), "attention": (8, "attention weights"),
                          "logits": (8, "logits")}, ["cat", "tacocat"]),
    ("lm", LanguageModel, {"embedded": (4, "embedded"), "outputs": (5, "outputs"), "logits": (6, "logits")},
     ["我爱北京", "北京"]),
    ("regress", SeriesRegressor, {"window": (2, "model inputs"), "outputs": (3, "outputs"),
                                  "forecast": (4, "outputs")}, None),
])
def test_each_model_walkthrough_shows_the_recorded_tensors(runs, monkeypatch, kind, cls, shown, inputs):
    """The forward re-records each name scaled by 10 (a nested recording inside the outer one): every tensor
    the walkthrough shows under it is the scaled one, so none of them is recomputed beside the model."""
    inputs = inputs or [runs / "s.csv"]
    plain = explain_run(runs / kind, inputs)
    forward = cls.forward

    def rerecorded(self, *args, **kwargs):
        with recording() as inner:
            out = forward(self, *args, **kwargs)
        for name in shown:
            record(name, 10 * inner[name])
        return out

    monkeypatch.setattr(cls, "forward", rerecorded)
    scaled = explain_run(runs / kind, inputs)
    for name, (step, title) in shown.items():
        before, after = _shown(plain, title, step), _shown(scaled, title, step)
        np.testing.assert_allclose(after, 10 * before, rtol=1e-6, err_msg=f"{kind}: {name}")
        assert np.abs(before).max() > 1e-3, name             # the factor shows: the values are not all zero
    assert scaled.results == plain.results                   # only what is shown changed, not the model


@pytest.mark.parametrize("layers", [1, 2])
def test_the_layer0_loop_is_held_to_the_models_outputs(monkeypatch, layers):
    """An embedding that doubles after it is recorded: the LSTM reads other inputs than the loop of step 6, and
    the walkthrough refuses to show a loop that disagrees with its model (final state; with one layer, every h)."""
    options = {"tokenizer": "char", "embedding_dim": 6, "units": 5, "layers": layers}
    trace(TEXTS, **options)                                                    # agrees as it is
    embed = TextClassifier.embed
    monkeypatch.setattr(TextClassifier, "embed", lambda self, *a: 2 * embed(self, *a))
    with pytest.raises(RuntimeError, match="step-by-step loop disagrees with the model's own final c of layer 0"):
        trace(TEXTS, **options)


def test_the_layer0_check_compares_every_step_of_a_one_layer_model(monkeypatch):
    """Outputs changed after the final state: only the per-step comparison can see it."""
    from lstmkit.nn import LSTM

    forward = LSTM.forward

    def shifted(self, *args, **kwargs):
        outputs, finals = forward(self, *args, **kwargs)
        return outputs.index_add(1, torch.tensor([0]), torch.ones_like(outputs[:, :1])), finals   # step 0 moved

    monkeypatch.setattr(LSTM, "forward", shifted)
    with pytest.raises(RuntimeError, match=r"own outputs of layer 0's forward cell \(valid steps\)"):
        trace(TEXTS, tokenizer="char", embedding_dim=6, units=5)
