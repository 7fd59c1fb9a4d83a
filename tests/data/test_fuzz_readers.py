"""Property-based fuzzing of every reader and of the text pipeline's pure steps (issue 25: hostile input).

Arbitrary Unicode text and arbitrary bytes go to each reader; the only outcomes allowed are a result or a
ValueError/TypeError/OSError whose one-line message names the file. Round trips check the results too: what a
writer wrote (a TSV, a CSV, JSON Lines, pairs, CoNLL, word/TAG, a series) is read back exactly.

Profiles: ``ci`` (the default: 10,550 examples, about 20 s of one core) and ``long`` (10x: 105,500, about 10 min;
``LSTMKIT_FUZZ=long pytest tests/data/test_fuzz_readers.py``, a benchmark run, not CI). Both are derandomized: the
same examples every run, no example database written.
"""
import csv
import io
import json
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from lstmkit.data import read_labelled, read_lines
from lstmkit.data.pairs import read_pairs
from lstmkit.data.plain import read_text
from lstmkit.data.readers import text_lines
from lstmkit.data.series import csv_columns, read_series
from lstmkit.data.tagged import read_tagged
from lstmkit.text.padding import pad_sequences
from lstmkit.text.tags import (SCHEMES, allowed_transitions, convert, detect_scheme, from_spans, problems, repair,
                               spans, split_tag)
from lstmkit.text.vocab import Vocab

_COMMON = dict(deadline=None, derandomize=True, database=None, print_blob=False,
               # one tmp folder per test is reused by its examples (each overwrites its file)
               suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                      HealthCheck.data_too_large])
settings.register_profile("lstmkit-fuzz-ci", max_examples=500, **_COMMON)
settings.register_profile("lstmkit-fuzz-long", max_examples=5000, **_COMMON)
PROFILE = os.environ.get("LSTMKIT_FUZZ", "ci")
if PROFILE not in ("ci", "long"):
    raise ValueError(f"LSTMKIT_FUZZ must be 'ci' or 'long', got {PROFILE!r}")
FUZZ = settings.get_profile(f"lstmkit-fuzz-{PROFILE}")
SCALE = FUZZ.max_examples / 500          # per-test example counts below are for "ci", scaled for "long"
COUNTS = {}                              # test name -> its examples under this profile


def fuzz(n: int):
    """The profile's settings with ``n`` examples under "ci" (``n * 10`` under "long")."""
    def apply(test):
        COUNTS[test.__name__] = int(n * SCALE)
        return settings(FUZZ, max_examples=COUNTS[test.__name__])(test)
    return apply


# Characters that break readers: separators, quotes, line ends and the "line breaks" str.splitlines() knows,
# JSON punctuation, tag letters, a BOM, a NUL, wide and combining characters. Half the strings are drawn from
# these, half from all of Unicode (hypothesis's text strategies are fastest on one alphabet each).
SPECIAL = list("\t,\"'\n\r \\/{}[]:-0123456789.eE+BIOESMXnaf") + [
    "\u2028", "\u2029", "\x85", "\x1c", "\x1d", "\x1e", "\x0b", "\x0c", "\x00", "\ufeff", "\xa0", "\u3000",
    "中", "é", "\u0301", "\U0001f600"]


def _text(exclude: str = "", max_size: int = 30, min_size: int = 0, surrogates: bool = False):
    """Strings of the special characters or of any character (lone surrogates only with ``surrogates``), none
    of ``exclude``."""
    special = st.sampled_from([c for c in SPECIAL if c not in exclude])
    every = st.characters(codec=None if surrogates else "utf-8", exclude_characters=exclude)
    return (st.text(special, min_size=min_size, max_size=max_size)
            | st.text(every, min_size=min_size, max_size=max_size))


any_texts = _text(surrogates=True)               # what a str can hold
texts = _text()                                  # what a UTF-8 file can hold
fields = _text("\t\n\r", 10)                      # no tab or line end: a TSV field, a side of a pair
blobs = st.binary(max_size=200)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz")


def _read(read, path, *args):
    """``read(path, *args)``: its result, or None after a clean error: a ValueError, TypeError or OSError whose
    one-line message names the file. Any other exception fails the test."""
    try:
        return read(path, *args)
    except (ValueError, TypeError, OSError) as exc:
        msg = str(exc)
        assert str(path) in msg, f"{type(exc).__name__} does not name the file: {msg[:300]}"
        assert "\n" not in msg and "\r" not in msg, f"not one line: {msg[:300]!r}"
        return None


def _write(folder, name, data):
    """``data`` (bytes, or text written as UTF-8, a lone surrogate as the bytes it would have) in ``folder``."""
    path = folder / name
    path.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8", "surrogatepass"))
    return path


# file name (its suffix picks the table format) -> the reader
READERS = {"d.tsv": read_labelled, "d.csv": read_labelled, "d.jsonl": read_labelled, "d.txt": read_lines,
           "t.txt": read_text, "p.tsv": read_pairs, "s.csv": lambda p: read_series(p, ["value"]),
           "c.csv": csv_columns, **{f"{fmt}.txt": lambda p, fmt=fmt: read_tagged(p, fmt)
                                    for fmt in ("conll", "wordtag", "segmented")}}
names = st.sampled_from(sorted(READERS))


# -- any text, any bytes, to every reader -------------------------------------------------------------------------
@fuzz(1500)
@given(names, any_texts, st.sampled_from(["", "text\tlabel\n", "label,text\n", "value\n"]))
@example("d.jsonl", '{"text": "a", "label": ' + "[" * 100_000, "")        # RecursionError
@example("d.jsonl", '{"text": "a\u2028b", "label": {"a": 1}}', "")        # a label object
@example("d.tsv", '"a\n0\tb\n1\tc\td', "text\tlabel\n")                   # TSV quoting
@example("d.csv", "x" * 200_000 + ",1", "text,label\n")                   # csv field limit
@example("s.csv", '1\n"2', "value\n")                                      # an open CSV quote
def test_every_reader_reads_any_text_or_fails_cleanly(folder, name, text, header):
    _read(READERS[name], _write(folder, name, header + text))


@fuzz(1000)
@given(names, blobs)
@example("d.txt", b"ok\n\xff\xfe\n")
@example("c.csv", b"\xef\xbb\xbfvalue\n1\n")                               # a BOM is fine
def test_every_reader_reads_any_bytes_or_fails_cleanly(folder, name, blob):
    _read(READERS[name], _write(folder, name, blob))


# -- lines -------------------------------------------------------------------------------------------------------
@fuzz(1000)
@given(texts)
@example("a\u2028b\x85c\x1cd\x0be\x0cf\r\n")
def test_read_lines_gives_one_record_or_blank_per_newline(folder, text):
    body = text[1:] if text.startswith("\ufeff") else text          # utf-8-sig drops one leading BOM
    expected = body.count("\n") + (1 if body and not body.endswith("\n") else 0)
    lines = text_lines(body)
    assert len(lines) == expected
    if "\r" not in body:
        assert "\n".join(lines) + ("\n" if body.endswith("\n") else "") == body
    data = _read(read_lines, _write(folder, "in.txt", text))
    assert data is not None and len(data.texts) + data.skipped_blank == expected
    assert data.texts == [line.strip() for line in lines if line.strip()]


# -- round trips: what a writer writes is read back exactly -------------------------------------------------------
labels = fields.map(lambda s: s if s.strip() else s + "y")          # a label is never blank


@fuzz(500)
@given(st.lists(st.tuples(fields, labels), min_size=1, max_size=5))
@example([('"a"b', "1"), ('"open', "0")])
def test_tsv_round_trip(folder, rows):
    tsv = "text\tlabel\n" + "".join(f"{t}\t{y}\n" for t, y in rows)
    data = _read(read_labelled, _write(folder, "r.tsv", tsv))
    assert data is not None
    assert data.texts == [t for t, _ in rows] and data.labels == [y.strip() for _, y in rows]


@fuzz(500)
@given(st.lists(st.tuples(texts, texts.map(lambda s: s if s.strip() else s + "y")), min_size=1, max_size=5))
@example([("x" * 200_000, "1")])
def test_csv_round_trip(folder, rows):
    out = io.StringIO(newline="")
    csv.writer(out).writerows([("text", "label"), *rows])
    data = _read(read_labelled, _write(folder, "r.csv", out.getvalue()))
    assert data is not None
    assert data.texts == [t for t, _ in rows] and data.labels == [y.strip() for _, y in rows]


json_labels = (texts.map(lambda s: s if s.strip() else s + "y") | st.integers() | st.booleans()
               | st.floats(allow_nan=False, allow_infinity=False))


@fuzz(400)
@given(st.lists(st.tuples(texts, json_labels), min_size=1, max_size=5), st.booleans())
@example([("a\u2028b", "x")], False)
def test_jsonl_round_trip(folder, rows, ascii_only):
    jsonl = "".join(json.dumps({"text": t, "label": y}, ensure_ascii=ascii_only) + "\n" for t, y in rows)
    data = _read(read_labelled, _write(folder, "r.jsonl", jsonl))
    assert data is not None
    assert data.texts == [t for t, _ in rows]
    assert data.labels == [y.strip() if isinstance(y, str) else str(y) for _, y in rows]


@fuzz(400)
@given(st.lists(st.tuples(labels, labels), min_size=1, max_size=5))
def test_pairs_round_trip(folder, pairs):
    assume(not pairs[0][0].startswith("\ufeff"))          # a BOM starting a file is not text
    data = _read(read_pairs, _write(folder, "r.tsv", "".join(f"{s}\t{t}\n" for s, t in pairs)))
    assert data is not None
    assert list(zip(data.sources, data.targets)) == [(s.strip(), t.strip()) for s, t in pairs]


tokens = _text("".join(chr(c) for c in range(0x3001) if chr(c).isspace()), 6, min_size=1)  # no whitespace
sentences = st.lists(st.lists(st.tuples(tokens, tokens), min_size=1, max_size=5), min_size=1, max_size=4)


@fuzz(300)
@given(sentences, st.sampled_from(["conll", "wordtag"]))
def test_tagged_round_trip(folder, sents, fmt):
    assume(not sents[0][0][0].startswith("\ufeff"))       # a BOM starting a file is not text
    if fmt == "conll":
        body = "\n".join("".join(f"{w} {t}\n" for w, t in s) for s in sents)
    else:
        sents = [[(w, t.replace("/", "|")) for w, t in s] for s in sents]     # the tag follows the last "/"
        body = "".join(" ".join(f"{w}/{t}" for w, t in s) + "\n" for s in sents)
    data = _read(read_tagged, _write(folder, f"r.{fmt}", body), fmt)
    assert data is not None
    assert data.sentences == [[w for w, _ in s] for s in sents] and data.tags == [[t for _, t in s] for s in sents]


@fuzz(300)
@given(st.lists(st.lists(tokens, min_size=1, max_size=6), min_size=1, max_size=5))
def test_segmented_round_trip(folder, lines):
    assume(not lines[0][0].startswith("\ufeff"))          # a BOM starting a file is not text
    data = _read(read_tagged, _write(folder, "r.seg", "".join(" ".join(ws) + "\n" for ws in lines)), "segmented")
    assert data is not None and data.sentences == [list("".join(ws)) for ws in lines]
    for ws, tags in zip(lines, data.tags):
        starts = np.cumsum([0] + [len(w) for w in ws])
        assert spans(tags, "BMES") == [("", int(a), int(b)) for a, b in zip(starts[:-1], starts[1:])]


finite = st.floats(allow_nan=False, allow_infinity=False)


@fuzz(300)
@given(st.lists(st.tuples(finite, finite), min_size=1, max_size=10))
def test_series_round_trip(folder, rows):
    body = "date,value\n" + "".join(f"{d!r},{v!r}\n" for d, v in rows)
    data = _read(read_series, _write(folder, "r.csv", body), ["value", "date"])
    assert data is not None and data.values.tolist() == [[v, d] for d, v in rows]


# -- the text pipeline: vocabulary, padding, tag schemes ----------------------------------------------------------
def _clean(call, *args, **kwargs):
    """``call(...)``'s result, or None after a ValueError/TypeError with a one-line message."""
    try:
        return call(*args, **kwargs)
    except (ValueError, TypeError) as exc:
        assert "\n" not in str(exc), f"not one line: {str(exc)[:300]!r}"
        return None


@fuzz(600)
@given(st.lists(st.lists(any_texts, max_size=6), max_size=4), st.integers(1, 3), st.none() | st.integers(0, 12),
       st.booleans(), st.lists(any_texts, max_size=6))
def test_vocab_builds_encodes_decodes_and_round_trips(streams, min_freq, max_size, bos_eos, probe):
    vocab = _clean(Vocab.build, streams, min_freq=min_freq, max_size=max_size, bos_eos=bos_eos)
    if vocab is None:                     # only a max_size too small for the specials
        assert max_size is not None and max_size < (4 if bos_eos else 2)
        return
    specials = ["<pad>", "<unk>"] + (["<bos>", "<eos>"] if bos_eos else [])
    assert vocab.itos[: len(specials)] == specials and len(set(vocab.itos)) == len(vocab)
    counts = {}
    for s in streams:
        for t in s:
            counts[t] = counts.get(t, 0) + 1
    assert all(counts[t] >= min_freq for t in vocab.itos[len(specials):])
    ids = vocab.encode(probe, add_bos_eos=bos_eos)
    assert all(0 <= i < len(vocab) for i in ids)
    back = vocab.decode(ids, strip_special=False)
    inner = back[1:-1] if bos_eos else back
    assert inner == [t if t in vocab else "<unk>" for t in probe]
    again = Vocab.from_json(json.loads(json.dumps(vocab.to_json(), ensure_ascii=False)))
    assert again.itos == vocab.itos and again.bos_eos == vocab.bos_eos


@fuzz(150)                                # each save is an fsync: fewer examples
@given(st.lists(any_texts, max_size=6))
@example(["\ud800"])
def test_vocab_save_load_round_trip_or_a_clean_error(folder, tokens):
    vocab = Vocab.build([tokens])
    path = folder / "vocab.json"
    path.unlink(missing_ok=True)
    if _read(lambda p: vocab.save(p) or "saved", path) is None:      # a lone surrogate has no UTF-8 form
        assert not path.exists() and any(_surrogate(t) for t in vocab.itos)
        return
    assert Vocab.load(path).itos == vocab.itos


def _surrogate(text: str) -> bool:
    return any(0xD800 <= ord(c) <= 0xDFFF for c in text)


json_values = st.recursive(st.none() | st.booleans() | st.integers() | finite | texts,
                           lambda inner: st.lists(inner, max_size=4) | st.dictionaries(texts, inner, max_size=4),
                           max_leaves=8)


@fuzz(300)
@given(json_values | st.fixed_dictionaries({"tokens": st.lists(json_values | texts, max_size=6)}), blobs)
@example({"tokens": ["<pad>", "<unk>", 3]}, b"")
@example({"tokens": ["<pad>", "<unk>", ["x"]]}, b"\xff")
@example({"tokens": ["<pad>", "<unk>", "\ud800"]}, b"[" * 100_000)
def test_vocab_from_any_json_or_file_fails_cleanly(folder, data, blob):
    vocab = _clean(Vocab.from_json, data)
    if vocab is not None:
        assert all(isinstance(t, str) for t in vocab.itos)
    _read(Vocab.load, _write(folder, "v.json", blob))


ids = st.integers(-(2**70), 2**70)
junk = st.floats() | st.text(max_size=3) | st.none() | st.lists(st.integers(), max_size=2) | st.just(True)


@fuzz(600)
@given(st.lists(st.lists(ids, max_size=8), max_size=6), st.none() | st.integers(0, 10),
       st.sampled_from(["pre", "post"]), st.sampled_from(["pre", "post"]),
       st.sampled_from(["int64", "int32", "int16"]))
@example([[2**63]], None, "post", "post", "int64")      # OverflowError
@example([[70_000]], None, "post", "post", "int16")     # wrapped silently to 4464
def test_pad_sequences_keeps_every_id_or_fails_cleanly(seqs, maxlen, padding, truncating, dtype):
    out = _clean(pad_sequences, seqs, maxlen=maxlen, padding=padding, truncating=truncating, dtype=dtype)
    T = max((len(s) for s in seqs), default=0) if maxlen is None else maxlen
    kept = [(s[-T:] if truncating == "pre" else s[:T]) if T else [] for s in seqs]
    info = np.iinfo(dtype)
    assert (out is not None) == all(info.min <= i <= info.max for k in kept for i in k)
    if out is None:
        return
    padded, lengths = out
    assert padded.shape == (len(seqs), T) and padded.dtype == np.dtype(dtype)
    for k, row, n in zip(kept, padded.tolist(), lengths.tolist()):
        assert n == len(k)
        assert row == (k + [0] * (T - n) if padding == "post" else [0] * (T - n) + k)


@fuzz(300)
@given(st.lists(st.lists(ids | junk, max_size=4), max_size=4))
@example([[1.5]])                                       # truncated silently to 1
@example([["3"]])
def test_pad_sequences_of_anything_but_ints_fails_cleanly(seqs):
    out = _clean(pad_sequences, seqs)
    # a bool among ints reads as 0/1 (numpy's conversion); every other non-int is refused
    ints = all(isinstance(i, int) and -(2**63) <= i < 2**63 for s in seqs for i in s) and not any(
        all(isinstance(i, bool) for i in s) for s in seqs if s)
    assert (out is not None) == ints, (seqs, out)


tag_texts = st.sampled_from(["O", "B-X", "I-X", "E-X", "S-X", "M-X", "B-Y", "I-Y", "B", "I", "M", "E", "S",
                             "O-X", "B-", "X", "", "b-X", "B-X-Y"]) | texts
schemes = st.sampled_from(sorted(SCHEMES))


@fuzz(1200)
@given(st.lists(tag_texts, max_size=10), schemes, schemes)
@example(["I-X", "B-"], "BIO", "BIOES")
def test_tag_schemes_on_any_tags(tags, source, target):
    found = _clean(spans, tags, source)
    if found is None:
        assert any(_clean(split_tag, t, source) is None for t in tags)
        assert _clean(convert, tags, source, target) is None and _clean(problems, tags, source) is None
        return
    assert all(0 <= a < b <= len(tags) for _, a, b in found)
    fixed = repair(tags, source)
    assert problems(fixed, source) == [] and repair(fixed, source) == fixed and spans(fixed, source) == found
    moved = convert(tags, source, target)
    assert len(moved) == len(tags) and spans(moved, target) == found
    allowed, start, end = allowed_transitions(sorted(set(fixed)), source)
    assert len(allowed) == len(start) == len(end) == len(set(fixed))
    assert detect_scheme([tags]) in SCHEMES


KINDS = ["", "X", "PER", "a-b", "B-X", "中", " ", "\u2028"]      # entity types; any string is one


@st.composite
def span_sets(draw):
    length = draw(st.integers(0, 20))
    cuts = sorted(draw(st.sets(st.integers(0, length), max_size=10)))
    kinds = st.sampled_from(KINDS)
    return [(draw(kinds), a, b) for a, b in zip(cuts[::2], cuts[1::2])], length


@fuzz(500)
@given(span_sets(), schemes)
def test_from_spans_round_trips_through_spans(found_length, scheme):
    found, length = found_length
    assert spans(from_spans(found, length, scheme), scheme) == found


@fuzz(700)
@given(st.lists(st.tuples(st.sampled_from(KINDS), st.integers(-3, 12), st.integers(-3, 12)), max_size=4),
       st.integers(-2, 10),
       schemes)
@example([("X", 5, 7)], 3, "BIO")              # IndexError
@example([("X", 2, 2)], 4, "BIOES")            # an empty span wrote E before B
@example([("X", 0, 3), ("Y", 1, 2)], 4, "BIO")  # overlapping spans overwrote each other
def test_from_spans_of_any_spans_is_right_or_fails_cleanly(found, length, scheme):
    tags = _clean(from_spans, found, length, scheme)
    ordered = sorted(found, key=lambda s: s[1])
    valid = length >= 0 and all(0 <= a < b <= length for _, a, b in found) and all(
        p[2] <= q[1] for p, q in zip(ordered, ordered[1:]))
    assert (tags is not None) == valid, (found, length, tags)
    if tags is not None:
        assert spans(tags, scheme) == ordered


def test_the_profile_runs_at_least_10000_examples():
    """Every property test above has its count, and they add up to 10,000 or more (100,000 under "long")."""
    tests = [k for k, v in globals().items() if k.startswith("test_") and hasattr(v, "hypothesis")]
    assert sorted(COUNTS) == sorted(tests)
    assert sum(COUNTS.values()) >= 10_000 * SCALE, COUNTS

