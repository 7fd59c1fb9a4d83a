"""Token streams: a plain-text file read line by line (:class:`TextFile`), its token ids encoded once into an
array on disk (:func:`cached_stream`) and read by position (:class:`FileStream`), and the ``(B, T)`` segments a
language model trains on, read from memory or disk alike (:class:`StreamBatches`).

A language model's training text is one stream of ``N`` token ids. Held in a Python list it takes ~36 bytes a
token (a 1 GB file: tens of GB); in a NumPy array 8. On disk it takes 4 (``int32``), in a file named by what
made it: the SHA-256 of the text file and of what turned it into ids (tokenizer, vocabulary, direction), under
the cache folder (``LSTMKIT_CACHE``, else ``$XDG_CACHE_HOME/lstmkit`` or ``~/.cache/lstmkit``). Every process
that needs the same stream, every rank of a torchrun job and every resumed run, opens the same file: the first
one encodes it (others wait on its lock), the rest read it.

Training reads the ids a batch at a time with ``pread``, not through a memory map: pages a map has touched count
towards the process's resident memory until it is unmapped, so an epoch over a mapped 1 GB file ends with 1 GB
resident, while reads keep it to the batch (``benchmarks/bench_scale.py`` measures the peak). ``FileStream.array``
gives the memory map for whoever wants to look.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Callable, Iterable, Iterator

import numpy as np
import torch

from ..io import atomic_write_text, file_sha256

try:
    import fcntl
except ImportError:     # not on Windows: two processes there may both encode (each file still written whole)
    fcntl = None

FORMAT = 1
IGNORE = -100           # the target id of padding: no loss, not counted (PyTorch's cross_entropy default)


def cache_dir() -> Path:
    """Where encoded streams go: ``LSTMKIT_CACHE``, else ``$XDG_CACHE_HOME/lstmkit``, else ``~/.cache/lstmkit``."""
    if os.environ.get("LSTMKIT_CACHE"):
        return Path(os.environ["LSTMKIT_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "lstmkit"


class TextFile:
    """Plain UTF-8 text, one text per non-blank line (stripped), read from ``path`` each time it is iterated:
    never held in memory. ``texts`` iterates the lines (as :class:`lstmkit.data.TextDataset`'s list does);
    ``len()`` counts them (one pass, then remembered). A byte that is not UTF-8 is an error naming file:line."""

    def __init__(self, path):
        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(f"file not found: {self.path}")
        self.source, self.labels, self._count = str(self.path), None, None

    @property
    def texts(self) -> "TextFile":
        return self

    def __iter__(self) -> Iterator[str]:
        with open(self.path, "rb") as f:
            for number, raw in enumerate(f, 1):
                try:
                    line = raw.decode("utf-8-sig" if number == 1 else "utf-8").strip()
                except UnicodeDecodeError as exc:
                    raise ValueError(f"{self.path}:{number}: not UTF-8 (byte 0x{raw[exc.start]:02x}: {exc.reason}); "
                                     f"convert the file to UTF-8") from None
                if line:
                    yield line

    def __len__(self) -> int:
        if self._count is None:
            self._count = sum(1 for _ in self)
            if not self._count:
                raise ValueError(f"{self.path}: no text (only blank lines)")
        return self._count


class ArrayStream:
    """Token ids in memory, as a stream: ``len()`` and ``take(start, n) -> (n,) int64``."""

    def __init__(self, ids):
        self.ids = np.asarray(ids, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.ids)

    def take(self, start: int, n: int) -> np.ndarray:
        return self.ids[start: start + n]


class FileStream:
    """Token ids on disk (little-endian ``int32``), read by position: ``take(start, n) -> (n,) int64``."""

    def __init__(self, path, length: int):
        self.path, self.length = Path(path), int(length)
        size = self.path.stat().st_size
        if size != 4 * self.length:
            raise ValueError(f"{self.path}: {size:,} bytes, but its index says {self.length:,} ids ({4 * self.length:,}"
                             f" bytes); remove it to encode the text again")
        self._fd = os.open(self.path, os.O_RDONLY)

    def __len__(self) -> int:
        return self.length

    def take(self, start: int, n: int) -> np.ndarray:
        n = max(0, min(n, self.length - start))
        return np.frombuffer(os.pread(self._fd, 4 * n, 4 * start), dtype="<i4").astype(np.int64)

    def array(self) -> np.memmap:
        """The ids as a read-only memory map ``(N,) int32``."""
        return np.memmap(self.path, dtype="<i4", mode="r", shape=(self.length,))

    def __del__(self):
        fd = getattr(self, "_fd", None)
        if fd is not None:
            os.close(fd)


class ReversedStream:
    """``stream`` read from its end (a backward language model's)."""

    def __init__(self, stream):
        self.stream = stream

    def __len__(self) -> int:
        return len(self.stream)

    def take(self, start: int, n: int) -> np.ndarray:
        end = len(self.stream) - start
        return self.stream.take(max(0, end - n), min(n, end))[::-1].copy()


def cached_stream(path, recipe: dict, encode: Callable[[Iterable[str]], Iterator[np.ndarray]]) -> tuple:
    """``(FileStream, texts)``: the ids that ``encode(lines)`` (chunks of ids) makes of the text file ``path``,
    from the cache when it holds them for this file's bytes and this ``recipe`` (JSON: what makes the ids: the
    tokenizer, the vocabulary's hash, ...), else encoded now and kept there (written whole, then named: a crash
    leaves no half file behind, and a second process waits for the first)."""
    key = hashlib.sha256(json.dumps({"format": FORMAT, "text": file_sha256(path), "recipe": recipe},
                                    sort_keys=True).encode()).hexdigest()[:32]
    folder = cache_dir() / "tokens"
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    ids, index = folder / f"{key}.ids", folder / f"{key}.json"
    with open(folder / f"{key}.lock", "w") as lock:
        if fcntl is not None:
            fcntl.flock(lock, fcntl.LOCK_EX)        # one process encodes, the others wait and then read
        if not index.exists():
            _encode_into(ids, index, TextFile(path), encode, path)
        meta = json.loads(index.read_text(encoding="utf-8"))
    return FileStream(ids, meta["ids"]), meta["texts"]


def _encode_into(ids: Path, index: Path, lines: TextFile, encode, path) -> None:
    tmp = ids.with_suffix(f".tmp{os.getpid()}")
    total = 0
    texts = 0

    def counted():
        nonlocal texts
        for line in lines:
            texts += 1
            yield line

    try:
        with open(tmp, "wb") as f:
            for chunk in encode(counted()):
                chunk = np.asarray(chunk)
                if chunk.size and (chunk.min() < 0 or chunk.max() >= 2 ** 31):
                    raise ValueError(f"{path}: token ids must fit int32")
                f.write(chunk.astype("<i4").tobytes())
                total += chunk.size
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, ids)
    finally:
        tmp.unlink(missing_ok=True)
    atomic_write_text(index, json.dumps({"format": FORMAT, "ids": total, "texts": texts, "source": str(path)}))


class StreamBatches:
    """Consecutive ``(B, T)`` segments of a stream laid out in ``B`` contiguous rows (iterable, with ``len()``).

    The ``M = N - 1`` (input, next token) pairs are cut into rows of ``L = ceil(M / rows)`` steps (fewer rows
    when ``M`` is small, so that no row is empty); the last row is padded, its padded targets ``IGNORE``.
    Row ``b``'s segment ``s + 1`` continues exactly where its segment ``s`` stopped. ``offset`` rolls the
    stream first (a training epoch starts its rows elsewhere; the number of batches does not change).

    ``stream``: ids ``(N,)`` in memory, or any object with ``len()`` and ``take(start, n)`` (a
    :class:`lstmkit.data.tokens.FileStream` on disk): each segment reads just its ``B * (T + 1)`` ids.

    Each batch: ``ids (B, T)``, ``targets (B, T)``, ``index`` (the rows, what the trainer counts), ``reset``
    (True for the first segment: start from a zero state), ``n_tokens`` (targets that count).
    """

    def __init__(self, stream, rows: int, bptt: int, offset: int = 0, device=None):
        if isinstance(rows, bool) or not isinstance(rows, int) or rows < 1:
            raise ValueError(f"StreamBatches: rows must be a positive int, got {rows!r}")
        if isinstance(bptt, bool) or not isinstance(bptt, int) or bptt < 1:
            raise ValueError(f"StreamBatches: bptt must be a positive int, got {bptt!r}")
        array = isinstance(stream, (np.ndarray, list, tuple))
        self.stream = ArrayStream(stream) if array else stream
        N = len(self.stream)
        self.offset = offset % N if offset and N > 1 else 0
        self.M = M = max(0, N - 1)
        self.bptt, self.device = bptt, device
        self.length = -(-M // rows) if M else 0                            # L, steps per row
        self.rows = -(-M // self.length) if M else 0                       # B <= rows: none empty

    def __len__(self) -> int:
        return -(-self.length // self.bptt)

    def _window(self, start: int, n: int) -> np.ndarray:
        """``n`` ids of the rolled stream from position ``start`` (wrapping round the stream's end)."""
        N = len(self.stream)
        first = (self.offset + start) % N
        head = self.stream.take(first, min(n, N - first))
        return head if len(head) == n else np.concatenate([head, self.stream.take(0, n - len(head))])

    @property
    def x(self) -> np.ndarray:
        """Every row's inputs ``(B, L)``, read whole (for a look at a small stream; training reads segments)."""
        return self.segment(0, self.length)[0]

    @property
    def y(self) -> np.ndarray:
        """Every row's targets ``(B, L)``, read whole."""
        return self.segment(0, self.length)[1]

    def segment(self, t0: int, width: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Inputs and targets ``(B, T)`` of the segment of ``width`` steps (``bptt``) from step ``t0`` of every row."""
        width = min(self.bptt if width is None else width, self.length - t0)
        if isinstance(self.stream, ArrayStream):           # in memory: every row in one gather
            pairs = np.arange(self.rows)[:, None] * self.length + t0 + np.arange(width)   # (B, T) pair positions
            valid, ids, N = pairs < self.M, self.stream.ids, len(self.stream)
            return (np.where(valid, ids[(self.offset + pairs) % N], 0),
                    np.where(valid, ids[(self.offset + pairs + 1) % N], IGNORE))
        x = np.zeros((self.rows, width), dtype=np.int64)   # on disk: each row's ids in one read
        y = np.full((self.rows, width), IGNORE, dtype=np.int64)
        for b in range(self.rows):
            start = b * self.length + t0
            valid = max(0, min(width, self.M - start))                     # pairs of this row in the segment
            if valid:
                ids = self._window(start, valid + 1)
                x[b, :valid], y[b, :valid] = ids[:-1], ids[1:]
        return x, y

    def __iter__(self):
        for k, t0 in enumerate(range(0, self.length, self.bptt)):
            x, y = self.segment(t0)
            yield {"ids": torch.from_numpy(x).to(self.device), "targets": torch.from_numpy(y).to(self.device),
                   "index": np.arange(self.rows), "reset": k == 0, "n_tokens": int((y != IGNORE).sum())}
