import pytest

from lstmkit.data import read_labelled, read_lines


def test_tsv_with_header_counts_blank_lines(tmp_path):
    f = tmp_path / "train.tsv"
    f.write_text("label\ttext\n1\t很好\n\n0\t太差了\n", encoding="utf-8")
    d = read_labelled(f)
    assert d.texts == ["很好", "太差了"] and d.labels == ["1", "0"] and d.skipped_blank == 1


def test_csv_quotes_and_custom_columns(tmp_path):
    f = tmp_path / "train.csv"
    f.write_text('id,review,stars\n1,"good, really",5\n2,"bad ""very""",1\n', encoding="utf-8")
    d = read_labelled(f, text_column="review", label_column="stars")
    assert d.texts == ["good, really", 'bad "very"'] and d.labels == ["5", "1"]


def test_jsonl_and_folder(tmp_path):
    f = tmp_path / "d.jsonl"
    f.write_text('{"text": "好", "label": 1}\n\n{"text": "坏", "label": 0}\n', encoding="utf-8")
    d = read_labelled(f)
    assert d.labels == ["1", "0"] and d.skipped_blank == 1
    for label, texts in (("neg", ["差"]), ("pos", ["好", "棒"])):
        (tmp_path / "folder" / label).mkdir(parents=True)
        for k, t in enumerate(texts):
            (tmp_path / "folder" / label / f"{k}.txt").write_text(t, encoding="utf-8")
    d = read_labelled(tmp_path / "folder")
    assert sorted(zip(d.labels, d.texts)) == [("neg", "差"), ("pos", "好"), ("pos", "棒")]


@pytest.mark.parametrize("content,match", [
    ("label\ttext\n1\tok\n\tno label\n", r"train.tsv:3: empty label in column 'label'"),
    ("lab\ttext\n1\tok\n", r"train.tsv:1: no column 'label' in the header; columns are \['lab', 'text'\]"),
    ("label\ttext\n1\tok\textra\n", r"train.tsv:2: expected 2 fields"),
    ("", r"train.tsv:1: empty file"),
    ("label\ttext\n", r"train.tsv: no examples"),
])
def test_table_errors_name_file_and_line(tmp_path, content, match):
    f = tmp_path / "train.tsv"
    f.write_text(content, encoding="utf-8")
    with pytest.raises(ValueError, match=match):
        read_labelled(f)


def test_encoding_and_json_errors(tmp_path):
    f = tmp_path / "gbk.tsv"
    f.write_bytes("label\ttext\n1\t好\n".encode("utf-8") + "0\t坏\n".encode("gbk"))
    with pytest.raises(ValueError, match=r"gbk.tsv:3: not UTF-8"):
        read_labelled(f)
    j = tmp_path / "d.jsonl"
    j.write_text('{"text": "a", "label": 1}\n{"text": "b"\n', encoding="utf-8")
    with pytest.raises(ValueError, match=r"d.jsonl:2: not valid JSON"):
        read_labelled(j)
    j.write_text('{"text": "a", "lab": 1}\n', encoding="utf-8")
    with pytest.raises(ValueError, match=r"d.jsonl:1: no key 'label'"):
        read_labelled(j)
    with pytest.raises(FileNotFoundError, match="file not found"):
        read_labelled(tmp_path / "nope.tsv")


def test_read_lines(tmp_path):
    f = tmp_path / "in.txt"
    f.write_text("第一句\n\n  第二句  \n", encoding="utf-8")
    d = read_lines(f)
    assert d.texts == ["第一句", "第二句"] and d.skipped_blank == 1 and d.labels is None
