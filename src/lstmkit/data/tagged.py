"""Reading tagged sentences for sequence labelling; every error names the file and the line.

- ``conll``: ``token TAG`` per line (space or tab), a blank line between sentences;
- ``wordtag``: ``word/TAG`` tokens separated by whitespace, one sentence per line (People's Daily style); a word
  may itself contain ``/``, so the tag is what follows the last one;
- ``segmented``: words separated by whitespace, one sentence per line, read as characters tagged B/M/E/S.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..text.tags import from_spans
from .readers import read_utf8, text_lines


@dataclass
class TaggedDataset:
    """Sentences as token lists and their tags, one tag per token."""

    sentences: list
    tags: list
    source: str = ""
    skipped_blank: int = 0

    def __len__(self) -> int:
        return len(self.sentences)

    def hash_keys(self) -> list[str]:
        """What a hash-chosen hold-out looks at for each sentence: its tokens joined (the sentence's text)."""
        return ["".join(tokens) for tokens in self.sentences]

    def head(self, n: int) -> "TaggedDataset":
        """The first ``n`` examples (all of them when there are fewer): ``--limit N``."""
        return self.subset(range(min(n, len(self))))

    def subset(self, indices) -> "TaggedDataset":
        """The sentences at ``indices``, in that order, from the same source."""
        return TaggedDataset([self.sentences[k] for k in indices], [self.tags[k] for k in indices], self.source)


def read_conll(path) -> TaggedDataset:
    sentences, tags, toks, tgs, blank = [], [], [], [], 0
    for n, line in enumerate(text_lines(read_utf8(path)), 1):
        if not line.strip():
            if toks:
                sentences.append(toks)
                tags.append(tgs)
                toks, tgs = [], []
            else:
                blank += 1
            continue
        parts = line.split()
        if len(parts) < 2:
            raise ValueError(f"{path}:{n}: expected 'token TAG', got {line[:60]!r}")
        toks.append(parts[0])
        tgs.append(parts[-1])
    if toks:
        sentences.append(toks)
        tags.append(tgs)
    return TaggedDataset(sentences, tags, str(path), blank)


def read_wordtag(path) -> TaggedDataset:
    sentences, tags, blank = [], [], 0
    for n, line in enumerate(text_lines(read_utf8(path)), 1):
        items = line.split()
        if not items:
            blank += 1
            continue
        words, tgs = [], []
        for item in items:
            word, sep, tag = item.rpartition("/")
            if not sep or not word or not tag:
                raise ValueError(f"{path}:{n}: expected word/TAG, got {item[:60]!r}")
            words.append(word)
            tgs.append(tag)
        sentences.append(words)
        tags.append(tgs)
    return TaggedDataset(sentences, tags, str(path), blank)


def segmented_to_chars(words: list[str]) -> tuple[list[str], list[str]]:
    """Words -> their characters and B/M/E/S tags: ``["中国", "人"]`` -> ``中 国 人``, ``B E S``."""
    chars, found = [], []
    for w in words:
        found.append(("", len(chars), len(chars) + len(w)))
        chars.extend(w)
    return chars, from_spans(found, len(chars), "BMES")


def read_segmented(path) -> TaggedDataset:
    sentences, tags, blank = [], [], 0
    for line in text_lines(read_utf8(path)):
        words = line.split()
        if not words:
            blank += 1
            continue
        chars, tgs = segmented_to_chars(words)
        sentences.append(chars)
        tags.append(tgs)
    return TaggedDataset(sentences, tags, str(path), blank)


READERS = {"conll": read_conll, "wordtag": read_wordtag, "segmented": read_segmented}


def read_tagged(path, fmt: str) -> TaggedDataset:
    if fmt not in READERS:
        raise ValueError(f"format must be one of {', '.join(READERS)}, got {fmt!r}")
    data = READERS[fmt](path)
    if not data.sentences:
        raise ValueError(f"{path}: no sentences (blank lines skipped: {data.skipped_blank})")
    return data
