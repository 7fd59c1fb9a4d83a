"""Reading labelled text: TSV/CSV with a header, JSON Lines, or a folder with one sub-folder per label.

Everything is UTF-8; an undecodable byte, a missing column or an empty label is an error that names the file
and the line. Blank lines are skipped and counted.

Lines end at ``"\n"`` only (a ``"\r"`` before it is dropped): :func:`text_lines`. ``str.splitlines`` also cuts at
U+2028, U+2029, U+0085, ``\x0b``, ``\x0c`` and ``\x1c``-``\x1e``, which are characters inside a line here
(a JSON string may hold a raw U+2028), so no reader uses it.
"""
from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class TextDataset:
    """Texts and their labels (labels may be None for unlabelled text), and where they came from."""

    texts: list[str]
    labels: list[str] | None
    source: str = ""
    skipped_blank: int = 0
    notes: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.texts)

    def hash_keys(self) -> list[str]:
        """What a hash-chosen hold-out looks at for each example: its text."""
        return list(self.texts)

    def head(self, n: int) -> "TextDataset":
        """The first ``n`` examples (all of them when there are fewer): ``--limit N``."""
        return self.subset(range(min(n, len(self))))

    def subset(self, indices) -> "TextDataset":
        """The examples at ``indices``, in that order, from the same source."""
        return TextDataset([self.texts[k] for k in indices],
                           None if self.labels is None else [self.labels[k] for k in indices], self.source)


def read_utf8(path) -> str:
    """A whole file as text; a byte that is not UTF-8 is an error naming ``file:line``."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"file not found: {path}")
    if path.is_dir():
        raise IsADirectoryError(f"expected a file, got a folder: {path}")
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ValueError(f"{path}:{line}: not UTF-8 (byte 0x{raw[exc.start]:02x}: {exc.reason}); "
                         f"convert the file to UTF-8") from None


def text_lines(text: str) -> list[str]:
    """``text`` cut into lines at ``"\n"`` only, each without the ``"\r"`` that ends it (CRLF files); a final
    newline ends the last line, it does not start an empty one. Line ``k`` of the result is line ``k + 1`` of
    the file as editors and ``grep -n`` count them. Unlike ``str.splitlines``, U+2028, U+0085, ``\x1c`` and the
    like stay inside their line. Example: ``"a\u2028b\r\nc\n"`` -> ``["a\u2028b", "c"]``."""
    lines = text.replace("\r\n", "\n").split("\n")
    if lines[-1] == "":
        lines.pop()
    elif lines[-1].endswith("\r"):
        lines[-1] = lines[-1][:-1]
    return lines


def read_table(path, text_column: str = "text", label_column: str | None = "label",
               delimiter: str | None = None) -> TextDataset:
    """TSV (``.tsv``/``.txt``: tab) or CSV (``.csv``: comma) with a header row naming the columns."""
    path = Path(path)
    text = read_utf8(path)
    if delimiter is None:
        delimiter = "," if path.suffix.lower() == ".csv" else "\t"
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header = next(reader, None)
    if not header:
        raise ValueError(f"{path}:1: empty file; expected a header row with columns "
                         f"{text_column!r}{f' and {label_column!r}' if label_column else ''}")
    header = [h.strip() for h in header]
    cols = {}
    for name in (text_column, label_column):
        if name is None:
            continue
        if name not in header:
            raise ValueError(f"{path}:1: no column {name!r} in the header; columns are {header} "
                             f"(choose with --text-column/--label-column)")
        cols[name] = header.index(name)
    texts, labels, blank = [], [] if label_column else None, 0
    for row in reader:
        n = reader.line_num
        if not row or all(not c.strip() for c in row):
            blank += 1
            continue
        if len(row) != len(header):
            raise ValueError(f"{path}:{n}: expected {len(header)} fields (as the header), got {len(row)}")
        texts.append(row[cols[text_column]])
        if label_column:
            label = row[cols[label_column]].strip()
            if not label:
                raise ValueError(f"{path}:{n}: empty label in column {label_column!r}")
            labels.append(label)
    return TextDataset(texts, labels, str(path), blank)


def read_jsonl(path, text_column: str = "text", label_column: str | None = "label") -> TextDataset:
    """One JSON object per line with the text and label keys."""
    path = Path(path)
    texts, labels, blank = [], [] if label_column else None, 0
    for n, line in enumerate(text_lines(read_utf8(path)), 1):
        if not line.strip():
            blank += 1
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}:{n}: not valid JSON ({exc.msg})") from None
        if not isinstance(obj, dict):
            raise ValueError(f"{path}:{n}: expected a JSON object, got {type(obj).__name__}")
        for key in (text_column, label_column):
            if key is not None and key not in obj:
                raise ValueError(f"{path}:{n}: no key {key!r}; keys are {sorted(obj)}")
        if not isinstance(obj[text_column], str):
            raise ValueError(f"{path}:{n}: {text_column!r} must be a string, got {type(obj[text_column]).__name__}")
        texts.append(obj[text_column])
        if label_column:
            label = str(obj[label_column]).strip() if obj[label_column] is not None else ""
            if not label:
                raise ValueError(f"{path}:{n}: empty label in key {label_column!r}")
            labels.append(label)
    return TextDataset(texts, labels, str(path), blank)


def read_folder(path) -> TextDataset:
    """A folder with one sub-folder per label; every file inside is one text."""
    path = Path(path)
    subdirs = sorted(p for p in path.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not subdirs:
        raise ValueError(f"{path}: expected one sub-folder per label, found none")
    texts, labels, blank = [], [], 0
    for sub in subdirs:
        for f in sorted(p for p in sub.rglob("*") if p.is_file() and not p.name.startswith(".")):
            text = read_utf8(f).strip()
            if not text:
                blank += 1
                continue
            texts.append(text)
            labels.append(sub.name)
    return TextDataset(texts, labels, str(path), blank)


def read_lines(path) -> TextDataset:
    """Unlabelled text, one per line (for prediction); blank lines are skipped and counted."""
    texts, blank = [], 0
    for line in text_lines(read_utf8(path)):
        if line.strip():
            texts.append(line.strip())
        else:
            blank += 1
    return TextDataset(texts, None, str(path), blank)


def read_labelled(path, text_column: str = "text", label_column: str = "label") -> TextDataset:
    """Pick the reader by what ``path`` is: a folder, ``.jsonl``/``.json``, or a table (``.tsv``/``.csv``/...)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"file not found: {path}")
    if path.is_dir():
        data = read_folder(path)
    elif path.suffix.lower() in (".jsonl", ".json"):
        data = read_jsonl(path, text_column, label_column)
    else:
        data = read_table(path, text_column, label_column)
    if not data.texts:
        raise ValueError(f"{path}: no examples (blank lines skipped: {data.skipped_blank})")
    return data
