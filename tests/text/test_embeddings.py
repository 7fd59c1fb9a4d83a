import struct

import numpy as np
import pytest

from lstmkit.text import Vocab, load_pretrained

VOCAB = Vocab.build([["我", "爱", "你", "他"]])   # <pad> <unk> 我 爱 你 他


def _write(path, lines):
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_word2vec_text_with_header_and_coverage(tmp_path):
    f = _write(tmp_path / "v.txt", ["3 2", "我 1.0 2.0", "你 3.0 4.0", "别 5 6"])
    pre = load_pretrained(f, VOCAB)
    assert pre.dim == 2 and pre.matrix.shape == (6, 2)
    np.testing.assert_array_equal(pre.matrix[VOCAB.stoi["我"]], [1.0, 2.0])
    np.testing.assert_array_equal(pre.matrix[0], [0.0, 0.0])
    assert (pre.found, pre.total) == (2, 4) and pre.coverage == 0.5
    assert "2 of 4 vocabulary entries found (50.0%)" in pre.summary()


def test_glove_without_header(tmp_path):
    f = _write(tmp_path / "glove.txt", ["爱 0.5 0.5 0.5", "他 1 1 1"])
    pre = load_pretrained(f, VOCAB, "glove")
    assert pre.dim == 3 and pre.found == 2
    with pytest.raises(ValueError, match="GloVe files have no header"):
        load_pretrained(_write(tmp_path / "h.txt", ["1 3", "爱 1 2 3"]), VOCAB, "glove")


def test_word2vec_binary(tmp_path):
    f = tmp_path / "v.bin"
    with open(f, "wb") as out:
        out.write(b"2 3\n")
        for word, vec in (("爱", [1, 2, 3]), ("他", [4, 5, 6])):
            out.write(word.encode("utf-8") + b" " + struct.pack("<3f", *vec) + b"\n")
    pre = load_pretrained(f, VOCAB)
    np.testing.assert_array_equal(pre.matrix[VOCAB.stoi["他"]], [4, 5, 6])
    assert pre.found == 2
    # "auto" knows the binary format by its bytes too (synonyms ships its vectors as data/words.vector)
    rng = np.random.default_rng(0)
    g = tmp_path / "words.vector"
    with open(g, "wb") as out:
        out.write(b"2 100\n")
        vecs = rng.normal(0, 2.5, (2, 100)).astype("<f4")
        for word, vec in zip(("爱", "他"), vecs):
            out.write(word.encode("utf-8") + b" " + vec.tobytes() + b"\n")
    np.testing.assert_array_equal(load_pretrained(g, VOCAB).matrix[VOCAB.stoi["他"]], vecs[1])
    text = _write(tmp_path / "t.vector", ["2 2", "我 1 2", "你 3 4"])   # a text file keeps being read as text
    np.testing.assert_array_equal(load_pretrained(text, VOCAB).matrix[VOCAB.stoi["你"]], [3, 4])


def test_errors_name_file_and_line(tmp_path):
    with pytest.raises(ValueError, match=r"bad.txt:3: expected 2 values after the word, got 3"):
        load_pretrained(_write(tmp_path / "bad.txt", ["2 2", "我 1 2", "你 1 2 3"]), VOCAB)
    with pytest.raises(ValueError, match=r"nan.txt:2: a value is not a number"):
        load_pretrained(_write(tmp_path / "nan.txt", ["我 1 2", "你 1 x"]), VOCAB)
    with pytest.raises(ValueError, match="dimension 2, but the model's embedding size is 8"):
        load_pretrained(_write(tmp_path / "ok.txt", ["我 1 2"]), VOCAB, dim=8)
    (tmp_path / "latin1.txt").write_bytes("我 1 2\n".encode("utf-8") + b"caf\xe9 1 2\n")
    with pytest.raises(ValueError, match=r"latin1.txt:2: not UTF-8"):
        load_pretrained(tmp_path / "latin1.txt", VOCAB)
    with pytest.raises(FileNotFoundError):
        load_pretrained(tmp_path / "missing.txt", VOCAB)
