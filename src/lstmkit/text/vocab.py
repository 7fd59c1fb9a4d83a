"""Step 3 of the pipeline: dictionarize, token -> id.

Id 0 is ``<pad>`` and id 1 is ``<unk>``: padding is never the unknown id, so the model can tell "no token here"
from "a token I never saw". ``<bos>``/``<eos>`` follow when asked for, then the tokens by frequency (ties: the
order first seen), so the same corpus always gives the same ids.
"""
from __future__ import annotations

import hashlib
import json
from collections import Counter
from typing import Iterable

from ..io import atomic_write_text

PAD, UNK, BOS, EOS = "<pad>", "<unk>", "<bos>", "<eos>"


class Vocab:
    """A token <-> id mapping. Build with :meth:`build`; ``encode``/``decode``; ``save``/``load`` as JSON."""

    def __init__(self, tokens: list[str], bos_eos: bool = False):
        if isinstance(tokens, (str, bytes)):
            raise TypeError(f"Vocab: tokens must be a list of strings, got a {type(tokens).__name__}")
        tokens = list(tokens)
        for i, t in enumerate(tokens):
            if not isinstance(t, str):
                raise TypeError(f"Vocab: token {i} must be a string, got {type(t).__name__} {repr(t)[:40]}")
        specials = [PAD, UNK] + ([BOS, EOS] if bos_eos else [])
        if tokens[: len(specials)] != specials:
            raise ValueError(f"Vocab: the first tokens must be {specials}, got {list(tokens[:len(specials)])}")
        if len(set(tokens)) != len(tokens):
            dup = next(t for t, n in Counter(tokens).items() if n > 1)
            raise ValueError(f"Vocab: token {dup!r} appears more than once")
        self.bos_eos = bool(bos_eos)
        self.itos = list(tokens)
        self.stoi = {t: i for i, t in enumerate(self.itos)}

    pad_id, unk_id = 0, 1

    @property
    def bos_id(self) -> int:
        return self._special(BOS)

    @property
    def eos_id(self) -> int:
        return self._special(EOS)

    def _special(self, token):
        if not self.bos_eos:
            raise ValueError(f"Vocab: built without <bos>/<eos> (bos_eos=False), so it has no {token}")
        return self.stoi[token]

    @classmethod
    def build(cls, token_streams: Iterable[Iterable[str]], min_freq: int = 1, max_size: int | None = None,
              bos_eos: bool = False) -> "Vocab":
        """Count tokens; keep those seen ``min_freq`` times or more, the ``max_size`` most frequent (specials
        included in the size), most frequent first, ties in the order first seen."""
        if isinstance(min_freq, bool) or not isinstance(min_freq, int) or min_freq < 1:
            raise ValueError(f"Vocab.build: min_freq must be an int >= 1, got {min_freq!r}")
        counts: Counter = Counter()
        for tokens in token_streams:
            counts.update(tokens)   # Counter keeps first-seen order, and sorted() below is stable
        specials = [PAD, UNK] + ([BOS, EOS] if bos_eos else [])
        if max_size is not None and (isinstance(max_size, bool) or not isinstance(max_size, int)
                                     or max_size < len(specials)):
            raise ValueError(f"Vocab.build: max_size must be an int >= {len(specials)} (the specials), "
                             f"got {max_size!r}")
        ranked = [t for t, n in sorted(counts.items(), key=lambda kv: -kv[1]) if n >= min_freq and t not in specials]
        if max_size is not None:
            ranked = ranked[: max_size - len(specials)]
        return cls(specials + ranked, bos_eos)

    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, token: str) -> bool:
        return token in self.stoi

    def encode(self, tokens: Iterable[str], add_bos_eos: bool = False) -> list[int]:
        ids = [self.stoi.get(t, 1) for t in tokens]
        if add_bos_eos:
            ids = [self.bos_id] + ids + [self.eos_id]
        return ids

    def decode(self, ids: Iterable[int], strip_special: bool = True) -> list[str]:
        """Ids -> tokens; with ``strip_special`` (default) ``<pad>``, ``<bos>`` and ``<eos>`` are dropped."""
        skip = {0, self.stoi.get(BOS), self.stoi.get(EOS)} if strip_special else set()
        out = []
        for i in ids:
            i = int(i)
            if not 0 <= i < len(self.itos):
                raise ValueError(f"Vocab.decode: id {i} is outside 0..{len(self.itos) - 1}")
            if i not in skip:
                out.append(self.itos[i])
        return out

    def to_json(self) -> dict:
        return {"tokens": self.itos, "bos_eos": self.bos_eos}

    def digest(self) -> str:
        """The SHA-256 of the vocabulary (its tokens in id order and ``bos_eos``): equal ids for equal digests."""
        return hashlib.sha256(json.dumps(self.to_json(), ensure_ascii=False).encode()).hexdigest()

    @classmethod
    def from_json(cls, data: dict) -> "Vocab":
        if not isinstance(data, dict) or not isinstance(data.get("tokens"), list):
            raise ValueError("Vocab: expected a JSON object with a 'tokens' list")
        bos_eos = data.get("bos_eos", False)
        if not isinstance(bos_eos, bool):
            raise ValueError(f"Vocab: 'bos_eos' must be true or false, got {repr(bos_eos)[:40]}")
        return cls(data["tokens"], bos_eos)

    def save(self, path) -> None:
        atomic_write_text(path, json.dumps(self.to_json(), ensure_ascii=False))

    @classmethod
    def load(cls, path) -> "Vocab":
        """A vocabulary saved by :meth:`save`; a file that is not UTF-8 JSON of one is a ValueError naming it."""
        with open(path, "rb") as f:
            raw = f.read()
        try:
            data = json.loads(raw.decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise ValueError(f"{path}: not UTF-8 (byte {exc.start:,}: {exc.reason})") from None
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}:{exc.lineno}: not valid JSON ({exc.msg})") from None
        except (ValueError, RecursionError) as exc:     # nested too deeply, an integer of 4300+ digits
            raise ValueError(f"{path}: not valid JSON ({str(exc)[:100] or 'nested too deeply'})") from None
        try:
            return cls.from_json(data)
        except (ValueError, TypeError) as exc:
            raise type(exc)(f"{path}: {exc}") from None

    def __repr__(self) -> str:
        return f"Vocab(size={len(self)}, bos_eos={self.bos_eos})"
