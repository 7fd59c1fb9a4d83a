"""SoftLexicon features (Ma, Peng, Zhang, Wei & Huang, ACL 2020): for every token of a sentence, the words of a
lexicon that it begins (B), continues (M), ends (E) or is by itself (S), and how much each word weighs.

For the sentence 中国人民 and the lexicon {中国, 国人, 人民, 中国人, 人}::

    中   B {中国, 中国人}   M {}        E {}         S {}
    国   B {国人}           M {中国人}  E {中国}     S {}
    人   B {人民}           M {}        E {国人, 中国人}  S {人}
    民   B {}               M {}        E {人民}     S {}

Weights (the paper's eq. 8-9): each word ``w`` weighs ``z(w)``, its frequency, and every set ``X`` of a token is
pooled as ``v(X) = 4 / Z * sum_{w in X} z(w) e(w)`` with ``Z`` the sum of ``z`` over all four sets of that token,
so the four vectors compare the token's words with one another. ``z(w)`` is counted on the training text as the
paper does: at each start position only the longest lexicon word found there counts (the shorter words it
begins are inside it and would otherwise always outnumber it). Fallback for words the training text never
shows (most of a large lexicon, and whatever new text brings): add-one, ``z(w) = count(w) + 1``, so an unseen
word weighs as one occurrence. An empty set pools to the zero vector (the paper's ``NONE`` word, with a zero
vector and no weight); so does a token no word covers.

Everything here is plain Python and NumPy, outside the model (and outside an exported ONNX graph, as bigrams
are): the model gets each token's word ids, ``W`` per set (:func:`lexicon_ids`), and keeps the lexicon's
vectors and the ``z`` table among its weights. A set with more than ``W`` words keeps the heaviest (ties: the
longer word, then the lexicon's order).

Matching runs through the set of all the words' prefixes (a trie flattened into one hash set): a span grows
only while it is a prefix of some word, so each start costs about the length of the longest word found there.
Words match whole tokens: a span of tokens matches the word its characters spell.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..io import file_sha256
from .embeddings import BUILTIN, FORMATS, read_vectors, resolve_vectors
from .vocab import PAD, UNK, Vocab

SETS = ("B", "M", "E", "S")


@dataclass
class Lexicon:
    """The words of a lexicon as a vocabulary (``<pad>``, ``<unk>``, then the words in the file's order), their
    vectors ``(L, Dw)`` (row 0 zero; None for a plain word list), and where they came from."""

    vocab: Vocab
    vectors: np.ndarray | None
    name: str                   # "zhwiki" or the file as given
    sha256: str                 # of the file read

    @property
    def digest(self) -> str:
        return words_digest(self.vocab)


def words_digest(vocab: Vocab) -> str:
    """SHA-256 of a lexicon vocabulary's words, one a line: what a run records to know its own lexicon."""
    return hashlib.sha256("\n".join(vocab.itos).encode("utf-8")).hexdigest()


def _is_word_list(path: Path) -> bool:
    """A plain word list: its first line holds one word (a jieba dictionary's ``word count [tag]`` lines too),
    not a word2vec ``count dim`` header nor ``word v1 v2 ...``."""
    with open(path, "rb") as f:
        first = f.readline(4096).split()
    if not first:
        return True
    if len(first) == 2 and all(p.isdigit() for p in first):     # word2vec's header
        return False
    return len(first) == 1 or (len(first) <= 3 and first[1].isdigit())


def _read_word_list(path: Path) -> list[str]:
    words = []
    with open(path, "rb") as f:
        for n, raw in enumerate(f, 1):
            try:
                line = raw.decode("utf-8-sig" if n == 1 else "utf-8")
            except UnicodeDecodeError as exc:
                raise ValueError(f"{path}:{n}: not UTF-8 ({exc.reason}); a lexicon is a word2vec/GloVe file or a "
                                 f"word list, one word a line") from None
            parts = line.split()
            if parts:
                words.append(parts[0])
    return words


def lexicon_path(name_or_path) -> Path:
    """The file of a lexicon name (``zhwiki``: inside its package; a missing package is a ValueError naming the
    command that installs it) or path; FileNotFoundError when there is none."""
    path = resolve_vectors(name_or_path)
    if not path.is_file():
        raise FileNotFoundError(f"lexicon file not found: {path}")
    return path


def read_lexicon(name_or_path, fmt: str = "auto", std: float | None = None) -> Lexicon:
    """A lexicon from ``zhwiki`` (the built-in word2vec, :data:`lstmkit.text.embeddings.BUILTIN`), a word2vec
    (text or binary) or GloVe file (words with vectors), or a plain word list (one word a line; anything after
    the word on its line, such as a jieba dictionary's count and tag, is ignored). ``std``: rescale the vectors
    so that their standard deviation is ``std`` (zhwiki's is 2.8, which saturates an LSTM's gates). Words with
    spaces (none can match a sentence's tokens) and repeats are dropped. An unreadable file is a ValueError
    naming it; a missing one FileNotFoundError."""
    if fmt not in FORMATS:
        raise ValueError(f"read_lexicon: format must be one of {FORMATS}, got {fmt!r}")
    if std is not None and not std > 0:
        raise ValueError(f"read_lexicon: std must be positive, got {std!r}")
    path = lexicon_path(name_or_path)
    if fmt == "auto" and _is_word_list(path):
        words, matrix = _read_word_list(path), None
    else:
        words, matrix = read_vectors(path, fmt)
    keep, seen = [], {PAD, UNK}
    for i, w in enumerate(words):
        if w and not any(ch.isspace() for ch in w) and w not in seen:
            seen.add(w)
            keep.append(i)
    if not keep:
        raise ValueError(f"{path}: no words in the lexicon")
    vocab = Vocab([PAD, UNK] + [words[i] for i in keep])
    vectors = None
    if matrix is not None:
        rows = matrix[keep]
        if std is not None:
            rows = rows * (std / (float(rows.std()) or 1.0))
        vectors = np.concatenate([np.zeros((2, rows.shape[1]), np.float32), rows.astype(np.float32)])
    name = str(name_or_path) if str(name_or_path) in BUILTIN else str(path)
    return Lexicon(vocab, vectors, name, file_sha256(path))


class Matcher:
    """Finds every lexicon word a token sequence spells, through the set of the words' prefixes."""

    def __init__(self, vocab: Vocab):
        self.words = list(vocab.itos)
        self.ids = {w: i for i, w in enumerate(self.words) if i >= 2}
        self.prefixes = {w[:k] for w in self.ids for k in range(1, len(w) + 1)}
        self.size = len(vocab)

    def matches(self, tokens: list[str]) -> list[tuple[int, int, int]]:
        """``(start, end, word id)`` of every lexicon word spelled by ``tokens[start:end]``, by start, shortest
        first."""
        text = "".join(tokens)
        ends, at = {}, 0                  # character offset -> the token index a match may end before
        starts = []
        for k, tok in enumerate(tokens):
            starts.append(at)
            at += len(tok)
            ends[at] = k + 1
        found, prefixes, ids = [], self.prefixes, self.ids
        for k, a in enumerate(starts):
            for b in range(a + 1, len(text) + 1):
                span = text[a:b]
                if span not in prefixes:
                    break
                if b in ends and span in ids:
                    found.append((k, ends[b], ids[span]))
        return found

    def sets(self, tokens: list[str]) -> list[tuple[list, list, list, list]]:
        """Per token its B, M, E and S sets of word ids (each in the order :meth:`matches` finds them)."""
        out = [([], [], [], []) for _ in tokens]
        for a, b, w in self.matches(tokens):
            if b - a == 1:
                out[a][3].append(w)
                continue
            out[a][0].append(w)
            for k in range(a + 1, b - 1):
                out[k][1].append(w)
            out[b - 1][2].append(w)
        return out

    def count(self, sentences) -> np.ndarray:
        """``(L,)`` int64: per word, the start positions of ``sentences`` where it is the longest word found."""
        counts = np.zeros(self.size, dtype=np.int64)
        for tokens in sentences:
            longest = {}
            for a, _, w in self.matches(tokens):     # by start, shortest first: the last one per start wins
                longest[a] = w
            for w in longest.values():
                counts[w] += 1
        return counts


def frequencies(counts: np.ndarray) -> np.ndarray:
    """``z``, the weight of each lexicon word: its count plus one (unseen words weigh one occurrence); ``<pad>``
    and ``<unk>`` weigh 0, so padding slots add nothing to a set nor to ``Z``. ``(L,)`` float32."""
    z = np.asarray(counts, dtype=np.float32) + 1.0
    z[:2] = 0.0
    return z


def lexicon_ids(matcher: Matcher, tokens: list[str], z: np.ndarray, size: int) -> list[int]:
    """Each token's B, M, E, S word ids, ``size`` per set (the heaviest by ``z``, then the longer, then the
    lexicon's order; 0 pads), flattened: ``T * 4 * size`` ids, token by token, set by set."""
    out, words = [], matcher.words
    for sets in matcher.sets(tokens):
        for ids in sets:
            if len(ids) > size:
                ids = sorted(ids, key=lambda w: (-z[w], -len(words[w]), w))[:size]
            out += ids + [0] * (size - len(ids))
    return out


def pooled_sets(ids: np.ndarray, z: np.ndarray, vectors: np.ndarray) -> np.ndarray:
    """The NumPy reference of the model's pooling: ids ``(T, 4, W)`` -> ``(T, 4 * Dw)``, each set
    ``4 / Z * sum z(w) e(w)`` with ``Z`` over the token's four sets (:mod:`lstmkit.text.lexicon`)."""
    weights = z[ids]                                                      # (T, 4, W)
    total = np.maximum(weights.sum(axis=(1, 2), keepdims=True), 1.0)     # (T, 1, 1); 0 only where no word
    pooled = 4.0 * (weights[..., None] * vectors[ids]).sum(axis=2) / total   # (T, 4, Dw)
    return pooled.reshape(len(ids), -1).astype(np.float32)


class SoftLexicon(nn.Module):
    """The pooling of each token's B, M, E, S word sets into one ``(4 * Dw)`` vector (the module docstring's
    ``v(X) = 4 / Z * sum_{w in X} z(w) e(w)``); :func:`pooled_sets` is its NumPy reference.

    Weights: ``embedding`` ``(L, Dw)``, the words' vectors (fixed with ``frozen``: those read from a file), and
    the buffer ``z`` ``(L,)``, their weights (:func:`frequencies`).
    ``forward(words (B, T * 4 * W) int64, T) -> (B, T, 4 * Dw)``.
    """

    def __init__(self, words: int, dim: int, frozen: bool = True):
        super().__init__()
        self.embedding = nn.Embedding(words, dim, padding_idx=0)
        nn.init.normal_(self.embedding.weight, 0.0, 0.1)
        with torch.no_grad():
            self.embedding.weight[0].zero_()
        self.embedding.weight.requires_grad_(not frozen)
        self.register_buffer("z", torch.zeros(words))
        self.dim = dim

    def load(self, vectors: np.ndarray | None, z: np.ndarray) -> None:
        """Set the words' vectors ``(L, Dw)`` (None: keep the random start) and weights ``(L,)``."""
        with torch.no_grad():
            if vectors is not None:
                self.embedding.weight.copy_(torch.from_numpy(vectors))
            self.z.copy_(torch.from_numpy(z))

    def forward(self, words: torch.Tensor, steps: int) -> torch.Tensor:
        B = words.shape[0]
        words = words.view(B, steps, len(SETS), -1)                                   # (B, T, 4, W)
        W = words.shape[3]
        z = self.z[words]                                                             # (B, T, 4, W)
        share = z * (4.0 / z.sum(dim=(2, 3), keepdim=True).clamp_min(1.0))           # (B, T, 4, W): 4 z / Z
        # one weighted sum per set, never holding the (B, T, 4, W, Dw) gathered vectors
        pooled = F.embedding_bag(words.reshape(-1, W), self.embedding.weight, mode="sum",
                                 per_sample_weights=share.reshape(-1, W))             # (B * T * 4, Dw)
        return pooled.view(B, steps, -1)                                              # (B, T, 4Dw)
