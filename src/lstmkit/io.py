"""Files written whole or not at all (a temp file in the same folder, then an atomic rename), and a file's SHA-256."""
from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path


def atomic_write_bytes(path, data: bytes) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; a written file gets the usual mode
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_text(path, text: str) -> None:
    """``text`` as UTF-8, written whole or not at all. A lone surrogate (``"\\ud800"``: not Unicode text, it has
    no UTF-8 form) is a ValueError naming the file and where it is; nothing is written."""
    if not isinstance(text, str):
        raise TypeError(f"{path}: expected text (str) to write, got {type(text).__name__}")
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(f"{path}: cannot write character {exc.start:,} ({text[exc.start]!r}): a lone surrogate "
                         f"is not Unicode text and has no UTF-8 form") from None
    atomic_write_bytes(path, data)


def file_sha256(path) -> str:
    """The SHA-256 of a file's bytes (hex), read a MiB at a time."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
