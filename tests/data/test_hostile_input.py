"""Issue 25, the data layer: hostile input is read correctly or is a ValueError naming file:line, never another
exception and never a silent misreading."""
import json

import pytest

from lstmkit.data import read_labelled, read_lines
from lstmkit.data.pairs import read_pairs
from lstmkit.data.readers import text_lines
from lstmkit.data.tagged import read_tagged

# every character str.splitlines() cuts at besides "\n" and "\r"
ODD_BREAKS = ["\u2028", "\u2029", "\x85", "\x1c", "\x1d", "\x1e", "\x0b", "\x0c"]


def _write(path, text):
    path.write_bytes(text.encode("utf-8"))
    return path


# -- lines end at "\n" only ---------------------------------------------------------------------------------------
def test_text_lines_cut_at_newline_only_and_drop_the_carriage_return_before_it():
    assert text_lines("") == []
    assert text_lines("a") == ["a"] and text_lines("a\n") == ["a"] and text_lines("a\n\n") == ["a", ""]
    assert text_lines("a\r\nb\r\n") == ["a", "b"] and text_lines("a\r\nb\r") == ["a", "b"]
    assert text_lines("a\r\r\nb") == ["a\r", "b"]           # one "\r" belongs to the line end, not two
    assert text_lines("x" + "y".join(ODD_BREAKS) + "z\n") == ["x" + "y".join(ODD_BREAKS) + "z"]


@pytest.mark.parametrize("ch", ODD_BREAKS)
def test_read_lines_gives_one_text_per_line(tmp_path, ch):
    d = read_lines(_write(tmp_path / "in.txt", f"a{ch}b\r\nc\n"))
    assert d.texts == [f"a{ch}b", "c"]


@pytest.mark.parametrize("ch", ODD_BREAKS)
def test_jsonl_strings_may_hold_any_line_separator_raw(tmp_path, ch):
    line = json.dumps({"text": f"a{ch}b", "label": "x"}, ensure_ascii=False)
    assert (ch in line) == (ch >= " ")      # raw, as JSON allows for all but the control characters
    d = read_labelled(_write(tmp_path / "d.jsonl", line + "\n" + line + "\n"))
    assert d.texts == [f"a{ch}b"] * 2 and d.labels == ["x", "x"]
    if ch < " ":                             # a raw control character is not JSON: an error naming its line
        raw = _write(tmp_path / "raw.jsonl", line + "\n" + line.replace(json.dumps(ch)[1:-1], ch) + "\n")
        with pytest.raises(ValueError, match=r"raw.jsonl:2: not valid JSON \(Invalid control character"):
            read_labelled(raw)


@pytest.mark.parametrize("ch", ODD_BREAKS)
def test_tables_pairs_and_tagged_files_keep_their_line_numbers(tmp_path, ch):
    # an odd separator on line 2, an error on line 3: the message must say 3
    t = _write(tmp_path / "t.tsv", f"label\ttext\n1\ta{ch}b\n0\n")
    with pytest.raises(ValueError, match=r"t.tsv:3: expected 2 fields"):
        read_labelled(t)
    p = _write(tmp_path / "p.tsv", f"a{ch}b\tc\nno tab\n")
    with pytest.raises(ValueError, match=r"p.tsv:2: expected 'source<TAB>target'"):
        read_pairs(p)
    assert read_pairs(_write(tmp_path / "q.tsv", f"a{ch}b\tc\n")).sources == [f"a{ch}b".strip()]
    assert ch.isspace()                     # so inside a line it separates tokens, as a space does
    w = _write(tmp_path / "w.txt", f"x/N{ch}z/V\nbad\n")
    with pytest.raises(ValueError, match=r"w.txt:2: expected word/TAG"):
        read_tagged(w, "wordtag")
    c = _write(tmp_path / "c.txt", f"x{ch} O\nlonely\n")
    with pytest.raises(ValueError, match=r"c.txt:2: expected 'token TAG'"):
        read_tagged(c, "conll")
    s = read_tagged(_write(tmp_path / "s.txt", "ab cd\n中国 人\n"), "segmented")
    assert len(s) == 2                      # one sentence per line, whatever the separators inside it
