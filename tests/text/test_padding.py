import numpy as np
import pytest

from lstmkit.text import pad_sequences

SEQS = [[1, 2, 3, 4], [5, 6], [7]]


@pytest.mark.parametrize("padding,truncating,expected", [
    # the values Keras's pad_sequences gives for maxlen=3
    ("pre", "pre", [[2, 3, 4], [0, 5, 6], [0, 0, 7]]),
    ("pre", "post", [[1, 2, 3], [0, 5, 6], [0, 0, 7]]),
    ("post", "pre", [[2, 3, 4], [5, 6, 0], [7, 0, 0]]),
    ("post", "post", [[1, 2, 3], [5, 6, 0], [7, 0, 0]]),
])
def test_keras_semantics_for_every_combination(padding, truncating, expected):
    padded, lengths = pad_sequences(SEQS, maxlen=3, padding=padding, truncating=truncating)
    assert padded.tolist() == expected
    assert lengths.tolist() == [3, 2, 1]


def test_defaults_pad_to_the_longest_at_the_end():
    padded, lengths = pad_sequences(SEQS)
    assert padded.tolist() == [[1, 2, 3, 4], [5, 6, 0, 0], [7, 0, 0, 0]] and lengths.tolist() == [4, 2, 1]
    assert padded.dtype == np.int64


def test_value_empty_sequences_and_errors():
    padded, lengths = pad_sequences([[], [3]], maxlen=2, value=9)
    assert padded.tolist() == [[9, 9], [3, 9]] and lengths.tolist() == [0, 1]
    assert pad_sequences([])[0].shape == (0, 0)
    with pytest.raises(ValueError, match="padding must be 'pre' or 'post', got 'middle'"):
        pad_sequences(SEQS, padding="middle")
    with pytest.raises(ValueError, match="maxlen must be a non-negative int"):
        pad_sequences(SEQS, maxlen=-1)
