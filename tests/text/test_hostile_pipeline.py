"""Issue 25, what fuzzing the text pipeline found (tests/data/test_fuzz_readers.py): each case was a traceback of
another type or a silent misreading; each is now a ValueError/TypeError that says what was wrong."""
import json

import numpy as np
import pytest

from lstmkit.io import atomic_write_text
from lstmkit.text import Vocab, pad_sequences
from lstmkit.text.tags import detect_scheme, from_spans, spans, split_tag


# -- pad_sequences: ids are ints that fit the dtype, never truncated or wrapped --------------------------------------
@pytest.mark.parametrize("seqs,dtype,shown", [
    ([[1], [2.7]], "int64", r"sequence 1 must hold int64 ids .*got \[2\.7\]"),           # was 2, silently
    ([["3"]], "int64", r"sequence 0 must hold int64 ids .*got \['3'\]"),                   # was 3, silently
    ([[2**63]], "int64", r"sequence 0 must hold int64 ids \(ints from -9223372036854775808 to 9223372036854775807\)"),
    ([[70_000]], "int16", r"sequence 0 must hold int16 ids \(ints from -32768 to 32767\), got \[70000\]"),
    ([[1, [2]]], "int64", r"sequence 0 must hold int64 ids"),                              # ragged nesting
    ([[True, False]], "int64", r"sequence 0 must hold int64 ids"),
])
def test_pad_sequences_refuses_ids_that_are_not_ints_of_the_dtype(seqs, dtype, shown):
    with pytest.raises(ValueError, match=rf"pad_sequences: {shown}"):
        pad_sequences(seqs, dtype=dtype)


def test_pad_sequences_checks_value_and_dtype_and_reads_numpy_ids():
    with pytest.raises(ValueError, match=r"pad_sequences: value must be an int from -128 to 127 \(int8\), got 300"):
        pad_sequences([[1]], value=300, dtype="int8")
    with pytest.raises(ValueError, match=r"pad_sequences: dtype must be an integer type \(ids\), got float32"):
        pad_sequences([[1]], dtype="float32")
    with pytest.raises(TypeError, match=r"pad_sequences: sequences must be a list of id lists, got a str"):
        pad_sequences("123")
    padded, lengths = pad_sequences([np.array([5, 6], dtype=np.int32), [np.int64(7)]], dtype="int16")
    assert padded.tolist() == [[5, 6], [7, 0]] and padded.dtype == np.int16 and lengths.tolist() == [2, 1]
    assert pad_sequences([[2**63]], maxlen=0)[0].shape == (1, 0)     # nothing kept, nothing to check


# -- tag schemes ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("found,length,shown", [
    ([("X", 5, 7)], 3, r"span 0 must be \(type, start, end\) with 0 <= start < end <= length \(3\), got \('X', 5, 7\)"),
    ([("X", 2, 2)], 4, r"span 0 must be .* got \('X', 2, 2\)"),           # wrote E-X before B-X
    ([("X", -1, 2)], 4, r"span 0 must be"),                                 # indexed from the end
    ([(1, 0, 2)], 4, r"span 0 must be \(type, start, end\)"),
    ([("X", 0, 3), ("Y", 1, 2)], 4, r"spans \('X', 0, 3\) and \('Y', 1, 2\) overlap"),
])
def test_from_spans_refuses_spans_outside_the_tokens_or_overlapping(found, length, shown):
    with pytest.raises(ValueError, match=rf"from_spans: {shown}"):
        from_spans(found, length, "BIOES")


def test_from_spans_takes_spans_in_any_order_and_checks_the_length():
    assert from_spans([("Y", 3, 4), ("X", 0, 2)], 4, "BIOES") == ["B-X", "E-X", "O", "S-Y"]
    with pytest.raises(ValueError, match=r"from_spans: length must be a non-negative int, got -1"):
        from_spans([], -1, "BIO")


def test_tags_that_are_not_strings_are_type_errors():
    with pytest.raises(TypeError, match=r"a tag must be a string, got int 3"):
        split_tag(3, "BIO")
    with pytest.raises(TypeError, match=r"a tag must be a string, got NoneType"):
        spans(["O", None], "BIO")
    with pytest.raises(TypeError, match=r"detect_scheme: a tag must be a string, got int"):
        detect_scheme([["O", 1]])


# -- vocabulary files ------------------------------------------------------------------------------------------------
def test_vocab_tokens_must_be_strings():
    with pytest.raises(TypeError, match=r"Vocab: token 2 must be a string, got int 3"):
        Vocab(["<pad>", "<unk>", 3])
    with pytest.raises(TypeError, match=r"Vocab: token 2 must be a string, got list \['x'\]"):
        Vocab.from_json({"tokens": ["<pad>", "<unk>", ["x"]]})
    with pytest.raises(ValueError, match=r"Vocab: 'bos_eos' must be true or false, got 'false'"):
        Vocab.from_json({"tokens": ["<pad>", "<unk>"], "bos_eos": "false"})    # was True: bool("false")


@pytest.mark.parametrize("raw,shown", [
    (b'{"tokens": ["<pad>", "<unk>", "caf\xe9"]}', r"not UTF-8 \(byte 34: invalid continuation byte\)"),
    (b"[" * 100_000, r"not valid JSON \(maximum recursion depth exceeded"),
    (b'{"tokens": ["<pad>", "<unk>", 1]}', r"Vocab: token 2 must be a string"),
    (b'{"tokens": 1', r"1: not valid JSON"),
])
def test_a_bad_vocab_file_is_an_error_naming_it(tmp_path, raw, shown):
    f = tmp_path / "vocab.json"
    f.write_bytes(raw)
    with pytest.raises((ValueError, TypeError), match=rf"vocab.json:? ?{shown}"):
        Vocab.load(f)


def test_a_token_with_a_lone_surrogate_is_an_error_naming_the_file_and_nothing_is_written(tmp_path):
    vocab = Vocab.build([["ok", "a\ud800b"]])
    f = tmp_path / "vocab.json"
    with pytest.raises(ValueError, match=r"vocab.json: cannot write character \d+ \('\\ud800'\): a lone surrogate"):
        vocab.save(f)
    assert list(tmp_path.iterdir()) == []                     # no file, no temp file left behind
    good = Vocab.build([["ok", "中"]])
    good.save(f)
    assert Vocab.load(f).itos == good.itos and json.loads(f.read_text(encoding="utf-8"))["tokens"][3] == "中"
    with pytest.raises(TypeError, match=r"x.txt: expected text \(str\) to write, got bytes"):
        atomic_write_text(tmp_path / "x.txt", b"raw")
