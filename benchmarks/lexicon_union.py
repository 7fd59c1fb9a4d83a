"""A larger lexicon for SoftLexicon, measured on MSRA (issue 28's coverage lever): zhwiki's 125,796 words with
their vectors, plus every word of jieba's dictionary (349,045 words, no vectors) that zhwiki lacks, its vector
the mean of the vectors of its characters that zhwiki has (words with none of them are left out).

    python benchmarks/lexicon_union.py union.bin
    lstmkit train tag --corpus msra-ner --lexicon union.bin --out runs/msra-union

Writes a word2vec binary file (``count dim`` header, then each word, a space and its float32 vector) atomically,
and prints how many words each source gave. On MSRA's test split, zhwiki holds 20.3% of the 1,911 entities that
training never shows, jieba's dictionary 35.9% (``docs/tag.md``, "MSRA and the 0.93 goal").
"""
from __future__ import annotations

import argparse
import os

import numpy as np

from lstmkit.io import atomic_write_bytes
from lstmkit.text.lexicon import read_lexicon


def jieba_words() -> list[str]:
    """The words of jieba's own dictionary (its dict.txt: ``word count tag`` lines), in the file's order."""
    import jieba

    path = os.path.join(os.path.dirname(jieba.__file__), "dict.txt")
    with open(path, encoding="utf-8") as f:
        return [line.split()[0] for line in f if line.split()]


def union(words: list[str], vectors: np.ndarray, extra: list[str]) -> tuple[list[str], np.ndarray, int]:
    """``words`` with their ``vectors`` (N, D), then each word of ``extra`` of two or more characters that
    ``words`` lacks, its vector the mean of its characters' rows (characters ``words`` holds); returns the words,
    their vectors and how many of ``extra`` had no such character (left out)."""
    index = {w: i for i, w in enumerate(words)}
    added, rows, left_out = [], [], 0
    for w in extra:
        if len(w) < 2 or w in index or any(ch.isspace() for ch in w):
            continue
        ids = [index[ch] for ch in w if ch in index]
        if not ids:
            left_out += 1
            continue
        index[w] = -1
        added.append(w)
        rows.append(vectors[ids].mean(axis=0))
    more = np.stack(rows).astype(np.float32) if rows else np.zeros((0, vectors.shape[1]), np.float32)
    return words + added, np.concatenate([vectors.astype(np.float32), more]), left_out


def word2vec_binary(words: list[str], vectors: np.ndarray) -> bytes:
    parts = [f"{len(words)} {vectors.shape[1]}\n".encode()]
    for w, v in zip(words, vectors):
        parts.append(w.encode("utf-8") + b" " + v.astype("<f4").tobytes() + b"\n")
    return b"".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", help="the word2vec binary file to write")
    args = parser.parse_args()
    zhwiki = read_lexicon("zhwiki")             # the raw vectors: lstmkit rescales them when it trains
    words, vectors = zhwiki.vocab.itos[2:], zhwiki.vectors[2:]
    extra = jieba_words()
    all_words, all_vectors, left_out = union(words, vectors, extra)
    atomic_write_bytes(args.out, word2vec_binary(all_words, all_vectors))
    print(f"{args.out}: {len(all_words):,} words x {all_vectors.shape[1]} ({len(words):,} from zhwiki, "
          f"{len(all_words) - len(words):,} of jieba's {len(extra):,} with their characters' mean vector, "
          f"{left_out:,} with no character in zhwiki left out)")


if __name__ == "__main__":
    main()
