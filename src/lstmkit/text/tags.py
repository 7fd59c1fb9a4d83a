"""Tag schemes for sequence labelling: BIO, BIOES and BMES(+O), spans, conversion, validation, repair.

- ``BIO``: ``B-X`` begins an entity of type X, ``I-X`` continues it, ``O`` is outside.
- ``BIOES``: as BIO, plus ``E-X`` ends a multi-token entity and ``S-X`` is a single-token one.
- ``BMES``: ``B``/``M``/``E``/``S`` (``M`` for the middle), with ``O`` outside; the type suffix is optional
  (word segmentation uses bare ``B M E S``; MSRA NER uses ``B-PER``, ``M-PER``, ... and ``O``).

Spans are ``(type, start, end)`` with ``end`` exclusive (type ``""`` when the tags carry none). Reading tags into
spans follows seqeval's lenient rules: a continuation tag (``I``/``M``/``E``) that does not continue an entity
of its type starts a new one. :func:`problems` reports such dangling tags; :func:`repair` rewrites them the way
seqeval reads them.
"""
from __future__ import annotations

SCHEMES = {"BIO": ("B", "I", "O"), "BIOES": ("B", "I", "E", "S", "O"), "BMES": ("B", "M", "E", "S", "O")}


def _check_scheme(scheme: str) -> str:
    if scheme not in SCHEMES:
        raise ValueError(f"tag scheme must be one of {', '.join(SCHEMES)}, got {scheme!r}")
    return scheme


def split_tag(tag: str, scheme: str) -> tuple[str, str]:
    """``"B-PER"`` -> ``("B", "PER")``; ``"O"`` -> ``("O", "")``; a prefix the scheme lacks is an error."""
    if not isinstance(tag, str):
        raise TypeError(f"a tag must be a string, got {type(tag).__name__} {repr(tag)[:40]}")
    prefix, _, kind = tag.partition("-")
    if prefix not in SCHEMES[_check_scheme(scheme)] or (prefix == "O" and kind):
        raise ValueError(f"tag {tag!r} is not a {scheme} tag (prefixes {', '.join(SCHEMES[scheme])})")
    return prefix, kind


def spans(tags: list[str], scheme: str) -> list[tuple[str, int, int]]:
    """The entities (or words) that ``tags`` mark, as ``(type, start, end)``, in order."""
    inside = {"BIO": "I", "BIOES": "I", "BMES": "M"}[_check_scheme(scheme)]
    out, start, kind = [], None, None

    def close(end):
        nonlocal start, kind
        if start is not None:
            out.append((kind, start, end))
        start, kind = None, None

    for k, tag in enumerate(tags):
        prefix, typ = split_tag(tag, scheme)
        if prefix == "O":
            close(k)
        elif prefix == "S":
            close(k)
            out.append((typ, k, k + 1))
        elif prefix == "B" or start is None or typ != kind:
            close(k)                       # B, or a dangling continuation: a new entity starts here
            start, kind = k, typ
            if prefix == "E":
                close(k + 1)
        elif prefix == inside:
            continue
        else:                              # E continuing the open entity
            close(k + 1)
    close(len(tags))
    return out


def _check_spans(found, length: int) -> list[tuple[str, int, int]]:
    """``found`` sorted by start, each ``(type, start, end)`` inside ``0 .. length`` and none overlapping."""
    if isinstance(length, bool) or not isinstance(length, int) or length < 0:
        raise ValueError(f"from_spans: length must be a non-negative int, got {length!r}")
    for k, span in enumerate(found):
        ok = isinstance(span, (tuple, list)) and len(span) == 3 and isinstance(span[0], str) and all(
            isinstance(i, int) and not isinstance(i, bool) for i in span[1:])
        if not ok or not 0 <= span[1] < span[2] <= length:
            raise ValueError(f"from_spans: span {k} must be (type, start, end) with 0 <= start < end <= length "
                             f"({length}), got {repr(span)[:60]}")
    ordered = sorted(found, key=lambda span: span[1])
    for a, b in zip(ordered, ordered[1:]):
        if b[1] < a[2]:
            raise ValueError(f"from_spans: spans {repr(a)[:40]} and {repr(b)[:40]} overlap")
    return ordered


def from_spans(found: list[tuple[str, int, int]], length: int, scheme: str) -> list[str]:
    """Tags of ``length`` tokens marking ``found`` spans in ``scheme``. Spans are ``(type, start, end)`` with
    ``0 <= start < end <= length``, in any order, none overlapping; any other is a ValueError."""
    _check_scheme(scheme)
    found = _check_spans(found, length)
    tags = ["O"] * length
    inside = "M" if scheme == "BMES" else "I"
    for kind, start, end in found:
        suffix = f"-{kind}" if kind else ""
        if end - start == 1 and scheme != "BIO":
            tags[start] = "S" + suffix
            continue
        tags[start] = "B" + suffix
        for k in range(start + 1, end):
            tags[k] = inside + suffix
        if scheme != "BIO":
            tags[end - 1] = "E" + suffix
    return tags


def convert(tags: list[str], source: str, target: str) -> list[str]:
    """Rewrite ``tags`` from one scheme into another (through their spans)."""
    return from_spans(spans(tags, source), len(tags), target)


def problems(tags: list[str], scheme: str) -> list[str]:
    """What breaks the scheme's rules: dangling continuations, entities BIOES/BMES leave without ``E``."""
    inside = "M" if _check_scheme(scheme) == "BMES" else "I"
    out, open_kind = [], None          # the type of the entity still open, if any
    for k, tag in enumerate(tags):
        prefix, kind = split_tag(tag, scheme)
        if prefix in (inside, "E"):
            if open_kind is None or kind != open_kind:
                after = tags[k - 1] if k else "the start"
                out.append(f"token {k}: {tag} does not continue an entity (after {after})")
            open_kind = kind if prefix == inside else None
            continue
        if scheme != "BIO" and open_kind is not None:
            out.append(f"token {k - 1}: {tags[k - 1]} is not closed by E before {tag}")
        open_kind = kind if prefix == "B" else None
    if scheme != "BIO" and open_kind is not None:
        out.append(f"token {len(tags) - 1}: {tags[-1]} is not closed by E at the end")
    return out


def repair(tags: list[str], scheme: str) -> list[str]:
    """The tags rewritten to read as seqeval reads them: every entity well formed in ``scheme``."""
    return from_spans(spans(tags, scheme), len(tags), scheme)


def allowed_transitions(labels: list[str], scheme: str):
    """Which tag may follow which under ``scheme``, for a CRF's constraints.

    Returns ``(allowed (K, K), allowed_start (K,), allowed_end (K,))`` as nested lists of bools over ``labels``:
    a continuation (I/M/E) only after B or a continuation of the same type; in BIOES/BMES an entity must close
    with E before anything else begins, and a sequence can neither start with a continuation nor end inside one.
    """
    inside = "M" if _check_scheme(scheme) == "BMES" else "I"
    parts = [split_tag(lab, scheme) for lab in labels]
    closes = scheme != "BIO"

    def may_follow(prev, nxt):
        (p, pk), (n, nk) = prev, nxt
        open_prev = p in ("B", inside)
        if n in (inside, "E"):
            return open_prev and pk == nk
        return not (closes and open_prev)

    allowed = [[may_follow(a, b) for b in parts] for a in parts]
    start = [p not in (inside, "E") for p, _ in parts]
    end = [not (closes and p in ("B", inside)) for p, _ in parts]
    return allowed, start, end


def detect_scheme(tag_lists) -> str:
    """The scheme a data set's tags use: BMES when an M prefix appears, BIOES for E/S without M, else BIO."""
    prefixes = set()
    for tags in tag_lists:
        for t in tags:
            if not isinstance(t, str):
                raise TypeError(f"detect_scheme: a tag must be a string, got {type(t).__name__} {repr(t)[:40]}")
            prefixes.add(t.partition("-")[0])
    if "M" in prefixes:
        return "BMES"
    return "BIOES" if prefixes & {"E", "S"} else "BIO"
