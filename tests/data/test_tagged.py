import pytest

from lstmkit.data.tagged import read_tagged, segmented_to_chars


def test_conll_sentences_split_on_blank_lines(tmp_path):
    f = tmp_path / "ner.txt"
    f.write_text("中 B-LOC\n国 E-LOC\n人 O\n\n\n我\tS-PER\n", encoding="utf-8")
    d = read_tagged(f, "conll")
    assert d.sentences == [["中", "国", "人"], ["我"]] and d.tags == [["B-LOC", "E-LOC", "O"], ["S-PER"]]


def test_wordtag_keeps_slashes_inside_words(tmp_path):
    f = tmp_path / "pos.txt"
    f.write_text("迈向/v  充满/v\n\n1/2/m  ５/m\n", encoding="utf-8")
    d = read_tagged(f, "wordtag")
    assert d.sentences == [["迈向", "充满"], ["1/2", "５"]] and d.tags == [["v", "v"], ["m", "m"]]
    assert d.skipped_blank == 1


def test_segmented_becomes_bmes_characters(tmp_path):
    assert segmented_to_chars(["中华人民", "共和国", "好"]) == (
        list("中华人民共和国好"), ["B", "M", "M", "E", "B", "M", "E", "S"])
    f = tmp_path / "seg.txt"
    f.write_text("迈向 充满 希望\n", encoding="utf-8")
    assert read_tagged(f, "segmented").tags == [["B", "E", "B", "E", "B", "E"]]


@pytest.mark.parametrize("fmt,content,match", [
    ("conll", "中 B-LOC\n国\n", r"ner.txt:2: expected 'token TAG'"),
    ("wordtag", "迈向/v 充满\n", r"ner.txt:1: expected word/TAG, got '充满'"),
    ("wordtag", "\n\n", r"no sentences"),
])
def test_errors_name_file_and_line(tmp_path, fmt, content, match):
    f = tmp_path / "ner.txt"
    f.write_text(content, encoding="utf-8")
    with pytest.raises(ValueError, match=match):
        read_tagged(f, fmt)
    with pytest.raises(ValueError, match="format must be one of conll, wordtag, segmented"):
        read_tagged(f, "iob")
