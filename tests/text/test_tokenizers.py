import pytest

from lstmkit.text import make_tokenizer
from lstmkit.text import tokenizers as tk

MIXED = "接触LSTM模型不久，还没有动手实现过。2024年 GPU很快"


def test_jieba_segments_words_and_keeps_latin_and_digits_whole():
    toks = make_tokenizer("jieba")(MIXED)
    assert toks[:3] == ["接触", "LSTM", "模型"]
    assert "2024" in toks and "GPU" in toks and "实现" in toks
    assert not any(t.isspace() for t in toks)


def test_jieba_loads_its_dictionary_once_per_process():
    make_tokenizer("jieba")("热身")
    before = dict(tk._JIEBA)
    make_tokenizer("jieba")("再来一次")
    assert tk._JIEBA.keys() == before.keys() and tk._JIEBA[None] is before[None]


def test_jieba_user_dictionary_adds_words(tmp_path):
    path = tmp_path / "dict.txt"
    path.write_text("动手实现 100 v\n长短期记忆网络\n", encoding="utf-8")
    plain = make_tokenizer("jieba")("动手实现长短期记忆网络")
    custom = make_tokenizer({"name": "jieba", "user_dict": str(path)})("动手实现长短期记忆网络")
    assert custom == ["动手实现", "长短期记忆网络"] and plain != custom


def test_jieba_user_dictionary_errors_name_file_and_line(tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_text("好词 100\n坏词 lots\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad.txt:2: expected 'word \[frequency\] \[tag\]'"):
        make_tokenizer({"name": "jieba", "user_dict": str(bad)})
    gbk = tmp_path / "gbk.txt"
    gbk.write_bytes("好词\n".encode("utf-8") + "坏词\n".encode("gbk"))
    with pytest.raises(ValueError, match=r"gbk.txt:2: jieba user dictionary is not UTF-8"):
        make_tokenizer({"name": "jieba", "user_dict": str(gbk)})
    with pytest.raises(FileNotFoundError, match="not found"):
        make_tokenizer({"name": "jieba", "user_dict": str(tmp_path / "none.txt")})


def test_char_tokenizer():
    tok = make_tokenizer("char")
    assert tok("我爱 LSTM 2024年！") == ["我", "爱", "LSTM", "2024", "年", "！"]
    assert make_tokenizer({"name": "char", "split_latin": True})("ab 我") == ["a", "b", "我"]
    assert tok("   ") == []


def test_whitespace_and_regex_tokenizers():
    assert make_tokenizer("whitespace")("Hello  world\tLSTM") == ["Hello", "world", "LSTM"]
    assert make_tokenizer({"name": "whitespace", "lowercase": True})("Hello LSTM") == ["hello", "lstm"]
    regex = make_tokenizer("regex")
    assert regex("It's 3.14, isn't it? Café naïve LSTM模型") == [
        "it's", "3.14", ",", "isn't", "it", "?", "café", "naïve", "lstm", "模", "型"]
    assert make_tokenizer({"name": "regex", "lowercase": False})("LSTM rocks") == ["LSTM", "rocks"]


@pytest.mark.parametrize("name", ["jieba", "char", "whitespace", "regex"])
def test_config_rebuilds_the_same_tokenizer(name):
    tok = make_tokenizer(name)
    again = make_tokenizer(tok.config())
    assert type(again) is type(tok) and again.config() == tok.config()
    assert again(MIXED) == tok(MIXED)


def test_tokenizer_errors():
    import lstmkit.tasks  # noqa: F401  (registers the "run" tokenizer, a segmentation run)

    with pytest.raises(ValueError, match="unknown tokenizer 'bpe': expected one of char, jieba, regex, run, whitespace"):
        make_tokenizer("bpe")
    with pytest.raises(ValueError, match="bad options"):
        make_tokenizer({"name": "char", "lowercase": True})
    with pytest.raises(TypeError, match="text must be str"):
        make_tokenizer("char")(None)
