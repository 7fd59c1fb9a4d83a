"""Step 5 of the pipeline: ids -> vectors. Random init, or pretrained vectors read from a file.

Formats: word2vec text (with or without its "count dim" header), GloVe text (no header), word2vec binary
(header line, then per word: the word, a space, ``dim`` little-endian float32; "auto" knows it by a ``.bin``
name or by the bytes after the header). Only words in the vocabulary
are kept, so a large file costs time, not memory. Every problem names the file and the line.

Limits: a dimension of at most :data:`MAX_DIM`, and a binary file at least as long as its header says (``count``
entries of a word, a space and ``4 * dim`` bytes): a header that claims more is an error before anything is
allocated. A value that is not a finite number (``nan``, ``inf``, ``1e999``) is an error too.
"""
from __future__ import annotations

import codecs
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..packaged import install_command, package_dir
from .vocab import Vocab

FORMATS = ("auto", "word2vec", "glove", "word2vec-binary")

# The largest vector dimension read. Published vectors have 25 to 1,000 (word2vec 300, GloVe 50-300, fastText
# 300); the model's embedding matrix is (V, E) float32, so 10,000 already costs 40 kB per vocabulary entry.
MAX_DIM = 10_000

_COUNT = re.compile(r"[0-9]{1,18}")   # ASCII digits only: str.isdigit() also takes "²" and "３"


@dataclass
class Pretrained:
    """A ``(V, E)`` matrix for a vocabulary, and how much of the vocabulary the file covered."""

    matrix: np.ndarray
    found: int
    total: int
    dim: int
    path: str
    file_std: float = 0.0     # the standard deviation of the file's vectors for this vocabulary
    factor: float = 1.0       # what they were multiplied by (``std``)
    rows: np.ndarray | None = None   # (V,) bool: the rows the file gave

    @property
    def coverage(self) -> float:
        return self.found / self.total if self.total else 0.0

    def summary(self) -> str:
        scaled = f", std {self.file_std:.2f}" + (f" scaled to {self.file_std * self.factor:.2f}"
                                                 if self.factor != 1.0 else "")
        return (f"{self.path}: {self.found:,} of {self.total:,} vocabulary entries found "
                f"({100 * self.coverage:.1f}%), dim {self.dim}{scaled}")


def _is_header(parts: list) -> bool:
    """Whether a first line split on spaces is word2vec's ``count dim`` header (str or bytes parts)."""
    if len(parts) != 2:
        return False
    parts = [p.decode("latin-1") if isinstance(p, bytes) else p for p in parts]
    return all(_COUNT.fullmatch(p) for p in parts)


def _check_dim(path, line: int, what: str, dim: int) -> int:
    if not 1 <= dim <= MAX_DIM:
        raise ValueError(f"{path}:{line}: {what} dimension {dim:,}; lstmkit reads dimensions 1 to {MAX_DIM:,} "
                         f"(MAX_DIM)")
    return dim


def _read_text(path: Path, wanted: dict, fmt: str):
    vectors, dim = {}, None
    with open(path, "rb") as f:
        for n, raw in enumerate(f, 1):
            try:
                line = raw.decode("utf-8").rstrip("\r\n")
            except UnicodeDecodeError as exc:
                raise ValueError(f"{path}:{n}: not UTF-8 ({exc.reason}); a binary word2vec file? "
                                 f"use format 'word2vec-binary'") from None
            parts = line.rstrip().split(" ")
            if n == 1 and _is_header(parts):
                if fmt == "glove":
                    raise ValueError(f"{path}:1: GloVe files have no header, got {line!r}; use format 'word2vec'")
                dim = _check_dim(path, 1, "the header says", int(parts[1]))
                continue
            if not line.strip():
                continue
            if len(parts) < 2:
                raise ValueError(f"{path}:{n}: expected 'word v1 v2 ...', got {line[:60]!r}")
            if dim is None:
                dim = _check_dim(path, n, "the first vector has", len(parts) - 1)
            if len(parts) - 1 != dim:
                raise ValueError(f"{path}:{n}: expected {dim} values after the word, got {len(parts) - 1}")
            if parts[0] in wanted:
                try:
                    with np.errstate(over="ignore"):          # 1e39 -> inf, reported just below
                        vec = np.asarray(parts[1:], dtype=np.float32)
                except ValueError:
                    raise ValueError(f"{path}:{n}: a value is not a number in {line[:60]!r}") from None
                if not np.isfinite(vec).all():
                    raise ValueError(f"{path}:{n}: a value is not a finite float32 (nan, inf or over 3.4e38) "
                                     f"in {line[:60]!r}")
                vectors[parts[0]] = vec
    return vectors, dim


def _looks_binary(path: Path) -> bool:
    """A 'count dim' header followed by bytes that are not UTF-8 text (or hold NULs): word2vec's binary format,
    whatever the file is called."""
    with open(path, "rb") as f:
        first, rest = f.readline(256), f.read(4096)   # a header is short: never read a huge first line whole
    if not rest or not _is_header(first.split()):
        return False
    if b"\x00" in rest:
        return True
    try:
        codecs.getincrementaldecoder("utf-8")().decode(rest, final=False)  # a cut last character is fine
    except UnicodeDecodeError:
        return True
    return False


def _read_binary(path: Path, wanted: dict):
    vectors = {}
    with open(path, "rb") as f:
        first = f.readline(256)
        header = first.split()
        if not first.endswith(b"\n") or not _is_header(header):
            raise ValueError(f"{path}:1: a binary word2vec file starts with a 'count dim' line, got "
                             f"{first[:60]!r}")
        count, dim = int(header[0]), _check_dim(path, 1, "the header says", int(header[1]))
        left = os.fstat(f.fileno()).st_size - len(first)
        if count * (1 + 4 * dim) > left:   # each entry: a word (maybe empty), a space, dim float32
            raise ValueError(f"{path}:1: the header says {count:,} vectors of dimension {dim:,}, at least "
                             f"{count * (1 + 4 * dim):,} bytes, but {left:,} bytes follow it")
        for k in range(count):
            word = bytearray()
            while True:
                ch = f.read(1)
                if not ch:
                    raise ValueError(f"{path}: entry {k + 1}: file ends early (header says {count} words)")
                if ch == b" ":
                    break
                if ch != b"\n":
                    word += ch
            data = f.read(4 * dim)
            if len(data) != 4 * dim:
                raise ValueError(f"{path}: entry {k + 1}: expected {dim} float32 values, file ends early")
            try:
                w = word.decode("utf-8")
            except UnicodeDecodeError:
                raise ValueError(f"{path}: entry {k + 1}: the word is not UTF-8") from None
            if w in wanted:
                vec = np.frombuffer(data, dtype="<f4").astype(np.float32)
                if not np.isfinite(vec).all():
                    raise ValueError(f"{path}: entry {k + 1} ({w[:30]!r}): a value is nan or inf")
                vectors[w] = vec
    return vectors, dim


# Vectors that ship inside PyPI packages: name -> (package, file inside it, what they are).
BUILTIN = {"zhwiki": ("synonyms", "data/words.vector",
                      "word2vec on Chinese Wikipedia, 125,796 jieba words x 100, from the synonyms package 3.10.2 "
                      f"(MIT; {install_command('synonyms')})")}


def resolve_vectors(name_or_path) -> Path:
    """A built-in vectors name (``zhwiki``) -> its file inside the installed package; anything else is a path.
    A missing package is a one-line ValueError naming the command that installs it."""
    if str(name_or_path) in BUILTIN:
        package, file, _ = BUILTIN[str(name_or_path)]
        return package_dir(package, f"embeddings {str(name_or_path)!r}") / file
    return Path(name_or_path)


class _Every:
    """A ``wanted`` set that holds every word: the readers then keep the whole file."""

    def __contains__(self, word) -> bool:
        return True


def read_vectors(path, fmt: str = "auto") -> tuple[list[str], np.ndarray]:
    """Every ``(word, vector)`` of a vectors file (or a built-in name, :data:`BUILTIN`), in the file's order:
    ``(words, (N, E) float32)``; a word given twice keeps its last vector (and its first place). The file is
    held whole, so this is for lexicons (:mod:`lstmkit.text.lexicon`), not for picking a vocabulary's rows."""
    path = resolve_vectors(path)
    if fmt not in FORMATS:
        raise ValueError(f"read_vectors: format must be one of {FORMATS}, got {fmt!r}")
    if not path.is_file():
        raise FileNotFoundError(f"vectors file not found: {path}")
    if fmt == "auto":
        fmt = "word2vec-binary" if path.suffix == ".bin" or _looks_binary(path) else "word2vec"
    vectors, dim = _read_binary(path, _Every()) if fmt == "word2vec-binary" else _read_text(path, _Every(), fmt)
    if dim is None or not vectors:
        raise ValueError(f"{path}: no vectors in the file")
    return list(vectors), np.stack(list(vectors.values()))


def load_pretrained(path, vocab: Vocab, fmt: str = "auto", dim: int | None = None, seed: int = 0,
                    std: float | None = None, keys: list[str] | None = None) -> Pretrained:
    """Read vectors for ``vocab``'s tokens from ``path`` (a file, or a built-in name: :data:`BUILTIN`); rows the
    file lacks get random vectors of the same scale, ``<pad>`` a zero row. ``dim``, when given, must match the
    file's. ``std``: rescale the file's vectors so that their standard deviation is ``std`` (directions and
    cosine similarities unchanged); large vectors (``zhwiki``'s have std 2.7) saturate an LSTM's gates, and a
    model trained from them learns slowly. ``keys``: the string each row is looked up by, when it is not the
    vocabulary's token (character bigrams ``"酒 店"`` looked up as the word ``"酒店"``)."""
    return load_pretrained_tables(path, [(vocab, keys)], fmt, dim, seed, std)[0]


def load_pretrained_tables(path, tables: list, fmt: str = "auto", dim: int | None = None, seed: int = 0,
                           std: float | None = None) -> list[Pretrained]:
    """:func:`load_pretrained` for several ``(vocab, keys or None)`` tables, the file read once; each table is
    scaled and filled as if read alone."""
    path = resolve_vectors(path)
    if fmt not in FORMATS:
        raise ValueError(f"load_pretrained: format must be one of {FORMATS}, got {fmt!r}")
    if std is not None and not std > 0:
        raise ValueError(f"load_pretrained: std must be positive, got {std!r}")
    if not path.is_file():
        raise FileNotFoundError(f"embeddings file not found: {path}")
    special = {"<pad>", "<unk>", "<bos>", "<eos>"}
    all_rows = []          # per table: lookup string -> the rows it fills
    for vocab, keys in tables:
        keys = vocab.itos if keys is None else keys
        if len(keys) != len(vocab):
            raise ValueError(f"load_pretrained: {len(keys)} keys for a vocabulary of {len(vocab)}")
        rows: dict[str, list[int]] = {}
        for i, (token, key) in enumerate(zip(vocab.itos, keys)):
            if token not in special:
                rows.setdefault(key, []).append(i)
        all_rows.append(rows)
    if fmt == "auto":
        fmt = "word2vec-binary" if path.suffix == ".bin" or _looks_binary(path) else "word2vec"
    wanted = {key: True for rows in all_rows for key in rows}
    vectors, file_dim = _read_binary(path, wanted) if fmt == "word2vec-binary" else _read_text(path, wanted, fmt)
    if file_dim is None:
        raise ValueError(f"{path}: no vectors in the file")
    if dim is not None and dim != file_dim:
        raise ValueError(f"{path}: vectors have dimension {file_dim}, but the model's embedding size is {dim}")
    out = []
    for (vocab, _), rows in zip(tables, all_rows):
        mine = {key: vec for key, vec in vectors.items() if key in rows}
        rng = np.random.default_rng(seed)
        found = np.stack(list(mine.values())) if mine else np.zeros((1, file_dim), np.float32)
        scale = float(found.std()) or 0.1
        factor = std / scale if std is not None and mine else 1.0
        matrix = rng.normal(0.0, scale * factor, (len(vocab), file_dim)).astype(np.float32)
        given = np.zeros(len(vocab), dtype=bool)
        for key, vec in mine.items():
            for i in rows[key]:
                matrix[i] = vec * factor
                given[i] = True
        matrix[vocab.pad_id] = 0.0
        real = len(vocab) - sum(1 for t in special if t in vocab)
        out.append(Pretrained(matrix, int(given.sum()), real, file_dim, str(path), scale, factor, given))
    return out
