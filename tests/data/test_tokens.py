"""Text larger than memory: a text file read line by line, its ids encoded once into the token cache and read by
position; a language model trained from it equals one trained from the same text in memory."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from lstmkit.data.tokens import ArrayStream, FileStream, ReversedStream, TextFile, cached_stream
from lstmkit.tasks.lm import IGNORE, StreamBatches


def _encode_lines(seen: list):
    def encode(lines):
        for line in lines:
            seen.append(line)
            yield np.asarray([ord(c) for c in line] + [0], dtype=np.int64)
    return encode


def test_a_text_file_streams_its_lines_and_the_cache_encodes_it_once(tmp_path):
    path = tmp_path / "t.txt"
    path.write_bytes("\ufeff春眠\r\n\n  不觉晓 \n".encode())
    assert list(TextFile(path).texts) == ["春眠", "不觉晓"] and len(TextFile(path)) == 2
    seen = []
    stream, texts = cached_stream(path, {"r": 1}, _encode_lines(seen))
    expected = [ord(c) for c in "春眠"] + [0] + [ord(c) for c in "不觉晓"] + [0]
    assert (len(stream), texts, stream.take(0, 100).tolist()) == (7, 2, expected)
    assert stream.take(2, 3).tolist() == expected[2:5] and stream.array().tolist() == expected
    again, _ = cached_stream(path, {"r": 1}, _encode_lines(seen))     # from the cache: not encoded again
    assert len(seen) == 2 and again.take(0, 7).tolist() == expected
    cached_stream(path, {"r": 2}, _encode_lines(seen))                 # another recipe: other ids
    assert len(seen) == 4
    assert ReversedStream(again).take(0, 3).tolist() == expected[::-1][:3]
    assert ReversedStream(again).take(5, 9).tolist() == expected[::-1][5:]


def test_errors_name_the_file(tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"ok\n\xff\n")
    with pytest.raises(ValueError, match=r"bad.txt:2: not UTF-8"):
        list(TextFile(bad))
    with pytest.raises(FileNotFoundError, match="file not found"):
        TextFile(tmp_path / "none.txt")
    ids = tmp_path / "x.ids"
    ids.write_bytes(b"\0" * 10)
    with pytest.raises(ValueError, match=r"x.ids: 10 bytes, but its index says 3 ids"):
        FileStream(ids, 3)


@pytest.mark.parametrize("offset", [0, 7, 22])
def test_batches_read_from_disk_equal_batches_from_memory(tmp_path, offset):
    ids = np.arange(2, 25)
    (tmp_path / "s.ids").write_bytes(ids.astype("<i4").tobytes())
    disk = list(StreamBatches(FileStream(tmp_path / "s.ids", len(ids)), rows=4, bptt=4, offset=offset))
    memory = list(StreamBatches(ids, rows=4, bptt=4, offset=offset))
    rolled = np.roll(ids, -offset)
    assert len(disk) == len(memory) == 2
    for a, b in zip(disk, memory):
        assert a["ids"].tolist() == b["ids"].tolist() and a["targets"].tolist() == b["targets"].tolist()
    # the rolled stream, its rows of 6 steps: row 1 reads pairs 6..11
    assert memory[0]["ids"][1].tolist() == rolled[6:10].tolist()
    assert memory[0]["targets"][3].tolist() == rolled[19:23].tolist()          # row 3: pairs 18..21, then padding
    assert memory[1]["targets"][3].tolist() == [IGNORE, IGNORE]
    assert StreamBatches(ArrayStream(ids), rows=4, bptt=4).x.tolist() == StreamBatches(ids, rows=4, bptt=4).x.tolist()


def _train_lm(tmp_path, out: str, stream_bytes: str, *more) -> subprocess.CompletedProcess:
    text = tmp_path / "poem.txt"
    if not text.exists():
        text.write_text("".join(f"春眠不觉晓{k}\n处处闻啼鸟\n" for k in range(10)), encoding="utf-8")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "LSTMKIT_STREAM_BYTES": stream_bytes,
           "LSTMKIT_CACHE": str(tmp_path / "cache")}
    return subprocess.run([sys.executable, "-m", "lstmkit", "train", "lm", "--train", str(text), "--dev", str(text),
                           "--epochs", "2", "--units", "6", "--embedding-dim", "4", "--bptt", "4", "--batch-size", "3",
                           "--quiet", "--out", str(tmp_path / out), *more], capture_output=True, text=True, env=env,
                          stdin=subprocess.DEVNULL, timeout=120)


def test_a_language_model_trained_from_disk_equals_one_trained_in_memory(tmp_path):
    for reverse in ([], ["--reverse"]):
        name = "bw" if reverse else "fw"
        memory = _train_lm(tmp_path, f"{name}_memory", "1000000000", *reverse)
        disk = _train_lm(tmp_path, f"{name}_disk", "1", *reverse)                 # every file streamed
        assert memory.returncode == 0 and disk.returncode == 0, disk.stderr
        assert (tmp_path / f"{name}_disk" / "model.safetensors").read_bytes() == (
            tmp_path / f"{name}_memory" / "model.safetensors").read_bytes()
    indexes = sorted((tmp_path / "cache" / "tokens").glob("*.json"))
    assert len(indexes) == 1                      # one stream, read forwards and backwards
    assert json.loads(indexes[0].read_text())["texts"] == 20
    refused = _train_lm(tmp_path, "no_dev", "1", "--limit", "5")
    assert refused.returncode == 2 and "give --dev FILE" in refused.stderr and "and no --limit" in refused.stderr
