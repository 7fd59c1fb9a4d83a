"""Issue 25 row 8: a vectors file whose header or values are hostile is a ValueError naming the file, before
anything large is allocated."""
import struct

import numpy as np
import pytest

from lstmkit.text import Vocab, load_pretrained
from lstmkit.text.embeddings import MAX_DIM

VOCAB = Vocab.build([["我", "爱", "你", "他"]])


def _binary(path, header: bytes, entries=(("爱", [1.0, 2.0, 3.0]),)):
    with open(path, "wb") as out:
        out.write(header)
        for word, vec in entries:
            out.write(word.encode("utf-8") + b" " + struct.pack(f"<{len(vec)}f", *vec) + b"\n")
    return path


@pytest.mark.parametrize("header", [b"3 10000000000\n", b"1 10001\n", b"1 0\n"])
def test_a_binary_header_claiming_an_impossible_dimension_is_an_error(tmp_path, header):
    f = _binary(tmp_path / "v.bin", header)
    dim = int(header.split()[1])
    with pytest.raises(ValueError, match=rf"v.bin:1: the header says dimension {dim:,}; lstmkit reads "
                                         rf"dimensions 1 to {MAX_DIM:,}"):
        load_pretrained(f, VOCAB)


def test_a_binary_header_claiming_more_vectors_than_the_file_holds_is_an_error(tmp_path):
    f = _binary(tmp_path / "v.bin", b"1000000000 3\n")
    with pytest.raises(ValueError, match=r"v.bin:1: the header says 1,000,000,000 vectors of dimension 3, at "
                                         r"least 13,000,000,000 bytes, but 17 bytes follow it"):
        load_pretrained(f, VOCAB)
    ok = _binary(tmp_path / "ok.bin", b"1 3\n")            # exactly what it claims: read
    np.testing.assert_array_equal(load_pretrained(ok, VOCAB).matrix[VOCAB.stoi["爱"]], [1, 2, 3])


@pytest.mark.parametrize("header", [b"1 \xc2\xb3\n", b"1 \xef\xbc\x93\n", b"1 " + b"9" * 30 + b"\n", b"1 3"])
def test_a_binary_header_that_is_not_two_ascii_counts_on_a_line_is_an_error(tmp_path, header):
    f = _binary(tmp_path / "v.bin", header)      # "³" and fullwidth "３" pass str.isdigit(), not this check
    with pytest.raises(ValueError, match=r"v.bin:1: a binary word2vec file starts with a 'count dim' line"):
        load_pretrained(f, VOCAB)


def test_text_vectors_over_the_dimension_limit_or_not_finite_are_errors(tmp_path):
    wide = tmp_path / "wide.txt"
    wide.write_text("我 " + " ".join(["0.5"] * (MAX_DIM + 1)) + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"wide.txt:1: the first vector has dimension 10,001"):
        load_pretrained(wide, VOCAB)
    head = tmp_path / "head.txt"
    head.write_text("1 99999999999\n我 1 2\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"head.txt:1: the header says dimension 99,999,999,999"):
        load_pretrained(head, VOCAB)
    for bad in ("nan", "inf", "1e39"):
        f = tmp_path / "nan.txt"
        f.write_text(f"我 1 2\n你 1 {bad}\n", encoding="utf-8")
        with pytest.raises(ValueError, match=r"nan.txt:2: a value is not a finite float32"):
            load_pretrained(f, VOCAB)
    b = _binary(tmp_path / "nan.bin", b"1 3\n", (("爱", [1.0, float("nan"), 3.0]),))
    with pytest.raises(ValueError, match=r"nan.bin: entry 1 \('爱'\): a value is nan or inf"):
        load_pretrained(b, VOCAB)
