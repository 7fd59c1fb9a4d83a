"""Reading labelled text: TSV/CSV with a header, JSON Lines, or a folder with one sub-folder per label.

Everything is UTF-8; an undecodable byte, a missing column or an empty label is an error that names the file
and the line. Blank lines are skipped and counted.

Lines end at ``"\n"`` only (a ``"\r"`` before it is dropped): :func:`text_lines`. ``str.splitlines`` also cuts at
U+2028, U+2029, U+0085, ``\x0b``, ``\x0c`` and ``\x1c``-``\x1e``, which are characters inside a line here
(a JSON string may hold a raw U+2028), so no reader uses it.

Tables: a ``.csv`` file is CSV (comma, RFC 4180 quoting: a quoted field may hold commas, newlines and doubled
``""``; a quote left open or text after a closing quote is an error). Any other table (``.tsv``, ``.txt``, ...)
is TSV as IANA's ``text/tab-separated-values`` defines it: fields split at each tab, no quoting, so a ``"`` is
a character like any other (a TSV written with CSV quoting, e.g. by pandas' ``to_csv(sep="\t")``, must be
written with ``quoting=csv.QUOTE_NONE`` or saved as ``.csv``). A field longer than :data:`MAX_FIELD_CHARS` is
an error naming ``file:line``.
"""
from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

# The longest field (a text, a label, a number) a TSV/CSV file may hold, in characters: 1 Mi, about 400
# pages of prose. Python's csv module stops at 128 Ki by default; longer texts belong in JSON Lines.
MAX_FIELD_CHARS = 1_048_576


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
    return decode_utf8(path.read_bytes(), path)


def decode_utf8(raw: bytes, name) -> str:
    """``raw`` bytes (a file's, standard input's) as text, a leading BOM dropped; a byte that is not UTF-8 is a
    ValueError naming ``name:line``. Example: ``text_lines(decode_utf8(sys.stdin.buffer.read(), "<stdin>"))``
    reads standard input as :func:`read_lines` reads a file (``sys.stdin`` itself turns such bytes into lone
    surrogates, ``"\\udce9"``, under the usual ``surrogateescape`` error handler)."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ValueError(f"{name}:{line}: not UTF-8 (byte 0x{raw[exc.start]:02x}: {exc.reason}); "
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


def _check_max_field(max_field) -> int:
    if isinstance(max_field, bool) or not isinstance(max_field, int) or max_field < 1:
        raise ValueError(f"max_field must be a positive int (characters), got {max_field!r}")
    return max_field


def _too_long(path, line: int, k: int, length: int, max_field: int) -> ValueError:
    return ValueError(f"{path}:{line}: field {k + 1} is {length:,} characters long, over the limit of "
                      f"{max_field:,} characters for a table's field; put such texts in a JSON Lines file (.jsonl)")


def tsv_records(text: str, path, max_field: int = MAX_FIELD_CHARS):
    """``(line number, fields)`` for each line of TSV ``text``: split at every tab, no quoting (a ``"`` is a
    character). ``path`` only names the file in errors; a field over ``max_field`` characters is one."""
    _check_max_field(max_field)
    for n, line in enumerate(text_lines(text), 1):
        fields = line.split("\t")
        if len(line) > max_field:
            for k, f in enumerate(fields):
                if len(f) > max_field:
                    raise _too_long(path, n, k, len(f), max_field)
        yield n, fields


def csv_records(text: str, path, delimiter: str = ",", max_field: int = MAX_FIELD_CHARS):
    """``(line number, fields)`` for each record of CSV ``text`` (RFC 4180 quoting; the line number is the
    record's first line). Malformed quoting (a quote left open at the end of the file, text after a closing
    quote) and a field over ``max_field`` characters are errors naming ``path:line``.

    Python's csv module has one process-wide field size limit (128 Ki by default); it is raised to
    ``max_field`` when lower, never lowered."""
    _check_max_field(max_field)
    if csv.field_size_limit() < max_field:
        csv.field_size_limit(min(max_field, 2**31 - 1))      # a C long on every platform
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    while True:
        start = reader.line_num + 1
        try:
            record = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            why = str(exc)
            if "field limit" in why:
                raise ValueError(f"{path}:{start}: a field is over the limit of {max_field:,} characters for a "
                                 f"table's field (or a quote opened there is never closed); put such texts in a "
                                 f"JSON Lines file (.jsonl)") from None
            if "unexpected end of data" in why:
                why = "a quoted field opened in this record is never closed (a lone '\"')"
            raise ValueError(f"{path}:{start}: not valid CSV: {why}; a '\"' in a field is written '\"\"' "
                             f"inside a quoted field") from None
        for k, f in enumerate(record):
            if len(f) > max_field:
                raise _too_long(path, start, k, len(f), max_field)
        yield start, record


def read_table(path, text_column: str = "text", label_column: str | None = "label",
               delimiter: str | None = None, max_field: int = MAX_FIELD_CHARS) -> TextDataset:
    """TSV (tab, no quoting: any suffix but ``.csv``) or CSV (``.csv``: comma, RFC 4180 quoting) with a header
    row naming the columns. ``delimiter``: ``"\t"`` reads TSV, anything else CSV with that delimiter; None
    (default) chooses by the suffix. ``max_field``: the longest field allowed, in characters."""
    path = Path(path)
    text = read_utf8(path)
    if delimiter is None:
        delimiter = "," if path.suffix.lower() == ".csv" else "\t"
    records = (tsv_records(text, path, max_field) if delimiter == "\t"
               else csv_records(text, path, delimiter, max_field))
    _, header = next(records, (1, None))
    if not header or all(not h.strip() for h in header):
        raise ValueError(f"{path}:1: {'empty file' if not text else 'blank first line'}; expected a header row "
                         f"with columns {text_column!r}{f' and {label_column!r}' if label_column else ''}")
    header = [h.strip() for h in header]
    cols = {}
    for name in (text_column, label_column):
        if name is None:
            continue
        if name not in header:
            raise ValueError(f"{path}:1: no column {name!r} in the header; columns are {header[:20]} "
                             f"(choose with --text-column/--label-column)")
        if header.count(name) > 1:
            raise ValueError(f"{path}:1: column {name!r} appears {header.count(name)} times in the header")
        cols[name] = header.index(name)
    texts, labels, blank = [], [] if label_column else None, 0
    for n, row in records:
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


_JSON_TYPES = {dict: "an object", list: "an array", str: "a string", bool: "true/false", int: "a number",
               float: "a number", type(None): "null"}


def _label_text(value, path, n: int, key: str) -> str:
    """A JSON label as a class name: a string (stripped), a number as its text (``1`` -> ``"1"``, ``1.5`` ->
    ``"1.5"``), true/false as ``"True"``/``"False"``; an object, an array or a number that is not finite is an
    error, and so is an empty label."""
    if isinstance(value, str):
        label = value.strip()
    elif isinstance(value, (bool, int)):
        label = str(value)
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{path}:{n}: key {key!r} (the label) must be a finite number, got {value!r}")
        label = str(value)
    elif value is None:
        label = ""
    else:
        raise ValueError(f"{path}:{n}: key {key!r} (the label) must be a string, a number or true/false, got "
                         f"{_JSON_TYPES.get(type(value), type(value).__name__)}")
    if not label:
        raise ValueError(f"{path}:{n}: empty label in key {key!r}")
    return label


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
            raise ValueError(f"{path}:{n}: not valid JSON ({exc.msg}, column {exc.colno})") from None
        except RecursionError:
            raise ValueError(f"{path}:{n}: not valid JSON (arrays or objects nested too deeply)") from None
        except ValueError as exc:          # e.g. an integer of more than 4300 digits
            raise ValueError(f"{path}:{n}: not valid JSON ({exc})") from None
        if not isinstance(obj, dict):
            raise ValueError(f"{path}:{n}: expected a JSON object, got {_JSON_TYPES.get(type(obj), 'another')}")
        for key in (text_column, label_column):
            if key is not None and key not in obj:
                keys = sorted(obj)
                raise ValueError(f"{path}:{n}: no key {key!r}; keys are {keys[:20]}"
                                 + (f" and {len(keys) - 20} more" if len(keys) > 20 else ""))
        if not isinstance(obj[text_column], str):
            raise ValueError(f"{path}:{n}: {text_column!r} must be a string, got "
                             f"{_JSON_TYPES.get(type(obj[text_column]), 'another value')}")
        texts.append(obj[text_column])
        if label_column:
            labels.append(_label_text(obj[label_column], path, n, label_column))
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
