"""The classifier: padding never reaches the pooled vector, it learns a learnable task, runs round-trip."""
import json

import numpy as np
import pytest
import torch

from lstmkit.data import TextDataset
from lstmkit.tasks.classify import ClassifyConfig, ClassifyTask, TextClassifier, adversarial_step, token_bigrams
from lstmkit.tasks import load_run
from lstmkit.train.checkpoint import save_run
from lstmkit.train.trainer import TrainConfig, fit


def _toy(n=240, seed=0):
    """Label 1 when the text holds 好, 0 when it holds 差; filler characters around."""
    rng = np.random.default_rng(seed)
    filler = list("的了是在我有他这个们中来上大为和国地到以说时要就出会")
    texts, labels = [], []
    for k in range(n):
        words = list(rng.choice(filler, size=rng.integers(2, 12)))
        label = k % 2
        words.insert(int(rng.integers(0, len(words))), "好" if label else "差")
        texts.append("".join(words))
        labels.append(str(label))
    return TextDataset(texts, labels, "toy")


@pytest.mark.parametrize("pooling", ["last", "max", "mean", "max+mean"])
def test_padding_never_reaches_the_pooled_vector(pooling):
    cfg = ClassifyConfig(embedding_dim=6, units=5, pooling=pooling, labels=["0", "1"], dropout=0.0, bigrams=False)
    model = TextClassifier(cfg, vocab_size=20, num_classes=2).eval()
    ids = torch.tensor([[3, 4, 5, 0, 0], [6, 7, 8, 9, 10]])
    lengths = torch.tensor([3, 5])
    noisy = ids.clone()
    noisy[0, 3:] = torch.tensor([11, 12])       # garbage where the padding was
    with torch.no_grad():
        a = model(ids, lengths)
        b = model(noisy, lengths)
        alone = model(ids[:1, :3], lengths[:1])
    torch.testing.assert_close(a, b, atol=0, rtol=0)
    torch.testing.assert_close(a[:1], alone, atol=1e-6, rtol=0)


def test_mean_and_max_pool_over_valid_steps_only():
    cfg = ClassifyConfig(embedding_dim=4, units=3, pooling="max+mean", labels=["0", "1"], dropout=0.0,
                         bigrams=False)
    model = TextClassifier(cfg, vocab_size=10, num_classes=2).eval()
    ids, lengths = torch.tensor([[1, 2, 3, 0]]), torch.tensor([3])
    with torch.no_grad():
        out, states = model.lstm(model.embedding(ids), lengths)
        pooled = model.pool(out, states, lengths)
    valid = out[0, :3]
    torch.testing.assert_close(pooled[0], torch.cat([valid.amax(0), valid.mean(0)]))


@pytest.mark.parametrize("opts", [{"tokenizer": {"name": "char"}, "bigrams": False, "token_dropout": 0.0,
                                   "adversarial": 0.0},
                                  {"tokenizer": {"name": "char"}, "bigrams": True, "token_dropout": 0.1,
                                   "adversarial": 0.0},
                                  {"tokenizer": {"name": "char"}, "bigrams": True}])  # adversarial by default
def test_learns_a_learnable_task_and_survives_a_round_trip(tmp_path, opts):
    train, dev = _toy(240, 0), _toy(60, 1)
    cfg = ClassifyConfig(embedding_dim=16, units=16, dropout=0.1, **opts)
    task = ClassifyTask.from_data(cfg, train)
    best = fit(task, task.encode(train), task.encode(dev), TrainConfig(epochs=6, batch_size=16, lr=1e-2,
                                                                        progress=False, patience=0))
    assert best["dev"]["accuracy"] >= 0.95
    save_run(tmp_path / "run", task)
    again = load_run(tmp_path / "run")
    enc = again.encode(dev)
    np.testing.assert_allclose(again.predict_proba(enc), task.predict_proba(task.encode(dev)), atol=1e-6)
    assert again.tokenizer.config() == task.tokenizer.config() and again.labels == ["0", "1"]


def test_the_adversarial_step_is_eps_of_each_texts_norm_along_its_gradient():
    g = torch.randn(3, 5, 4)
    g[2] = 0.0                                    # a text the loss does not depend on
    x = torch.randn(3, 5, 4) * torch.tensor([0.1, 1.0, 2.0]).view(3, 1, 1)
    r = adversarial_step(g, x, 0.05)
    for b in range(2):
        torch.testing.assert_close(r[b].norm(), 0.05 * x[b].norm())
        torch.testing.assert_close(r[b] / r[b].norm(), g[b] / g[b].norm())
    assert torch.count_nonzero(r[2]) == 0


def test_adversarial_training_adds_the_loss_of_the_uphill_inputs():
    data = _toy(32, 3)
    cfg = ClassifyConfig(tokenizer={"name": "char"}, embedding_dim=8, units=6, dropout=0.0, token_dropout=0.0,
                         adversarial=0.1)
    task = ClassifyTask.from_data(cfg, data)
    batch = next(iter(task.batches(task.encode(data), batch_size=32)))
    model = task.model.train()
    loss = task.step(batch)
    # by hand: the clean loss, the gradient for the input vectors, the loss at the moved vectors
    x = model.embed(batch["ids"], batch["bigrams"]).detach().requires_grad_(True)
    clean = torch.nn.functional.cross_entropy(model.classify(x, batch["lengths"]), batch["labels"])
    (g,) = torch.autograd.grad(clean, x)
    r = 0.1 * x.detach().norm(dim=(1, 2), keepdim=True) * g / g.norm(dim=(1, 2), keepdim=True)
    uphill = torch.nn.functional.cross_entropy(model.classify(x.detach() + r, batch["lengths"]), batch["labels"])
    torch.testing.assert_close(loss, clean + uphill)
    # the move is uphill: it raises the loss more than a random move of the same size per text
    noise = torch.randn_like(r)
    noise = noise * r.norm(dim=(1, 2), keepdim=True) / noise.norm(dim=(1, 2), keepdim=True)
    aside = torch.nn.functional.cross_entropy(model.classify(x.detach() + noise, batch["lengths"]), batch["labels"])
    assert uphill > aside and uphill > clean
    loss.backward()                               # gradients reach the embedding and the LSTM
    assert model.embedding.weight.grad.abs().sum() > 0 and all(
        p.grad is not None for p in model.lstm.parameters())
    frozen = ClassifyTask.from_data(ClassifyConfig(tokenizer={"name": "char"}, embedding_dim=8, units=6,
                                                   bigrams=False, freeze_embeddings=True), data)
    frozen.step(next(iter(frozen.batches(frozen.encode(data), 32)))).backward()  # frozen vectors still move
    assert frozen.model.embedding.weight.grad is None and frozen.model.head.weight.grad is not None
    with pytest.raises(ValueError, match="adversarial must be a size in"):
        ClassifyConfig(adversarial=1.5).check()


def test_distillation_mixes_the_teachers_probabilities_into_the_targets():
    data = _toy(32, 3)
    small = dict(tokenizer={"name": "char"}, embedding_dim=8, units=6, dropout=0.0, token_dropout=0.0,
                 adversarial=0.0)
    teacher = ClassifyTask.from_data(ClassifyConfig(**small), data)
    student = ClassifyTask.from_data(ClassifyConfig(**small), data).with_teacher(teacher, 0.3)
    assert student.config.distill == 0.3
    enc = student.encode_training(data)
    assert student.encode(data).soft is None                      # dev and test: no teacher asked
    np.testing.assert_allclose(enc.soft, teacher.predict_proba(teacher.encode(data)), atol=1e-6)
    by_pair = ClassifyTask.from_data(ClassifyConfig(**small), data).with_teacher(teacher.ensemble([teacher]), 0.3)
    pair = by_pair.encode_training(data)                          # an ensemble teaches as its members' mean
    np.testing.assert_allclose(pair.soft, enc.soft, atol=1e-6)
    batch = next(iter(student.batches(enc, batch_size=32)))
    model = student.model.train()
    logp = torch.log_softmax(model(batch["ids"], batch["lengths"], batch["bigrams"]), dim=1)
    target = 0.7 * torch.nn.functional.one_hot(batch["labels"], 2) + 0.3 * batch["soft"]    # by hand
    torch.testing.assert_close(student.step(batch), -(target * logp).sum(1).mean())
    with pytest.raises(ValueError, match="teacher's labels"):
        flipped = TextDataset(data.texts, ["a" if y == "0" else "b" for y in data.labels])
        ClassifyTask.from_data(ClassifyConfig(**small), flipped).with_teacher(teacher)
    with pytest.raises(ValueError, match="weight must be in"):
        student.with_teacher(teacher, 0.0)
    with pytest.raises(TypeError, match="must be a classifier"):
        student.with_teacher("runs/teacher")
    alone = ClassifyTask.from_data(ClassifyConfig(**small, distill=0.5), data)   # distill set, no teacher
    with pytest.raises(ValueError, match="carries no teacher probabilities"):
        alone.step(next(iter(alone.batches(alone.encode(data), batch_size=32))))
    with pytest.raises(ValueError, match="distill must be the teacher's weight"):
        ClassifyConfig(distill=1.5).check()


def test_a_student_learns_from_its_teacher_alone():
    """Weight 1: the labels are ignored. With every training label flipped, the student still learns the
    teacher's (right) answers."""
    train, dev = _toy(240, 0), _toy(60, 1)
    cfg = dict(tokenizer={"name": "char"}, embedding_dim=16, units=16, dropout=0.1, adversarial=0.0)
    fast = TrainConfig(epochs=6, batch_size=16, lr=1e-2, progress=False, patience=0)
    teacher = ClassifyTask.from_data(ClassifyConfig(**cfg), train)
    fit(teacher, teacher.encode(train), teacher.encode(dev), fast)
    flipped = TextDataset(train.texts, ["1" if y == "0" else "0" for y in train.labels])
    student = ClassifyTask.from_data(ClassifyConfig(**cfg), flipped).with_teacher(teacher, 1.0)
    best = fit(student, student.encode_training(flipped), student.encode(dev), fast)
    assert best["dev"]["accuracy"] >= 0.95


def test_empty_texts_are_marked_and_still_encoded():
    task = ClassifyTask.from_data(ClassifyConfig(tokenizer={"name": "char"}), _toy(20))
    enc = task.encode(TextDataset(["", "   ", "好"], None))
    assert enc.empty.tolist() == [True, True, False] and enc.ids[0] == [1]


def test_bigrams_are_aligned_with_tokens():
    assert token_bigrams(["很", "好", "!"]) == ["很 好", "好 !", "! </s>"]


def test_build_errors():
    with pytest.raises(ValueError, match="a classifier needs two or more"):
        ClassifyTask.from_data(ClassifyConfig(), TextDataset(["a", "b"], ["x", "x"]))
    with pytest.raises(ValueError, match="pooling must be one of"):
        ClassifyConfig(pooling="attention").check()
    task = ClassifyTask.from_data(ClassifyConfig(tokenizer={"name": "char"}), _toy(20))
    with pytest.raises(ValueError, match=r"labels \['2'\] were not in the training set"):
        task.encode(TextDataset(["好"], ["2"], "dev.tsv"))


def test_pretrained_vectors_initialise_the_embedding(tmp_path):
    from lstmkit.text import load_pretrained

    task = ClassifyTask.from_data(ClassifyConfig(tokenizer={"name": "char"}, embedding_dim=8), _toy(20))
    (tmp_path / "v.txt").write_text("好 1 2 3\n差 4 5 6\n", encoding="utf-8")
    pre = load_pretrained(tmp_path / "v.txt", task.vocab)
    task = task.with_pretrained(pre)
    assert task.config.embedding_dim == 3 and task.model.embedding.weight.shape[1] == 3
    torch.testing.assert_close(task.model.embedding.weight[task.vocab.stoi["差"]], torch.tensor([4.0, 5.0, 6.0]))
    assert task.model.bigram_embedding.weight.shape[1] == 3


def test_bigram_rows_come_from_words_in_the_file(tmp_path, capsys):
    """A character bigram found in the vectors as a word (好的 -> "好 的") starts from that word's vector; the
    bigrams the file lacks keep the model's own small random start. The CLI does it with --embeddings."""
    from lstmkit.cli import main
    from lstmkit.text import load_pretrained

    task = ClassifyTask.from_data(ClassifyConfig(tokenizer={"name": "char"}, embedding_dim=3), _toy(20))
    bigram = next(b for b in task.bigram_vocab.itos if b.count(" ") == 1 and "</s>" not in b)
    word = bigram.replace(" ", "")
    (tmp_path / "v.txt").write_text(f"好 1 2 3\n{word} 30 -30 0\n", encoding="utf-8")
    pre = load_pretrained(tmp_path / "v.txt", task.vocab, std=0.5)
    bigrams = load_pretrained(tmp_path / "v.txt", task.bigram_vocab, std=0.5, keys=task.bigram_keys())
    assert task.bigram_keys()[task.bigram_vocab.stoi[bigram]] == word and bigrams.found == 1
    task = task.with_pretrained(pre, bigrams)
    got = task.model.bigram_embedding.weight.detach()
    row = task.bigram_vocab.stoi[bigram]
    torch.testing.assert_close(got[row], torch.from_numpy(bigrams.matrix[row]))
    others = [i for i in range(1, len(task.bigram_vocab)) if i != row]
    # the rest keep the model's own start, N(0, 0.1), not the file's random rows at the rescaled std 0.5
    assert 0.05 < float(got[others].std()) < 0.2 and float(torch.from_numpy(bigrams.matrix[others]).std()) > 0.3
    with pytest.raises(ValueError, match="does not fit the bigram vocabulary"):
        task.with_pretrained(pre, pre)
    # the CLI: --embeddings FILE --embeddings-std S, both tables, the file and its coverage kept in config.json
    rows = ["label\ttext"] + [f"{k % 2}\t{t}" for k, t in enumerate(["好的很好", "差的很差"] * 10)]
    (tmp_path / "d.tsv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    assert main(["train", "classify", "--train", str(tmp_path / "d.tsv"), "--dev", str(tmp_path / "d.tsv"),
                 "--out", str(tmp_path / "run"), "--embeddings", str(tmp_path / "v.txt"), "--embeddings-std",
                 "0.5", "--epochs", "1", "--units", "4", "--quiet"]) == 0
    err = capsys.readouterr().err
    assert "scaled to 0.50" in err and "pretrained bigram embeddings" in err
    config = json.loads((tmp_path / "run" / "config.json").read_text(encoding="utf-8"))
    assert config["model"]["embedding_dim"] == 3 and config["embeddings"]["std"] == 0.5


def test_an_ensemble_averages_its_members_probabilities(tmp_path):
    """ClassifyTask.ensemble: soft voting over members that each tokenize in their own way (characters with
    bigrams, whitespace words); the mean of their probabilities is what it evaluates and predicts; an
    ensemble of one is its member; other labels or a non-classifier are errors."""
    from lstmkit.tasks.classify import ClassifyEnsemble

    train, dev = _toy(120, 0), _toy(40, 1)
    spaced = lambda d: TextDataset([" ".join(t) for t in d.texts], d.labels, d.source)  # noqa: E731
    members = []
    for seed, tokenizer in ((1, "char"), (2, "whitespace")):
        torch.manual_seed(seed)
        task = ClassifyTask.from_data(ClassifyConfig(tokenizer={"name": tokenizer}, embedding_dim=8, units=8), train)
        fit(task, task.encode(train), task.encode(dev), TrainConfig(epochs=1, batch_size=16, lr=1e-2, progress=False))
        members.append(task)
    a, b = members
    assert a.vocab.itos != b.vocab.itos
    both = a.ensemble([b])
    texts = spaced(dev)          # the char tokenizer drops the spaces: both members read the same characters
    expected = (a.predict_proba(a.encode(texts)) + b.predict_proba(b.encode(texts))) / 2
    np.testing.assert_allclose(both.predict_proba(both.encode(texts)), expected, atol=1e-6)
    report = both.evaluate(both.encode(texts))
    want = np.array([int(lab) for lab in dev.labels])
    assert report["accuracy"] == pytest.approx(float((expected.argmax(1) == want).mean()))
    recs = both.predict_records(["好 的", "  ", "差"])
    assert recs[0]["probabilities"]["1"] == pytest.approx(float(both.predict_proba(both.encode(
        TextDataset(["好 的"], None)))[0, 1]), abs=1e-6)
    assert recs[1]["error"] and recs[2]["label"] in ("0", "1")
    alone = ClassifyEnsemble([a])
    np.testing.assert_allclose(alone.predict_proba(alone.encode(dev)), a.predict_proba(a.encode(dev)), atol=0)
    three = ClassifyTask.from_data(ClassifyConfig(), TextDataset(["好", "差", "中"], ["1", "0", "2"]))
    with pytest.raises(ValueError, match=r"the labels differ: member 0 has \['0', '1'\], member 1 has"):
        a.ensemble([three])
    with pytest.raises(TypeError, match="not a classifier"):
        ClassifyEnsemble([a, object()])
    with pytest.raises(ValueError, match="none"):
        ClassifyEnsemble([])
