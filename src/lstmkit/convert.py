"""LSTM weights between TensorFlow 1.x cells, Keras and PyTorch: pure functions over arrays, one layer and
direction at a time.

The layouts (``I`` input size, ``H`` units, ``P`` projection size):

- TF1 ``BasicLSTMCell``/``LSTMCell``: ``kernel (I + P, 4H)``, rows ``[x_t, h_{t-1}]``, gate columns i, j, f, o;
  ``bias (4H,)``; a constant ``forget_bias`` (default 1.0) added to f outside the weights; ``LSTMCell`` may add
  peepholes ``w_f_diag``/``w_i_diag``/``w_o_diag (H,)``, ``projection_kernel (H, P)``, ``cell_clip``,
  ``proj_clip``.
- Keras ``LSTM``: ``kernel (I, 4H)``, ``recurrent_kernel (H, 4H)``, ``bias (4H,)``, gate columns i, f, c, o;
  no forget_bias constant (``unit_forget_bias`` only initialises the bias), no peepholes, no projection.
- PyTorch ``nn.LSTM``: ``weight_ih (4H, I)``, ``weight_hh (4H, P)``, ``bias_ih``, ``bias_hh (4H,)``, gate rows
  i, f, g, o; ``weight_hr (P, H)`` with ``proj_size``; no peepholes, no clipping.

``forget_bias`` is folded into the target's bias when the target has no such constant, and a converted
TF1 cell gets ``forget_bias = 0.0``. A feature the target cannot hold is a ``ValueError``, never a silent drop.

What Keras outputs at masked steps (``Embedding(mask_zero=True)`` or a ``Masking`` layer): a plain ``LSTM`` with
``return_sequences=True`` repeats the last valid output at every masked step, while ``Bidirectional`` gives
zeros there; the final states are the states at each sequence's last valid step in both. lstmkit's
``dynamic_rnn`` gives zeros past each length; :func:`keras_masked_sequences` turns them into Keras's repeats.
"""
from __future__ import annotations

import numpy as np

from .nn.fused import TF_TO_TORCH_GATES as _TORCH

# Keras's i, f, c, o sit where PyTorch's i, f, g, o do: TF block k <-> block _KERAS[k], a self-inverse swap
_KERAS = _TORCH


def _blocks(a: np.ndarray, order, axis: int) -> np.ndarray:
    """Reorder the four gate blocks of ``a`` along ``axis``: output block k = input block ``order[k]``."""
    parts = np.split(np.asarray(a), 4, axis=axis)
    return np.concatenate([parts[k] for k in order], axis=axis)


def _check(name: str, a, shape: tuple) -> np.ndarray:
    a = np.asarray(a)
    if a.shape != shape:
        raise ValueError(f"{name} must be {shape}, got {a.shape}")
    return a


def _no_extras(target: str, **extras) -> None:
    held = [k for k, v in extras.items() if v is not None and v is not False]
    if held:
        raise ValueError(f"{target} cannot hold {', '.join(held)}: it has no such feature "
                         f"(only a TF1 LSTMCell / lstmkit LSTMCell can run it)")


def keras_to_tf(kernel, recurrent_kernel, bias=None) -> dict:
    """Keras ``LSTM`` weights -> TF1 cell weights ``{"kernel", "bias", "forget_bias": 0.0}``."""
    kernel, recurrent_kernel = np.asarray(kernel), np.asarray(recurrent_kernel)
    H = recurrent_kernel.shape[0]
    I = kernel.shape[0]
    _check("keras kernel", kernel, (I, 4 * H))
    _check("keras recurrent_kernel", recurrent_kernel, (H, 4 * H))
    bias = np.zeros(4 * H, kernel.dtype) if bias is None else _check("keras bias", bias, (4 * H,))
    # Keras i, f, c, o -> TF i, j(=c), f, o: TF block k = Keras block _KERAS[k]
    return {"kernel": _blocks(np.concatenate([kernel, recurrent_kernel]), _KERAS, axis=1),
            "bias": _blocks(bias, _KERAS, axis=0), "forget_bias": 0.0}


def tf_to_keras(kernel, bias, input_size: int, forget_bias: float = 1.0, *, w_f_diag=None, w_i_diag=None,
                w_o_diag=None, projection_kernel=None, cell_clip=None, proj_clip=None) -> dict:
    """TF1 cell weights -> Keras ``LSTM`` ``{"kernel", "recurrent_kernel", "bias"}`` (forget_bias folded in)."""
    _no_extras("Keras LSTM", peepholes=w_f_diag is not None or w_i_diag is not None or w_o_diag is not None,
               projection=projection_kernel, cell_clip=cell_clip, proj_clip=proj_clip)
    kernel = np.asarray(kernel)
    H = kernel.shape[1] // 4
    _check("TF kernel", kernel, (input_size + H, 4 * H))
    bias = _check("TF bias", bias, (4 * H,)).copy()
    bias[2 * H:3 * H] += forget_bias
    k = _blocks(kernel, _KERAS, axis=1)          # the permutation is its own inverse
    return {"kernel": k[:input_size], "recurrent_kernel": k[input_size:], "bias": _blocks(bias, _KERAS, axis=0)}


def torch_to_tf(weight_ih, weight_hh, bias_ih=None, bias_hh=None, weight_hr=None) -> dict:
    """PyTorch ``nn.LSTM`` weights (one layer, one direction) -> TF1 cell weights (``forget_bias`` 0.0;
    ``projection_kernel`` when ``weight_hr`` is given)."""
    weight_ih, weight_hh = np.asarray(weight_ih), np.asarray(weight_hh)
    H4, I = weight_ih.shape
    H, P = H4 // 4, weight_hh.shape[1]
    _check("weight_hh", weight_hh, (4 * H, P))
    bias = np.zeros(4 * H, weight_ih.dtype)
    for name, b in (("bias_ih", bias_ih), ("bias_hh", bias_hh)):
        if b is not None:
            bias = bias + _check(name, b, (4 * H,))
    out = {"kernel": _blocks(np.concatenate([weight_ih, weight_hh], axis=1).T, _TORCH, axis=1),
           "bias": _blocks(bias, _TORCH, axis=0), "forget_bias": 0.0}
    if weight_hr is not None:
        out["projection_kernel"] = _check("weight_hr", weight_hr, (P, H)).T.copy()
    elif P != H:
        raise ValueError(f"weight_hh is (4H, {P}) with H={H}: a projected LSTM needs weight_hr")
    return out


def tf_to_torch(kernel, bias, input_size: int, forget_bias: float = 1.0, projection_kernel=None, *,
                w_f_diag=None, w_i_diag=None, w_o_diag=None, cell_clip=None, proj_clip=None) -> dict:
    """TF1 cell weights -> PyTorch ``{"weight_ih", "weight_hh", "bias_ih", "bias_hh"[, "weight_hr"]}``
    (forget_bias folded into ``bias_ih``, ``bias_hh`` zero)."""
    _no_extras("PyTorch nn.LSTM", peepholes=w_f_diag is not None or w_i_diag is not None or w_o_diag is not None,
               cell_clip=cell_clip, proj_clip=proj_clip)
    kernel = np.asarray(kernel)
    H = kernel.shape[1] // 4
    P = kernel.shape[0] - input_size
    _check("TF kernel", kernel, (input_size + P, 4 * H))
    bias = _check("TF bias", bias, (4 * H,)).copy()
    bias[2 * H:3 * H] += forget_bias
    w = _blocks(kernel, _TORCH, axis=1).T        # (4H, I + P), rows i, f, g, o
    out = {"weight_ih": w[:, :input_size].copy(), "weight_hh": w[:, input_size:].copy(),
           "bias_ih": _blocks(bias, _TORCH, axis=0), "bias_hh": np.zeros_like(bias)}
    if projection_kernel is not None:
        out["weight_hr"] = _check("projection_kernel", projection_kernel, (H, P)).T.copy()
    elif P != H:
        raise ValueError(f"the kernel has {P} recurrent rows but H={H}: a projected cell needs projection_kernel")
    return out


def load_into_cell(cell, weights: dict) -> None:
    """Copy TF1-layout ``weights`` (from the functions above) into an lstmkit cell; forget_bias too."""
    import torch

    with torch.no_grad():
        for name, value in weights.items():
            if name == "forget_bias":
                cell.forget_bias = float(value)
                continue
            param = getattr(cell, name, None)
            if not isinstance(param, torch.nn.Parameter):
                raise ValueError(f"{type(cell).__name__} has no parameter {name!r}")
            if tuple(param.shape) != np.shape(value):
                raise ValueError(f"{type(cell).__name__}.{name} is {tuple(param.shape)}, got {np.shape(value)}")
            param.copy_(torch.as_tensor(np.asarray(value), dtype=param.dtype))


def keras_masked_sequences(outputs, lengths):
    """lstmkit's outputs ``(B, T, H)`` (zero past each length) as a masked Keras ``LSTM`` returns them: the
    last valid output repeated at every masked step."""
    import torch

    T = outputs.shape[1]
    lengths = torch.as_tensor(lengths, device=outputs.device)
    t = torch.arange(T, device=outputs.device).unsqueeze(0)
    idx = torch.minimum(t, (lengths - 1).unsqueeze(1))                    # (B, T)
    return outputs.gather(1, idx.unsqueeze(2).expand_as(outputs))
