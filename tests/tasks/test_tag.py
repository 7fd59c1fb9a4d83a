"""The tagger: learns a toy NER task with the CRF and with softmax, metrics agree with seqeval, runs round-trip."""
import json

import numpy as np
import pytest

from lstmkit.cli import main
from lstmkit.data.tagged import TaggedDataset
from lstmkit.tasks.tag import TagConfig, TagTask
from lstmkit.train.metrics import tagging_report
from lstmkit.tasks import load_run
from lstmkit.train.checkpoint import save_run
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
    r = tagging_report(gold, pred, kind="entities", scheme="BMES")
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
    # NER's default features: character bigrams and jieba's word places
    model = json.loads((tmp_path / "run" / "config.json").read_text())["model"]
    assert model["bigrams"] and model["word_features"] == "jieba" and not model["char_features"]
    assert main(["evaluate", str(tmp_path / "run"), "--test", str(tmp_path / "dev.txt"), "--json"]) == 0
    m = json.loads(capsys.readouterr().out)
    assert {"f1", "precision", "recall", "token_accuracy", "per_type"} <= set(m) and m["f1"] > 0.9
    assert main(["predict", str(tmp_path / "run"), "我们李四去了上海的"]) == 0
    out = capsys.readouterr().out
    assert "PER [2, 4) 李四" in out and "LOC [6, 8) 上海" in out
    capsys.readouterr()
    assert main(["explain", "--run", str(tmp_path / "run"), "张三去上海"]) == 0
    assert "CRF: Viterbi over the tag sequence" in capsys.readouterr().out


def test_a_segmentation_run_is_a_classifier_tokenizer(tmp_path):
    """--tokenizer run:RUN: the classifier tokenizes with the segmenter's words, keeps a copy of it in its own
    run folder, and predicts the same after the folders move."""
    import shutil

    import torch

    from lstmkit.data import TextDataset
    from lstmkit.tasks.classify import ClassifyConfig, ClassifyTask
    from lstmkit.text import make_tokenizer

    words = ["我们", "北京", "喜欢", "天安门", "的", "去"]
    rng = np.random.default_rng(0)
    sents = [[str(w) for w in rng.choice(words, size=rng.integers(2, 6))] for _ in range(300)]
    chars = [[c for w in s for c in w] for s in sents]
    tags = [[t for w in s for t in (["S"] if len(w) == 1 else ["B"] + ["M"] * (len(w) - 2) + ["E"])] for s in sents]
    torch.manual_seed(0)
    seg = TagTask.from_data(TagConfig(kind="words", scheme="BMES", embedding_dim=16, units=16), TaggedDataset(chars, tags, "toy"))
    fit(seg, seg.encode(TaggedDataset(chars, tags, "toy")), seg.encode(TaggedDataset(chars[:30], tags[:30], "d")),
        TrainConfig(epochs=4, batch_size=16, lr=1e-2, progress=False))
    save_run(tmp_path / "seg", seg)
    tok = make_tokenizer(f"run:{tmp_path / 'seg'}")
    assert tok("我们喜欢天安门") == ["我们", "喜欢", "天安门"]
    assert tok.batch(["去北京", "我们的"]) == [["去", "北京"], ["我们", "的"]]
    texts = ["我们喜欢北京", "去天安门的", "北京的", "我们去"]
    clf = ClassifyTask.from_data(ClassifyConfig(tokenizer=tok.config(), embedding_dim=4, units=4, bigrams=False),
                                 TextDataset(texts, ["1", "0", "1", "0"], "toy"))
    assert "天安门" in clf.vocab and "喜欢" in clf.vocab
    save_run(tmp_path / "clf", clf)
    assert (tmp_path / "clf" / "tokenizer" / "model.safetensors").is_file()
    shutil.move(str(tmp_path / "clf"), str(tmp_path / "moved"))
    shutil.rmtree(tmp_path / "seg")
    again = load_run(tmp_path / "moved")
    assert again.predict_records(texts) == clf.predict_records(texts)
    with pytest.raises(FileNotFoundError, match="not a run folder"):
        make_tokenizer("run:/nonexistent/run")


def test_char_features_tag_unseen_words_by_their_characters(tmp_path):
    """POS-style word tokens: with first/last-character embeddings a word never seen in training is tagged by its
    characters (every noun ends in 们 or 子, every verb starts with 去 or 看; each word's tag is independent of its
    neighbours, so the context cannot tell); without them the unseen words are guesses. The run round-trips."""
    import torch

    rng = np.random.default_rng(0)
    nouns = ["我们", "你们", "他们", "桌子", "椅子", "孩子"]
    verbs = ["去买", "去看", "看书", "看见", "去玩", "看戏"]
    sents, tags = [], []
    for _ in range(300):
        kinds = rng.integers(0, 2, size=3)
        sents.append([str(rng.choice(nouns[:4] if k else verbs[:4])) for k in kinds])   # the last two: unseen
        tags.append(["n" if k else "v" for k in kinds])
    unseen = TaggedDataset([["孩子", "看戏", "椅子"], ["去玩", "去玩", "孩子"], ["看戏", "椅子", "椅子"]],
                           [["n", "v", "n"], ["v", "v", "n"], ["v", "n", "n"]], "unseen")

    def trained(char_features):
        torch.manual_seed(0)
        config = TagConfig(kind="tags", embedding_dim=16, units=16, char_features=char_features, bigrams=False,
                           decoder="softmax")
        task = TagTask.from_data(config, TaggedDataset(sents, tags, "toy"))
        fit(task, task.encode(TaggedDataset(sents, tags, "toy")),
            task.encode(TaggedDataset(sents[:20], tags[:20], "d")),
            TrainConfig(epochs=4, batch_size=16, lr=1e-2, progress=False))
        return task

    task = trained(True)
    assert "孩子" not in task.vocab and task.evaluate(task.encode(unseen))["token_accuracy"] == 1.0
    plain = trained(False)
    assert plain.evaluate(plain.encode(unseen))["token_accuracy"] < 0.9
    save_run(tmp_path / "run", task)
    assert (tmp_path / "run" / "vocab_chars.json").is_file()
    again = load_run(tmp_path / "run")
    assert again.evaluate(again.encode(unseen))["token_accuracy"] == 1.0


def test_word_positions_place_each_token_in_the_segmenters_word():
    from lstmkit.tasks.tag import word_positions

    B, M, E, S = 1, 2, 3, 4
    assert word_positions(list("我爱北京天安门"), ["我", "爱", "北京", "天安门"]) == [S, S, B, E, B, M, E]
    # tokens of several characters are placed by their first and last character
    assert word_positions(["我", "LSTM", "模", "型"], ["我", "LSTM模型"]) == [S, B, M, E]
    assert word_positions(["ab", "c"], ["abc"]) == [B, E]
    # characters a segmenter drops (spaces) or words it invents count as words of their own
    assert word_positions(list("a b"), ["a", "b"]) == [S, S, S]
    assert word_positions(list("ab"), ["x", "ab"]) == [B, E]
    # with the words' tags: each token gets its word's ("x" where no word covers it)
    assert word_positions(list("江泽民在 京"), ["江泽民", "在", "京"], ["nr", "p", "ns"]) == (
        [B, M, E, S, S, S], ["nr", "nr", "nr", "p", "x", "ns"])


@pytest.mark.parametrize("features", ["jieba", "jieba-pos"])
def test_word_features_carry_jiebas_words_to_the_tagger(tmp_path, capsys, features):
    """Segmentation where the gold words are jieba's: with word features the tagger follows them on sentences of
    words it never saw; without, it cannot know where unseen words end. The run round-trips the option."""
    import torch

    from lstmkit.text import make_tokenizer

    jieba = make_tokenizer("jieba")
    from lstmkit.tasks.tag import WORD_POSITIONS, word_positions

    jieba = make_tokenizer("jieba")
    # words of 1-3 characters: where an unseen word ends cannot be read from its characters
    seen = ["经济", "发展", "学生", "老师", "电脑", "图书馆", "音乐会", "医院", "银行", "飞机场", "历史", "我", "在", "和"]
    unseen = ["苹果", "汽车站", "朋友", "电影院", "公园", "星期天", "咖啡", "足球场", "书", "笔", "茶"]
    rng = np.random.default_rng(0)

    def data(words, n, name):
        sents, tags = [], []
        for _ in range(n):
            text = "".join(str(w) for w in rng.choice(words, size=rng.integers(3, 7)))
            sents.append(list(text))
            tags.append([WORD_POSITIONS[i - 1] for i in word_positions(list(text), jieba(text))])
        return TaggedDataset(sents, tags, name)

    train, test = data(seen, 300, "train"), data(unseen, 40, "test")

    def trained(word_features):
        torch.manual_seed(0)
        config = TagConfig(kind="words", scheme="BMES", embedding_dim=16, units=16, bigrams=False,
                           word_features=word_features)
        task = TagTask.from_data(config, train)
        fit(task, task.encode(train), task.encode(TaggedDataset(train.sentences[:20], train.tags[:20], "d")),
            TrainConfig(epochs=4, batch_size=16, lr=1e-2, progress=False))
        return task

    task = trained(features)
    assert task.evaluate(task.encode(test))["f1"] > 0.95
    plain = trained(None)
    assert plain.evaluate(plain.encode(test))["f1"] < 0.6
    save_run(tmp_path / "run", task)
    again = load_run(tmp_path / "run")
    assert again.config.word_features == features
    text = "咖啡朋友在公园"
    assert again.predict_records([text])[0]["words"] == jieba(text)
    assert main(["explain", "--run", str(tmp_path / "run"), text]) == 0
    out = capsys.readouterr().out
    if features == "jieba":
        assert "咖/B 啡/E 朋/B 友/E 在/S 公/B 园/E" in out
    else:   # jieba's parts of speech ride along, in their own vocabulary
        assert "咖/B/n 啡/E/n 朋/B/n 友/E/n 在/S/p 公/B/n 园/E/n" in out
        assert (tmp_path / "run" / "vocab_wordtags.json").is_file() and "nr" not in again.word_tag_vocab
    with pytest.raises(ValueError, match="word_features"):
        TagConfig(word_features="pkuseg").check()


def test_bigram_vocabulary_keeps_the_most_frequent_seen_twice():
    from collections import Counter

    from lstmkit.tasks.tag import token_bigrams

    train = _toy(60, 5)
    counts = Counter(b for s in train.sentences for b in token_bigrams(s))
    twice = sorted((b for b, n in counts.items() if n >= 2), key=lambda b: -counts[b])
    assert 0 < len(twice) < len(counts)    # some bigrams are seen once and never get an id
    every = TagTask.from_data(TagConfig(kind="entities", scheme="BMES", max_bigrams=None), train).bigram_vocab
    assert set(every.itos[2:]) == set(twice)
    capped = TagTask.from_data(TagConfig(kind="entities", scheme="BMES", max_bigrams=7), train).bigram_vocab
    assert len(capped) == 7 and capped.itos[:2] == ["<pad>", "<unk>"] and capped.itos[2:] == every.itos[2:7]
    assert counts[capped.itos[-1]] >= max(counts[b] for b in every.itos[7:])
    for bad in (1, -1, 2.5, True):
        with pytest.raises(ValueError, match="max_bigrams"):
            TagConfig(max_bigrams=bad).check()


def test_model_defaults_depend_on_the_kind_and_a_flag_wins():
    from lstmkit.cli import build_parser
    from lstmkit.cli.tag import _model_options

    def config(*flags, kind):
        args = build_parser().parse_args(["train", "tag", "--out", "x", *flags])
        return TagConfig.for_kind(kind, scheme="BMES", **_model_options(args))

    ner, seg, pos, base = config(kind="entities"), config(kind="words"), config(kind="tags"), TagConfig()
    assert (ner.word_features, ner.max_bigrams, ner.embedding_dim, ner.dropout) == ("jieba", None, 200, 0.5)
    assert (seg.word_features, seg.max_bigrams, seg.embedding_dim, seg.dropout, seg.char_features) == \
        (None, base.max_bigrams, base.embedding_dim, base.dropout, False)
    assert pos.char_features and pos.word_features is None and pos.tokenizer == {"name": "jieba"}
    mine = config("--word-features", "none", "--max-bigrams", "1000", "--embedding-dim", "64", "--dropout", "0",
                  "--no-char-features", kind="entities")
    assert (mine.word_features, mine.max_bigrams, mine.embedding_dim, mine.dropout) == (None, 1000, 64, 0.0)
    assert not config("--no-char-features", kind="tags").char_features
    assert config("--max-bigrams", "0", kind="words").max_bigrams is None
    pos.tokenizer["name"] = "char"          # each config owns its defaults
    assert TagConfig.for_kind("tags").tokenizer == {"name": "jieba"}
    with pytest.raises(ValueError, match="kind"):
        TagConfig.for_kind("chunks")


def test_embeddings_start_characters_and_bigrams_from_a_vectors_files_words(tmp_path):
    """--embeddings: a character's row is the file's one-character word, a bigram's its two-character word (the
    other bigrams keep their random start); the file's size becomes E."""
    rows = {"北": [1, 2, 3], "京": [4, 5, 6], "北京": [7, 8, 9], "张三": [0, 1, 0]}
    (tmp_path / "v.txt").write_text("".join(f"{w} {' '.join(map(str, v))}\n" for w, v in rows.items()),
                                    encoding="utf-8")
    train = TaggedDataset([list("张三在北京"), list("张三在北京")] * 2, [["B-PER", "E-PER", "O", "B-LOC", "E-LOC"]] * 4,
                          "toy")
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    plain = TagTask.from_data(TagConfig(embedding_dim=3), train)
    torch.manual_seed(0)
    task = TagTask.from_data(TagConfig(embedding_dim=16, embeddings=str(tmp_path / "v.txt"), embeddings_std=None),
                             train)
    assert task.config.embedding_dim == 3 and [p.found for p in task.pretrained] == [2, 2]
    emb, bi = task.model.embedding.weight.detach(), task.model.bigram_embedding.weight.detach()
    for ch in "北京":
        assert emb[task.vocab.stoi[ch]].tolist() == rows[ch]
    assert bi[task.bigram_vocab.stoi["北 京"]].tolist() == rows["北京"]
    assert bi[task.bigram_vocab.stoi["张 三"]].tolist() == rows["张三"]
    unseen = task.bigram_vocab.stoi["在 北"]
    assert torch.equal(bi[unseen], plain.model.bigram_embedding.weight.detach()[unseen])
    assert task.model.embedding.weight[0].abs().sum() == 0
