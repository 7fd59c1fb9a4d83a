"""PyTorch ``nn.LSTM`` state dicts -> lstmkit: read safely (safetensors, or ``torch.load(weights_only=True)``;
never a pickle that can run code), then :func:`build_lstm` returns an ``LSTM`` with those weights in
TensorFlow's layout (through :func:`lstmkit.convert.torch_to_tf`).

Keys, for layer ``k``: ``weight_ih_l{k}``, ``weight_hh_l{k}``, ``bias_ih_l{k}``, ``bias_hh_l{k}``,
``weight_hr_l{k}`` (``proj_size``), each with ``_reverse`` for the backward direction; a ``prefix``
(``"lstm."``) selects one LSTM inside a larger model's state dict.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import torch

from ..convert import load_into_cell, torch_to_tf


def read_state_dict(path) -> dict[str, np.ndarray]:
    """A ``.safetensors`` file, or a ``.pt``/``.pth``/``.bin`` file loaded with ``weights_only=True``."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"file not found: {path}")
    if path.suffix == ".safetensors":
        from safetensors.numpy import load_file

        return dict(load_file(str(path)))
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises UnpicklingError, RuntimeError, ... for files it refuses
        raise ValueError(f"{path}: not a weights-only PyTorch file ({type(exc).__name__}: "
                         f"{str(exc).splitlines()[0][:200]})") from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError(f"{path}: expected a state dict {{name: tensor}}, got {type(state).__name__}")
    return {k: v.detach().cpu().numpy() for k, v in state.items()}


_KEY = re.compile(r"^(?P<name>weight_ih|weight_hh|bias_ih|bias_hh|weight_hr)_l(?P<layer>\d+)(?P<rev>_reverse)?$")


def build_lstm(state: dict, prefix: str = ""):
    """An lstmkit ``LSTM`` (``cell="lstm"`` with ``num_proj`` when the state has ``weight_hr``) holding the
    ``nn.LSTM`` weights found under ``prefix``; its cells get ``forget_bias = 0.0`` (the bias carries it)."""
    from ..nn import LSTM

    found: dict = {}
    for key, value in state.items():
        if not key.startswith(prefix):
            continue
        m = _KEY.match(key[len(prefix):])
        if m:
            found.setdefault((int(m["layer"]), 1 if m["rev"] else 0), {})[m["name"]] = np.asarray(value)
    if not found:
        raise ValueError(f"no nn.LSTM weights (weight_ih_l0, ...) under prefix {prefix!r}")
    layers, D = 1 + max(k for k, _ in found), 1 + max(d for _, d in found)
    cells = {}
    for key in [(k, d) for k in range(layers) for d in range(D)]:
        if key not in found or "weight_ih" not in found[key] or "weight_hh" not in found[key]:
            raise ValueError(f"{prefix}: weights of layer {key[0]} {'reverse' if key[1] else 'forward'} are missing")
        w = found[key]
        cells[key] = torch_to_tf(w["weight_ih"], w["weight_hh"], w.get("bias_ih"), w.get("bias_hh"), w.get("weight_hr"))
    first = cells[(0, 0)]
    H = first["bias"].shape[0] // 4
    P = first["projection_kernel"].shape[1] if "projection_kernel" in first else None
    I = first["kernel"].shape[0] - (P or H)
    dtype = torch.from_numpy(np.zeros(0, first["kernel"].dtype)).dtype     # the file's precision
    lstm = LSTM(I, H, num_layers=layers, bidirectional=D == 2, cell="lstm" if P else "basic", forget_bias=0.0,
                dtype=dtype, **({"num_proj": P} if P else {}))
    for (k, d), w in cells.items():
        load_into_cell(lstm.cell(k, d), w)
    return lstm
