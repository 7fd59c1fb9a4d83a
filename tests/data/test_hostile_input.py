"""Issue 25, the data layer: hostile input is read correctly or is a ValueError naming file:line, never another
exception and never a silent misreading."""
import json

import pytest

from lstmkit.data import read_labelled, read_lines
from lstmkit.data.pairs import read_pairs
from lstmkit.data.readers import MAX_FIELD_CHARS, decode_utf8, read_table, text_lines
from lstmkit.data.series import csv_columns, read_series
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


def test_standard_input_bytes_decode_as_a_file_does():
    assert text_lines(decode_utf8("\ufeffa\u2028b\r\nc\n".encode("utf-8"), "<stdin>")) == ["a\u2028b", "c"]
    with pytest.raises(ValueError, match=r"<stdin>:2: not UTF-8 \(byte 0xe9: invalid continuation byte\)"):
        decode_utf8(b"ok\ncaf\xe9 au lait\n", "<stdin>")


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


# -- tables: long fields ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name,sep", [("big.tsv", "\t"), ("big.csv", ",")])
def test_a_field_over_128_kib_is_read(tmp_path, name, sep):
    long = "長" * 200_000
    d = read_labelled(_write(tmp_path / name, f"label{sep}text\n1{sep}{long}\n0{sep}short\n"))
    assert d.texts == [long, "short"] and d.labels == ["1", "0"]


@pytest.mark.parametrize("name,sep", [("big.tsv", "\t"), ("big.csv", ",")])
def test_a_field_over_the_limit_is_an_error_naming_file_and_line(tmp_path, name, sep):
    f = _write(tmp_path / name, f"label{sep}text\n1{sep}ok\n0{sep}{'x' * (MAX_FIELD_CHARS + 1)}\n")
    with pytest.raises(ValueError, match=rf"{name}:3: .*over the limit of 1,048,576 characters"):
        read_labelled(f)
    small = _write(tmp_path / f"small{name}", f"label{sep}text\n1{sep}ok\n0{sep}{'x' * 11}\n")
    with pytest.raises(ValueError, match=rf"small{name}:3: .*over the limit of 10 "):
        read_table(small, max_field=10)
    assert read_table(small, max_field=11).texts == ["ok", "x" * 11]
    with pytest.raises(ValueError, match="max_field must be a positive int"):
        read_table(small, max_field=0)


def test_series_csv_with_a_long_field_or_an_open_quote_is_a_value_error(tmp_path):
    f = _write(tmp_path / "s.csv", f"value\n1\n{'9' * 200_000}x\n")
    with pytest.raises(ValueError, match=r"s.csv:3: column 'value': expected a finite number"):
        read_series(f, ["value"])
    g = _write(tmp_path / "o.csv", 'value,note\n1,a\n2,"open\n3,b\n')
    with pytest.raises(ValueError, match=r"o.csv:3: not valid CSV: a quoted field .* never closed"):
        read_series(g, ["value"])
    h = _write(tmp_path / "h.csv", f"{'v' * (MAX_FIELD_CHARS + 1)}\n1\n")
    with pytest.raises(ValueError, match=r"h.csv:1: .*over the limit"):
        csv_columns(h)


# -- tables: TSV has no quoting, CSV has RFC 4180's ---------------------------------------------------------------
def test_tsv_quotes_are_characters(tmp_path):
    rows = ['1\t"hello'] + ["0\tx"] * 300 + ['1\t"a"b', '0\tsay "hi"', '1\t""']
    d = read_labelled(_write(tmp_path / "q.tsv", "label\ttext\n" + "\n".join(rows) + "\n"))
    assert len(d) == 304 and d.texts[0] == '"hello' and d.texts[-3:] == ['"a"b', 'say "hi"', '""']
    bad = _write(tmp_path / "bad.tsv", 'label\ttext\n1\t"hello\n' + "0\tx\n" * 300 + "1\ta\tb\n")
    with pytest.raises(ValueError, match=r"bad.tsv:303: expected 2 fields"):
        read_labelled(bad)
    assert read_table(_write(tmp_path / "q.txt", 'label\ttext\n1\t"a"b\n')).texts == ['"a"b']


def _fails(path, content: str, match: str, read=read_labelled) -> None:
    """``read`` of a file holding ``content`` is a ValueError whose message matches ``match``."""
    with pytest.raises(ValueError, match=match):
        read(_write(path, content))


def test_csv_keeps_rfc4180_quoting_and_malformed_quoting_names_the_line(tmp_path):
    d = read_labelled(_write(tmp_path / "ok.csv", 'label,text\n1,"a, ""b""\nc"\n0,plain "q"\n'))
    assert d.texts == ['a, "b"\nc', 'plain "q"'] and d.labels == ["1", "0"]
    _fails(tmp_path / "after.csv", 'label,text\n1,ok\n0,"a"b\n1,c\n',
           r"after.csv:3: not valid CSV: ',' expected after '\"'")
    _fails(tmp_path / "open.csv", 'label,text\n1,ok\n0,"open\n1,c\n',
           r"open.csv:3: not valid CSV: a quoted field .* never closed")


def test_a_column_named_twice_in_the_header_is_an_error(tmp_path):
    _fails(tmp_path / "d.tsv", "text\tlabel\ttext\na\t1\tb\n", r"d.tsv:1: column 'text' appears 2 times in the header")
    _fails(tmp_path / "d.csv", "value,value\n1,2\n", r"d.csv:1: column 'value' appears 2 times in the header",
           lambda f: read_series(f, ["value"]))


# -- JSON Lines ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("bad", ["[" * 200_000, '{"a": ' * 200_000, "1" * 5000])
def test_deeply_nested_or_huge_json_is_a_value_error_naming_the_line(tmp_path, bad):
    f = _write(tmp_path / "d.jsonl", '{"text": "a", "label": 1}\n' + bad + "\n")
    with pytest.raises(ValueError, match=r"d.jsonl:2: not valid JSON"):
        read_labelled(f)


@pytest.mark.parametrize("label,kind", [({"a": 1}, "an object"), ([1], "an array"), ([], "an array")])
def test_object_and_array_labels_are_errors_naming_line_and_key(tmp_path, label, kind):
    f = _write(tmp_path / "d.jsonl", json.dumps({"text": "a", "y": 1}) + "\n" + json.dumps({"text": "b", "y": label}))
    with pytest.raises(ValueError, match=rf"d.jsonl:2: key 'y' \(the label\) must be a string, a number or "
                                         rf"true/false, got {kind}"):
        read_labelled(f, label_column="y")


def test_string_number_and_bool_labels_are_their_text(tmp_path):
    lines = [{"text": "a", "label": " pos "}, {"text": "b", "label": 1}, {"text": "c", "label": 2.5},
             {"text": "d", "label": True}, {"text": "e", "label": -3}]
    d = read_labelled(_write(tmp_path / "d.jsonl", "\n".join(json.dumps(x) for x in lines)))
    assert d.labels == ["pos", "1", "2.5", "True", "-3"]
    for bad in ("NaN", "Infinity", "1e400"):
        f = _write(tmp_path / "n.jsonl", '{"text": "a", "label": %s}\n' % bad)
        with pytest.raises(ValueError, match=r"n.jsonl:1: key 'label' \(the label\) must be a finite number"):
            read_labelled(f)
    with pytest.raises(ValueError, match=r"e.jsonl:1: empty label in key 'label'"):
        read_labelled(_write(tmp_path / "e.jsonl", '{"text": "a", "label": null}\n'))


def test_a_text_that_is_not_a_string_names_its_json_type(tmp_path):
    _fails(tmp_path / "t.jsonl", '{"text": ["a"], "label": 1}\n', r"t.jsonl:1: 'text' must be a string, got an array")
    _fails(tmp_path / "t.jsonl", '["a", 1]\n', r"t.jsonl:1: expected a JSON object, got an array")
