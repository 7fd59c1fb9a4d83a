"""Issue 25, what fuzzing the text pipeline found (tests/data/test_fuzz_readers.py): each case was a traceback of
another type or a silent misreading; each is now a ValueError/TypeError that says what was wrong."""
import numpy as np
import pytest

from lstmkit.text import pad_sequences


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
