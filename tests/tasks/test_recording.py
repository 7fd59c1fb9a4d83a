"""What the task models record under lstmkit.nn.recording is what they compute and return: the classifier,
the tagger, the language model and the forecaster (the encoder-decoder: tests/nn/test_record.py)."""
import pytest
import torch

from lstmkit.nn import last_hidden, recording
from lstmkit.tasks.classify import ClassifyConfig, TextClassifier
from lstmkit.tasks.lm import LanguageModel, LMConfig
from lstmkit.tasks.regress import RegressConfig, SeriesRegressor
from lstmkit.tasks.tag import TagConfig, Tagger

IDS = torch.tensor([[4, 5, 6, 7, 2], [3, 4, 0, 0, 0], [8, 9, 2, 0, 0]])      # (B, T) = (3, 5)
LENGTHS = torch.tensor([5, 2, 3])


def _same(got, want):
    torch.testing.assert_close(got, want, rtol=0, atol=0)


def _states(got, want):
    for g, w in zip(got, want):
        torch.testing.assert_close(g, w, rtol=0, atol=0)


@pytest.mark.parametrize("pooling,options", [("max", {}), ("max+mean", {"cell": "lstm", "layers": 2,
                                                                         "cell_options": {"num_proj": 3}})])
def test_classifier_records_what_it_returns(pooling, options):
    torch.manual_seed(0)
    config = ClassifyConfig(embedding_dim=6, units=5, pooling=pooling, dropout=0.0, **options)
    m = TextClassifier(config, vocab_size=10, num_classes=3, bigram_vocab_size=12).eval()
    bigrams = (IDS + 1) % 12 * (IDS != 0)                                      # (B, T), 0 at padding
    with torch.no_grad():
        with recording() as rec:
            logits = m(IDS, LENGTHS, bigrams)                                  # (B, K)
        x = m.embed(IDS, bigrams)
        outputs, finals = m.lstm(x, LENGTHS)
        pooled = m.pool(outputs, finals, LENGTHS)
    assert rec.names() == ["embedded", "outputs", "final_states", "pooled", "logits"]
    _same(rec["logits"], logits)
    _same(rec["embedded"], x)
    _same(rec["outputs"], outputs)
    _states(rec["final_states"], finals)
    _same(rec["pooled"], pooled)
    _same(m.head(rec["pooled"]), logits)
    assert rec["outputs"].shape == (3, 5, m.lstm.output_size) and not rec["outputs"][1, 2:].any()


def test_tagger_records_what_it_returns():
    torch.manual_seed(0)
    labels = ["O", "B-PER", "I-PER", "E-PER", "S-PER"]
    config = TagConfig(scheme="BIOES", embedding_dim=6, units=4, char_features=True, labels=labels)
    m = Tagger(config, vocab_size=10, bigram_vocab_size=12, char_vocab_size=11).eval()
    feats = {"bigrams": (IDS + 1) % 12, "first": IDS % 11, "last": (IDS + 2) % 11}
    with torch.no_grad():
        with recording() as rec:
            emissions = m(IDS, LENGTHS, **feats)                               # (B, T, K)
        x = m.embed(IDS, **feats)
        outputs, finals = m.lstm(x, LENGTHS)
    assert rec.names() == ["embedded", "outputs", "final_states", "emissions"]
    _same(rec["emissions"], emissions)
    assert emissions.shape == (3, 5, len(labels))
    _same(rec["embedded"], x)
    _same(rec["outputs"], outputs)
    _states(rec["final_states"], finals)


@pytest.mark.parametrize("tied", [False, True])
def test_language_model_records_what_it_returns(tied):
    torch.manual_seed(0)
    m = LanguageModel(LMConfig(embedding_dim=6, units=5, dropout=0.0, tie_embeddings=tied), vocab_size=10).eval()
    with torch.no_grad():
        with recording() as rec:
            logits, final = m(IDS)                                             # (B, T, V)
        x = m.embedding(IDS)
        outputs, finals = m.lstm(x)
    _same(rec["logits"], logits)
    assert logits.shape == (3, 5, 10)
    _same(rec["embedded"], x)
    _same(rec["outputs"], outputs)
    _states(rec["final_states"], final)
    _states(finals, final)


def test_forecaster_records_what_it_returns():
    torch.manual_seed(0)
    m = SeriesRegressor(RegressConfig(columns=["y", "x"], window=6, horizon=2, units=4, bidirectional=True)).eval()
    window = torch.randn(3, 6, 2)                                              # (B, T, I)
    with torch.no_grad():
        with recording() as rec:
            forecast = m(window)                                               # (B, H)
        outputs, finals = m.lstm(window)
    assert rec.names() == ["window", "outputs", "final_states", "forecast"]
    _same(rec["forecast"], forecast)
    _same(rec["window"], window)
    _same(rec["outputs"], outputs)
    _states(rec["final_states"], finals)
    _same(m.head(last_hidden(rec["final_states"])), forecast)
