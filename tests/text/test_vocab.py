import pytest

from lstmkit.text import Vocab


def test_specials_then_frequency_then_first_seen():
    v = Vocab.build([["b", "a", "c"], ["a", "c", "d"], ["a"]])
    assert v.itos == ["<pad>", "<unk>", "a", "c", "b", "d"]
    assert v.pad_id == 0 and v.unk_id == 1 and v.stoi["<pad>"] == 0
    assert v.encode(["a", "zzz", "d"]) == [2, 1, 5]


def test_min_freq_max_size_and_bos_eos():
    streams = [["x", "y", "x", "z", "x", "y"]]
    assert Vocab.build(streams, min_freq=2).itos == ["<pad>", "<unk>", "x", "y"]
    assert Vocab.build(streams, max_size=3).itos == ["<pad>", "<unk>", "x"]
    v = Vocab.build(streams, bos_eos=True)
    assert v.itos[:4] == ["<pad>", "<unk>", "<bos>", "<eos>"]
    assert v.encode(["x"], add_bos_eos=True) == [2, 4, 3]
    assert v.decode([2, 4, 3, 0, 0]) == ["x"]
    assert v.decode([2, 4, 3], strip_special=False) == ["<bos>", "x", "<eos>"]


def test_json_round_trip(tmp_path):
    v = Vocab.build([["我", "爱", "我"]], bos_eos=True)
    v.save(tmp_path / "vocab.json")
    w = Vocab.load(tmp_path / "vocab.json")
    assert w.itos == v.itos and w.bos_eos and "我" in (tmp_path / "vocab.json").read_text(encoding="utf-8")


def test_errors():
    with pytest.raises(ValueError, match="min_freq must be an int >= 1"):
        Vocab.build([["a"]], min_freq=0)
    with pytest.raises(ValueError, match="max_size must be an int >= 2"):
        Vocab.build([["a"]], max_size=1)
    with pytest.raises(ValueError, match="outside 0..2"):
        Vocab.build([["a"]]).decode([7])
    with pytest.raises(ValueError, match="no <bos>"):
        Vocab.build([["a"]]).bos_id
    with pytest.raises(ValueError, match="first tokens must be"):
        Vocab(["a", "<pad>"])
