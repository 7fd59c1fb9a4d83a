"""Keras 3 model files without Keras: ``.keras`` archives and ``.weights.h5`` files (read with h5py).

A ``.keras`` file is a zip of ``config.json`` (the architecture), ``metadata.json`` and ``model.weights.h5``;
the weights file stores each layer's variables under ``layers/<name>/vars/<k>`` (an ``LSTM``'s under
``layers/<name>/cell/vars/{0: kernel, 1: recurrent_kernel, 2: bias}``; a ``Bidirectional``'s under
``forward_layer/...`` and ``backward_layer/...``).

:func:`load_keras_model` rebuilds a ``Sequential`` stack of ``InputLayer``, ``Embedding`` (``mask_zero``
becomes lengths), ``LSTM`` / ``Bidirectional(LSTM)`` (on lstmkit's engine, through
:func:`lstmkit.convert.keras_to_tf`), ``Dropout`` (inference: nothing) and ``Dense`` as a PyTorch module that
gives Keras's outputs. Anything else is a clear error naming the layer.
"""
from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..convert import keras_masked_sequences, keras_to_tf, load_into_cell
from ..nn import LSTM, last_hidden
from ..nn.sequences import valid_mask

_ACTIVATIONS = {"linear": lambda x: x, None: lambda x: x, "softmax": lambda x: torch.softmax(x, -1),
                "relu": torch.relu, "sigmoid": torch.sigmoid, "tanh": torch.tanh}


def _h5py():
    try:
        import h5py
    except ImportError:
        raise ImportError("reading Keras weight files needs h5py: pip install h5py (or lstmkit[interop])") from None
    return h5py


def read_keras_weights(path) -> dict[str, np.ndarray]:
    """Every array of a ``.keras`` archive or a ``.weights.h5``/``.h5`` file, by its path in the HDF5 tree."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"file not found: {path}")
    h5py = _h5py()
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as z:
            if "model.weights.h5" not in z.namelist():
                raise ValueError(f"{path}: a zip without model.weights.h5: not a Keras 3 .keras file")
            source = io.BytesIO(z.read("model.weights.h5"))
    else:
        source = path
    out = {}
    try:
        with h5py.File(source, "r") as f:
            f.visititems(lambda name, obj: out.__setitem__(name, obj[()]) if isinstance(obj, h5py.Dataset) else None)
    except OSError as exc:
        raise ValueError(f"{path}: not an HDF5 weights file ({exc})") from None
    return out


def read_keras_config(path) -> dict:
    """The architecture (``config.json``) of a ``.keras`` archive."""
    path = Path(path)
    if not zipfile.is_zipfile(path):
        raise ValueError(f"{path}: not a .keras archive (a .weights.h5 file has weights only; the architecture "
                         f"is in the .keras file)")
    with zipfile.ZipFile(path) as z:
        return json.loads(z.read("config.json"))


def _lstm_weights(weights: dict, prefix: str, layer_name: str) -> dict:
    try:
        return keras_to_tf(*(weights[f"{prefix}/cell/vars/{k}"] for k in range(3)))
    except KeyError:
        raise ValueError(f"layer {layer_name!r}: no LSTM weights under {prefix}/cell/vars/0..2") from None


def _check_lstm(config: dict, name: str) -> None:
    c = config
    if c.get("activation", "tanh") != "tanh" or c.get("recurrent_activation", "sigmoid") != "sigmoid":
        raise ValueError(f"layer {name!r}: activation {c.get('activation')!r} / recurrent_activation "
                         f"{c.get('recurrent_activation')!r}; lstmkit's cells run tanh / sigmoid")
    if not c.get("use_bias", True):
        raise ValueError(f"layer {name!r}: use_bias=False is not supported")
    if c.get("go_backwards"):
        raise ValueError(f"layer {name!r}: go_backwards on a plain LSTM is not supported (use Bidirectional)")


class KerasSequential(nn.Module):
    """The rebuilt model: ``forward(ids (B, T) int) -> what Keras's model(ids) returns``."""

    def __init__(self, layers: list):
        super().__init__()
        self.kinds = [kind for kind, _, _ in layers]
        self.options = [opts for _, _, opts in layers]
        self.blocks = nn.ModuleList(module for _, module, _ in layers)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        x, lengths = ids, None
        for kind, module, opts in zip(self.kinds, self.blocks, self.options):
            if kind == "embedding":
                if opts["mask_zero"]:
                    mask = ids != 0
                    lengths = mask.sum(1)
                    if not torch.equal(mask, valid_mask(lengths, ids.shape[1])):
                        raise ValueError("masked ids must be post-padded (zeros only after the tokens)")
                x = module(ids)
            elif kind == "lstm":
                outputs, finals = module(x, lengths)
                if opts["return_sequences"]:
                    masked = lengths is not None and not module.bidirectional
                    x = keras_masked_sequences(outputs, lengths) if masked else outputs
                else:
                    x = last_hidden(finals)
            elif kind == "dense":
                x = _ACTIVATIONS[opts["activation"]](module(x))
        return x


def load_keras_model(path, weights_path=None) -> KerasSequential:
    """A ``.keras`` Sequential model (optionally with weights from another ``.weights.h5``) as a PyTorch
    module on lstmkit's engine, in float32 and eval mode."""
    config = read_keras_config(path)
    weights = read_keras_weights(weights_path or path)
    if config.get("class_name") != "Sequential":
        raise ValueError(f"{path}: only Sequential models are rebuilt, got {config.get('class_name')!r}")
    layers = []
    for layer in config["config"]["layers"]:
        kind, c = layer["class_name"], layer["config"]
        name = c["name"]
        if kind in ("InputLayer", "Dropout", "SpatialDropout1D"):
            continue
        if kind == "Embedding":
            emb = nn.Embedding(c["input_dim"], c["output_dim"])
            with torch.no_grad():
                emb.weight.copy_(torch.from_numpy(weights[f"layers/{name}/vars/0"]))
            layers.append(("embedding", emb, {"mask_zero": bool(c.get("mask_zero"))}))
        elif kind in ("LSTM", "Bidirectional"):
            inner = c["layer"]["config"] if kind == "Bidirectional" else c
            _check_lstm(inner, name)
            if kind == "Bidirectional" and c.get("merge_mode", "concat") != "concat":
                raise ValueError(f"layer {name!r}: merge_mode {c.get('merge_mode')!r}; only 'concat' is rebuilt")
            prefixes = ([f"layers/{name}/forward_layer", f"layers/{name}/backward_layer"] if kind == "Bidirectional"
                        else [f"layers/{name}"])
            tf = [_lstm_weights(weights, p, name) for p in prefixes]
            H = inner["units"]
            lstm = LSTM(tf[0]["kernel"].shape[0] - H, H, bidirectional=kind == "Bidirectional")
            for d, w in enumerate(tf):
                load_into_cell(lstm.cell(0, d), w)
            layers.append(("lstm", lstm, {"return_sequences": bool(inner.get("return_sequences"))}))
        elif kind == "Dense":
            if c.get("activation") not in _ACTIVATIONS:
                raise ValueError(f"layer {name!r}: activation {c.get('activation')!r} is not rebuilt")
            kernel = weights[f"layers/{name}/vars/0"]
            dense = nn.Linear(*kernel.shape, bias=c.get("use_bias", True))
            with torch.no_grad():
                dense.weight.copy_(torch.from_numpy(kernel.T))
                if dense.bias is not None:
                    dense.bias.copy_(torch.from_numpy(weights[f"layers/{name}/vars/1"]))
            layers.append(("dense", dense, {"activation": c.get("activation")}))
        else:
            raise ValueError(f"{path}: layer {name!r} is a {kind}, which load_keras_model does not rebuild "
                             f"(InputLayer, Embedding, LSTM, Bidirectional(LSTM), Dropout, Dense)")
    return KerasSequential(layers).eval()
