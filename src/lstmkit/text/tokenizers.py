"""Step 2 of the pipeline: raw text -> tokens. Chinese needs word segmentation; English splits on words.

Tokenizers are chosen by name and described by a small JSON-able config, which a run folder stores so that
prediction tokenizes exactly as training did: ``make_tokenizer("jieba")``, ``make_tokenizer(tok.config())``.

- ``jieba``: word segmentation with the jieba package (a user dictionary may add words); the default for Chinese.
- ``char``: one token per character, whitespace dropped; runs of Latin letters or digits stay one token
  ("LSTM", "2024") unless ``split_latin=True``.
- ``whitespace``: split on whitespace.
- ``regex``: Unicode-aware words for English: letters (with inner apostrophes), numbers, single punctuation
  marks; CJK characters one each; ``lowercase`` optional.
- ``run`` (registered by :mod:`lstmkit.tasks.segmenter`): the words of a trained lstmkit segmenter
  (``lstmkit train tag --corpus pd98-seg`` or any ``--kind words`` run); written ``run:RUN`` on the command line.

``tokenizer.batch(texts)`` tokenizes many texts at once (the ``run`` tokenizer runs its model on whole batches).
"""
from __future__ import annotations

import atexit
import logging
import re
import threading
from pathlib import Path

from ..progress import progress

# CJK ideographs, kana, hangul and full-width punctuation: one token per character in `char` and `regex`.
_CJK = (r"\u3000-\u303f\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\uff00-\uffef"
        r"\U00020000-\U0002fa1f")
_CHAR_TOKEN = re.compile(rf"[{_CJK}]|[^\W_{_CJK}]+|\S", re.UNICODE)
_WORD_TOKEN = re.compile(rf"[{_CJK}]|[^\W\d_{_CJK}]+(?:['’][^\W\d_{_CJK}]+)*|\d+(?:[.,]\d+)*|[^\w\s]|_", re.UNICODE)


class Tokenizer:
    """Base class: ``tokenizer(text) -> list[str]``; ``config()`` rebuilds it through :func:`make_tokenizer`."""

    name = "base"

    def __call__(self, text: str) -> list[str]:
        if not isinstance(text, str):
            raise TypeError(f"{type(self).__name__}: text must be str, got {type(text).__name__}")
        return self.tokenize(text)

    def tokenize(self, text: str) -> list[str]:
        raise NotImplementedError

    def batch(self, texts) -> list[list[str]]:
        """Many texts at once; the same tokens as calling the tokenizer on each (a progress bar for many)."""
        return [self(t) for t in progress(texts, f"tokenizing ({self.name})", unit="text")]

    def config(self) -> dict:
        return {"name": self.name}

    def __repr__(self) -> str:
        opts = ", ".join(f"{k}={v!r}" for k, v in self.config().items() if k != "name")
        return f"{type(self).__name__}({opts})"


class CharTokenizer(Tokenizer):
    name = "char"

    def __init__(self, split_latin: bool = False):
        self.split_latin = bool(split_latin)

    def tokenize(self, text):
        if self.split_latin:
            return [ch for ch in text if not ch.isspace()]
        return _CHAR_TOKEN.findall(text)

    def config(self):
        return {"name": self.name, "split_latin": self.split_latin}


class _CasedTokenizer(Tokenizer):
    """A tokenizer with an optional lowercasing step."""

    default_lowercase = False

    def __init__(self, lowercase: bool | None = None):
        self.lowercase = self.default_lowercase if lowercase is None else bool(lowercase)

    def tokenize(self, text):
        return self.split(text.lower() if self.lowercase else text)

    def config(self):
        return {"name": self.name, "lowercase": self.lowercase}


class WhitespaceTokenizer(_CasedTokenizer):
    name = "whitespace"

    def split(self, text):
        return text.split()


class RegexTokenizer(_CasedTokenizer):
    name = "regex"
    default_lowercase = True

    def split(self, text):
        return _WORD_TOKEN.findall(text)


_JIEBA: dict = {}
_JIEBA_LOCK = threading.Lock()


def private_cache_dir(name: str) -> str:
    """A cache folder only this user can write: ``$XDG_CACHE_HOME/lstmkit/NAME`` (``~/.cache/...``), made with
    mode 0700; where that is not possible or not safe (another owner, writable by others), the same under the
    temporary folder, ``lstmkit-UID/NAME``, kept for the next process; where that is not safe either, a fresh
    private temporary folder, removed when the process exits. jieba loads its dictionary cache with ``marshal``,
    so the folder must be trusted."""
    import os
    import tempfile

    home = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "lstmkit"
    uid = os.getuid() if hasattr(os, "getuid") else None
    for base in (home, Path(tempfile.gettempdir()) / f"lstmkit-{uid}"):
        folder = _private_folder(base, name)
        if folder is not None:
            return folder
    fresh = tempfile.mkdtemp(prefix=f"lstmkit-{name}-")
    if not _FRESH:
        atexit.register(remove_fresh_cache_dirs)
    _FRESH.append(fresh)
    return fresh


_FRESH: list[str] = []


def remove_fresh_cache_dirs() -> None:
    """Remove the fresh folders :func:`private_cache_dir` made (at the process's exit)."""
    import shutil

    while _FRESH:
        shutil.rmtree(_FRESH.pop(), ignore_errors=True)


def _private_folder(base: Path, name: str) -> str | None:
    """``base/name``, made 0700 where missing, if this user owns it and ``base`` and no one else can write either;
    else None."""
    import os
    import stat

    folder = base / name
    try:
        base.mkdir(mode=0o700, parents=True, exist_ok=True)
        folder.mkdir(mode=0o700, exist_ok=True)
        for path in (base, folder):
            st = path.lstat()
            if (not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid()
                    or st.st_mode & (stat.S_IWGRP | stat.S_IWOTH)):
                return None
    except (OSError, AttributeError):      # no home, a read-only one, or no getuid (Windows)
        return None
    return str(folder)


def jieba_instance(user_dict: str | None):
    """One initialised jieba segmenter per user dictionary per process: the dictionary load is paid once."""
    with _JIEBA_LOCK:
        if user_dict not in _JIEBA:
            import jieba

            jieba.setLogLevel(logging.WARNING)
            seg = jieba.Tokenizer()
            seg.tmp_dir = private_cache_dir("jieba")   # jieba unmarshals its cache: never from a shared /tmp
            seg.initialize()
            if user_dict is not None:
                _check_user_dict(user_dict)
                seg.load_userdict(user_dict)
            _JIEBA[user_dict] = seg
        return _JIEBA[user_dict]


def _check_user_dict(path: str) -> None:
    """jieba's own errors on a bad dictionary are cryptic: check the file first (UTF-8, 'word [freq] [tag]')."""
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"jieba user dictionary not found: {path}")
    raw = p.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ValueError(f"{path}:{line}: jieba user dictionary is not UTF-8 ({exc.reason})") from None
    for n, line in enumerate(text.split("\n"), 1):     # lines as jieba reads them (at b"\n" only), "\r" is space
        parts = line.split()
        if len(parts) >= 2 and not parts[1].isdigit():
            raise ValueError(f"{path}:{n}: expected 'word [frequency] [tag]', got {line!r}")


class JiebaTokenizer(Tokenizer):
    """Chinese word segmentation with jieba. ``user_dict``: a UTF-8 file of 'word [freq] [tag]' lines."""

    name = "jieba"

    def __init__(self, user_dict: str | None = None, hmm: bool = True):
        self.user_dict = None if user_dict is None else str(user_dict)
        self.hmm = bool(hmm)
        if self.user_dict is not None:
            _check_user_dict(self.user_dict)

    def tokenize(self, text):
        seg = jieba_instance(self.user_dict)
        return [t for t in seg.lcut(text, HMM=self.hmm) if not t.isspace()]

    def config(self):
        return {"name": self.name, "user_dict": self.user_dict, "hmm": self.hmm}


TOKENIZERS = {cls.name: cls for cls in (JiebaTokenizer, CharTokenizer, WhitespaceTokenizer, RegexTokenizer)}


def register_tokenizer(cls: type) -> type:
    """Make ``make_tokenizer({"name": cls.name, ...})`` build ``cls`` (a :class:`Tokenizer` subclass). Tokenizers
    that need a higher layer register from there (a segmentation run: :mod:`lstmkit.tasks.segmenter`)."""
    if not (isinstance(cls, type) and issubclass(cls, Tokenizer)):
        raise TypeError(f"register_tokenizer: expected a Tokenizer subclass, got {cls!r}")
    TOKENIZERS[cls.name] = cls
    return cls


def make_tokenizer(spec) -> Tokenizer:
    """A tokenizer from a name (``"jieba"``, ``"char"``, ``"whitespace"``, ``"regex"``) or a ``config()`` dict."""
    if isinstance(spec, Tokenizer):
        return spec
    if isinstance(spec, str):
        spec = {"name": "run", "path": spec[4:]} if spec.startswith("run:") else {"name": spec}
    if not isinstance(spec, dict) or "name" not in spec:
        raise TypeError(f"make_tokenizer: expected a tokenizer name or a config dict with 'name', got {spec!r}")
    options = {k: v for k, v in spec.items() if k != "name"}
    name = spec["name"]
    if name not in TOKENIZERS:
        raise ValueError(f"unknown tokenizer {name!r}: expected one of {', '.join(sorted(TOKENIZERS))}")
    try:
        return TOKENIZERS[name](**options)
    except TypeError as exc:
        raise ValueError(f"tokenizer {name!r}: bad options {options}: {exc}") from None
