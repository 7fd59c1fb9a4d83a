"""TensorFlow 1.x checkpoints without TensorFlow: the tensor-bundle ``.index`` + ``.data-*`` files -> arrays.

A ``tf.compat.v1.train.Saver`` checkpoint ``model.ckpt`` is ``model.ckpt.index``, a LevelDB-format table
(sorted keys, prefix-compressed, blocks found through an index block and a 48-byte footer) mapping each
variable name to a ``BundleEntryProto`` (dtype, shape, shard, offset, size), and ``model.ckpt.data-0000k-of-0000n``
shards holding the raw little-endian tensor bytes. This module reads both with the standard library and NumPy.

:func:`build_lstm` then recognises the scopes ``dynamic_rnn`` (``rnn/basic_lstm_cell``, ``rnn/lstm_cell``),
``MultiRNNCell`` (``rnn/multi_rnn_cell/cell_{k}/...``) and ``bidirectional_dynamic_rnn``
(``bidirectional_rnn/fw/...``, ``.../bw/...``) create, and returns an lstmkit ``LSTM`` holding those weights.
"""
from __future__ import annotations

import re
import struct
from pathlib import Path

import numpy as np

_MAGIC = 0xDB4775248B80FB57
# tensorflow/core/framework/types.proto DataType -> NumPy
_DTYPES = {1: np.float32, 2: np.float64, 3: np.int32, 4: np.uint8, 5: np.int16, 6: np.int8, 9: np.int64,
           10: np.bool_, 14: np.uint16, 17: np.uint16, 19: np.float16, 22: np.uint32, 23: np.uint64}


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        b = buf[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        if b < 0x80:
            return value, pos
        shift += 7


def _fields(buf: bytes):
    """A protobuf message's (field number, value) pairs: ints for varints, bytes for length-delimited."""
    pos = 0
    while pos < len(buf):
        key, pos = _varint(buf, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(buf, pos)
        elif wire == 2:
            n, pos = _varint(buf, pos)
            value, pos = buf[pos: pos + n], pos + n
        elif wire == 5:
            value, pos = struct.unpack_from("<I", buf, pos)[0], pos + 4
        elif wire == 1:
            value, pos = struct.unpack_from("<Q", buf, pos)[0], pos + 8
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        yield number, value


def _block_entries(block: bytes):
    """A table block's (key, value) pairs; the block ends with restart offsets and their count."""
    restarts = struct.unpack_from("<I", block, len(block) - 4)[0]
    end = len(block) - 4 - 4 * restarts
    pos, key = 0, b""
    while pos < end:
        shared, pos = _varint(block, pos)
        unshared, pos = _varint(block, pos)
        size, pos = _varint(block, pos)
        key = key[:shared] + block[pos: pos + unshared]
        pos += unshared
        yield key, block[pos: pos + size]
        pos += size


def _read_block(data: bytes, handle: bytes, path) -> bytes:
    offset, pos = _varint(handle, 0)
    size, _ = _varint(handle, pos)
    block, compression = data[offset: offset + size], data[offset + size: offset + size + 1]
    if compression != b"\x00":
        raise ValueError(f"{path}: compressed table blocks (type {compression!r}) are not supported")
    return block


def read_index(path) -> dict:
    """``model.ckpt.index`` -> ``{name: {"dtype", "shape", "shard", "offset", "size"}}`` (the header skipped)."""
    path = Path(path)
    data = path.read_bytes()
    if len(data) < 48 or struct.unpack_from("<Q", data, len(data) - 8)[0] != _MAGIC:
        raise ValueError(f"{path}: not a TensorFlow checkpoint index (no table magic number at the end)")
    footer = data[-48:]
    _, pos = _varint(footer, 0)          # the metaindex handle (unused)
    _, pos = _varint(footer, pos)
    index = _read_block(data, footer[pos:], path)
    entries = {}
    for _, handle in _block_entries(index):
        for key, value in _block_entries(_read_block(data, handle, path)):
            if not key:                   # "" holds the BundleHeaderProto
                continue
            entry = {"dtype": 1, "shape": [], "shard": 0, "offset": 0, "size": 0}
            for number, v in _fields(value):
                if number == 1:
                    entry["dtype"] = v
                elif number == 2:
                    entry["shape"] = [dict(_fields(dim)).get(1, 0) for n, dim in _fields(v) if n == 2]
                elif number in (3, 4, 5):
                    entry[("shard", "offset", "size")[number - 3]] = v
            entries[key.decode("utf-8")] = entry
    return entries


def read_checkpoint(prefix) -> dict[str, np.ndarray]:
    """All variables of a TF1 checkpoint: ``prefix`` is ``.../model.ckpt`` (or its ``.index`` file, or the
    folder holding a ``checkpoint`` file). Names are as saved (``rnn/basic_lstm_cell/kernel``, no ``:0``)."""
    prefix = Path(prefix)
    if prefix.is_dir():
        state = prefix / "checkpoint"
        if not state.is_file():
            raise FileNotFoundError(f"{prefix}: a folder without a 'checkpoint' file; give the .index path")
        m = re.search(r'model_checkpoint_path:\s*"([^"]+)"', state.read_text(encoding="utf-8"))
        if not m:
            raise ValueError(f"{state}: no model_checkpoint_path line")
        prefix = prefix / m.group(1)
    if prefix.suffix == ".index":
        prefix = prefix.with_suffix("")
    index = Path(f"{prefix}.index")
    if not index.is_file():
        raise FileNotFoundError(f"checkpoint index not found: {index}")
    entries = read_index(index)
    shards = sorted(index.parent.glob(f"{prefix.name}.data-*-of-*"))
    if not shards and entries:
        raise FileNotFoundError(f"no data shard {prefix.name}.data-*-of-* beside {index}")
    blobs = {}
    out = {}
    for name, e in entries.items():
        if e["dtype"] not in _DTYPES:
            raise ValueError(f"{index}: variable {name!r} has dtype {e['dtype']}, which this reader does not know")
        shard = e["shard"]
        if shard not in blobs:
            if shard >= len(shards):
                raise FileNotFoundError(f"{index}: {name!r} lives in shard {shard}, but only {len(shards)} found")
            blobs[shard] = shards[shard].read_bytes()
        raw = blobs[shard][e["offset"]: e["offset"] + e["size"]]
        dtype = np.dtype(_DTYPES[e["dtype"]]).newbyteorder("<")
        count = int(np.prod(e["shape"])) if e["shape"] else 1
        if len(raw) != count * dtype.itemsize:
            raise ValueError(f"{index}: {name!r} should hold {count * dtype.itemsize} bytes, found {len(raw)}")
        out[name] = np.frombuffer(raw, dtype=dtype).reshape(e["shape"]).astype(dtype.newbyteorder("="))
    return out


_CELL = re.compile(r"^(?P<scope>.*?)(?:(?P<dir>fw|bw)/)?(?:multi_rnn_cell/cell_(?P<layer>\d+)/)?"
                   r"(?P<cell>basic_lstm_cell|lstm_cell)/(?P<var>kernel|bias|w_f_diag|w_i_diag|w_o_diag|"
                   r"projection/kernel)$")


def find_cells(variables: dict, scope: str | None = None) -> dict:
    """Group LSTM cell variables: ``{(layer, direction): {"cell": "basic_lstm_cell"|"lstm_cell", var: array}}``
    for the variables under ``scope`` (default: the only scope that holds cells)."""
    found: dict = {}
    scopes = set()
    for name, value in variables.items():
        m = _CELL.match(name)
        if not m:
            continue
        scopes.add(m["scope"])
        if scope is not None and m["scope"] != scope:
            continue
        key = (int(m["layer"] or 0), {"fw": 0, "bw": 1}.get(m["dir"], 0))
        cell = found.setdefault(key, {"cell": m["cell"]})
        cell[m["var"]] = value
    if scope is None and len(scopes) > 1:
        raise ValueError(f"the checkpoint holds LSTM cells under several scopes {sorted(scopes)}; pass scope=")
    if not found:
        raise ValueError("no LSTM cell variables (…/basic_lstm_cell/kernel or …/lstm_cell/kernel) found"
                         + (f" under scope {scope!r}" if scope else ""))
    return found


def build_lstm(variables: dict, scope: str | None = None, forget_bias: float = 1.0, **cell_options):
    """An lstmkit ``LSTM`` with the checkpoint's cell weights (layers and directions from the variable names).

    ``forget_bias`` and the clipping options are graph constants, not variables: give the values the model was
    built with (``BasicLSTMCell``/``LSTMCell`` default forget_bias 1.0).
    """
    import torch

    from ..nn import LSTM

    cells = find_cells(variables, scope)
    layers = 1 + max(k for k, _ in cells)
    directions = 1 + max(d for _, d in cells)
    missing = [(k, d) for k in range(layers) for d in range(directions) if (k, d) not in cells]
    if missing:
        raise ValueError(f"cells missing for (layer, direction) {missing}")
    first = cells[(0, 0)]
    kinds = {c["cell"] for c in cells.values()}
    if len(kinds) > 1:
        raise ValueError(f"mixed cell types {sorted(kinds)} in one stack")
    H = first["bias"].shape[0] // 4
    options = dict(cell_options)
    kind = "basic"
    if "lstm_cell" in kinds:
        kind = "lstm"
        if "w_f_diag" in first:
            options.setdefault("use_peepholes", True)
        if "projection/kernel" in first:
            options.setdefault("num_proj", first["projection/kernel"].shape[1])
    P = options.get("num_proj") or H
    I = first["kernel"].shape[0] - P
    lstm = LSTM(I, H, num_layers=layers, bidirectional=directions == 2, cell=kind, forget_bias=forget_bias,
                **options)
    names = {"kernel": "kernel", "bias": "bias", "w_f_diag": "w_f_diag", "w_i_diag": "w_i_diag",
             "w_o_diag": "w_o_diag", "projection/kernel": "projection_kernel"}
    with torch.no_grad():
        for (k, d), vars_ in cells.items():
            cell = lstm.cell(k, d)
            for var, value in vars_.items():
                if var == "cell":
                    continue
                param = getattr(cell, names[var])
                if tuple(param.shape) != value.shape:
                    raise ValueError(f"layer {k} direction {d} {var}: checkpoint shape {value.shape}, the cell "
                                     f"expects {tuple(param.shape)}")
                param.copy_(torch.from_numpy(np.ascontiguousarray(value)).to(param.dtype))
    return lstm
