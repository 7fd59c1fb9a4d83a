"""Token features that several tasks compute from the tokens alone: bigrams (each token with its successor) and
soft-word features (each character's place in the word a segmenter finds around it, and that word's tag).

They are inputs beside the token ids, computed outside the model (and outside an exported ONNX graph).
"""
from __future__ import annotations

import functools

from .tokenizers import jieba_instance

WORD_POSITIONS = ("B", "M", "E", "S")       # ids 1..4 of the soft-word features; 0 is padding


def token_bigrams(tokens: list[str]) -> list[str]:
    """Each token with its successor, ``"a b"``; the last with ``</s>``. One per token, aligned with it."""
    return [f"{a} {b}" for a, b in zip(tokens, tokens[1:] + ["</s>"])]


def word_positions(tokens: list[str], words: list[str], tags: list[str] | None = None):
    """Each token's place in the segmenter's word around it, as ids 1..4 (B, M, E, S); with ``tags`` (one per
    word) also the tag of that word for each token (``"x"`` where no word covers it), as ``(places, tags)``.

    ``words`` segment ``"".join(tokens)`` (a segmenter may drop characters such as spaces: they count as words
    of their own). A token that starts and ends a word is S, one that only starts it B, only ends it E, else M;
    a token of several characters is placed by its first and last character, and tagged by its first.
    """
    text = "".join(tokens)
    start, end = list(range(len(text))), list(range(len(text)))   # per character: its word's first/last index
    which = [-1] * len(text)                                       # per character: its word's index
    pos = 0
    for n, w in enumerate(words):
        at = text.find(w, pos) if w else -1
        if at < 0:
            continue
        for k in range(at, at + len(w)):
            start[k], end[k], which[k] = at, at + len(w) - 1, n
        pos = at + len(w)
    places, token_tags, k = [], [], 0
    for tok in tokens:
        first, last = k, k + len(tok) - 1
        opens, closes = start[first] == first, end[last] == last
        places.append(1 + WORD_POSITIONS.index("S" if opens and closes else "B" if opens else "E" if closes else "M"))
        if tags is not None:
            token_tags.append(tags[which[first]] if which[first] >= 0 else "x")
        k += len(tok)
    return places if tags is None else (places, token_tags)


@functools.cache
def _posseg():
    import jieba.posseg

    return jieba.posseg.POSTokenizer(jieba_instance(None))


@functools.lru_cache(maxsize=100_000)
def _jieba_words(text: str, with_tags: bool) -> tuple[tuple, tuple | None]:
    """jieba's words of ``text`` (default dictionary, HMM on), and with ``with_tags`` their parts of speech
    (jieba.posseg: ``nr`` person, ``ns`` place, ``nt`` organisation, ...). Cached: building a run's vocabulary
    of parts of speech and encoding its data read the same sentences."""
    if not with_tags:
        return tuple(jieba_instance(None).lcut(text)), None
    pairs = [(p.word, p.flag) for p in _posseg().cut(text)]
    return tuple(w for w, _ in pairs), tuple(t for _, t in pairs)


def word_features(tokens: list[str], with_tags: bool):
    """``(places, tags)`` of each token in jieba's words of the sentence (tags None without ``with_tags``)."""
    words, tags = _jieba_words("".join(tokens), with_tags)
    return (word_positions(tokens, words), None) if tags is None else word_positions(tokens, words, tags)
