"""LSTM weights between TensorFlow 1.x cells, Keras, PyTorch, ONNX and cuDNN: pure functions over arrays, one
layer and direction at a time (cuDNN: a whole stack in one buffer).

The layouts (``I`` input size, ``H`` units, ``P`` projection size):

- TF1 ``BasicLSTMCell``/``LSTMCell``: ``kernel (I + P, 4H)``, rows ``[x_t, h_{t-1}]``, gate columns i, j, f, o;
  ``bias (4H,)``; a constant ``forget_bias`` (default 1.0) added to f outside the weights; ``LSTMCell`` may add
  peepholes ``w_f_diag``/``w_i_diag``/``w_o_diag (H,)``, ``projection_kernel (H, P)``, ``cell_clip``,
  ``proj_clip``.
- Keras ``LSTM``: ``kernel (I, 4H)``, ``recurrent_kernel (H, 4H)``, ``bias (4H,)``, gate columns i, f, c, o;
  no forget_bias constant (``unit_forget_bias`` only initialises the bias), no peepholes, no projection.
- PyTorch ``nn.LSTM``: ``weight_ih (4H, I)``, ``weight_hh (4H, P)``, ``bias_ih``, ``bias_hh (4H,)``, gate rows
  i, f, g, o; ``weight_hr (P, H)`` with ``proj_size``; no peepholes, no clipping.
- ONNX ``LSTM`` (one direction of its ``[D, ...]`` inputs): ``W (4H, I)``, ``R (4H, H)``, ``B (8H,)`` = Wb then
  Rb, gate blocks i, o, f, c; peepholes ``P (3H,)`` as i, o, f; no projection; its ``clip`` bounds the gates'
  pre-activations, which is not TF's ``cell_clip``.
- cuDNN's canonical layout: one flat buffer, for each layer and direction ``weight_ih``, ``weight_hh``,
  ``bias_ih``, ``bias_hh`` (PyTorch's shapes and gate order), the order ``torch.nn.LSTM`` packs for cuDNN.

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


# -- ONNX ``LSTM`` (W, R, B, P), one direction -------------------------------------------------------------------
# ONNX orders the gate blocks i, o, f, c; TF i, j(=c), f, o. ONNX block k = TF block _ONNX[k] (and back: _ONNX_INV).
_ONNX = (0, 3, 2, 1)
_ONNX_INV = tuple(int(np.argsort(_ONNX)[k]) for k in range(4))


def tf_to_onnx(kernel, bias, input_size: int, forget_bias: float = 1.0, *, w_f_diag=None, w_i_diag=None,
               w_o_diag=None, projection_kernel=None, cell_clip=None, proj_clip=None) -> dict:
    """TF1 cell weights -> one direction of an ONNX ``LSTM``: ``W (4H, I)``, ``R (4H, H)``, ``B (8H,)`` (Wb
    then Rb; forget_bias folded into Wb), ``P (3H,)`` (i, o, f) when the cell has peepholes.

    ONNX's ``clip`` bounds the gates' pre-activations, not the cell state, so ``cell_clip`` has no ONNX form.
    """
    _no_extras("ONNX LSTM", projection=projection_kernel, cell_clip=cell_clip, proj_clip=proj_clip)
    kernel = np.asarray(kernel)
    H = kernel.shape[1] // 4
    _check("TF kernel", kernel, (input_size + H, 4 * H))
    bias = _check("TF bias", bias, (4 * H,)).copy()
    bias[2 * H:3 * H] += forget_bias
    w = _blocks(kernel, _ONNX, axis=1).T                                     # (4H, I + H), rows i, o, f, c
    out = {"W": w[:, :input_size].copy(), "R": w[:, input_size:].copy(),
           "B": np.concatenate([_blocks(bias, _ONNX, axis=0), np.zeros_like(bias)])}
    peep = [w_i_diag, w_o_diag, w_f_diag]
    if any(p is not None for p in peep):
        if any(p is None for p in peep):
            raise ValueError("peepholes need all three of w_i_diag, w_o_diag and w_f_diag")
        out["P"] = np.concatenate([_check(n, p, (H,)) for n, p in zip(("w_i_diag", "w_o_diag", "w_f_diag"), peep)])
    return out


def onnx_to_tf(W, R, B=None, P=None) -> dict:
    """One direction of an ONNX ``LSTM`` -> TF1 cell weights (``forget_bias`` 0.0; peepholes when ``P``)."""
    W, R = np.asarray(W), np.asarray(R)
    H4, I = W.shape
    H = H4 // 4
    _check("R", R, (4 * H, H))
    bias = np.zeros(4 * H, W.dtype)
    if B is not None:
        B = _check("B", B, (8 * H,))
        bias = B[:4 * H] + B[4 * H:]
    out = {"kernel": _blocks(np.concatenate([W, R], axis=1).T, _ONNX_INV, axis=1),
           "bias": _blocks(bias, _ONNX_INV, axis=0), "forget_bias": 0.0}
    if P is not None:
        p = _check("P", P, (3 * H,))
        out.update(w_i_diag=p[:H].copy(), w_o_diag=p[H:2 * H].copy(), w_f_diag=p[2 * H:].copy())
    return out


# -- cuDNN's canonical layout: every layer and direction in one flat buffer ----------------------------------------
def tf_to_cudnn(cells: list, input_size: int, forget_bias: float = 1.0) -> np.ndarray:
    """TF1 weights of a stack, ``cells[layer][direction] = {"kernel", "bias"}``, -> cuDNN's canonical flat
    buffer (what ``torch.nn.LSTM`` packs for cuDNN): for each layer, each direction: ``weight_ih``,
    ``weight_hh``, ``bias_ih``, ``bias_hh``, row-major, gates i, f, g, o."""
    parts, layer_in = [], input_size
    for layer in cells:
        for w in layer:
            t = tf_to_torch(w["kernel"], w["bias"], layer_in, w.get("forget_bias", forget_bias))
            parts += [t["weight_ih"].ravel(), t["weight_hh"].ravel(), t["bias_ih"], t["bias_hh"]]
        layer_in = len(layer) * (np.asarray(layer[0]["kernel"]).shape[1] // 4)
    return np.concatenate(parts)


def cudnn_to_tf(flat, input_size: int, units: int, num_layers: int = 1, bidirectional: bool = False) -> list:
    """cuDNN's canonical flat buffer -> ``cells[layer][direction]`` TF1 weights (``forget_bias`` 0.0)."""
    flat = np.asarray(flat).ravel()
    H, D = units, 2 if bidirectional else 1
    cells, pos, layer_in = [], 0, input_size
    for _ in range(num_layers):
        layer = []
        for _ in range(D):
            sizes = (4 * H * layer_in, 4 * H * H, 4 * H, 4 * H)
            if pos + sum(sizes) > flat.size:
                raise ValueError(f"cuDNN buffer of {flat.size} values is too short for {num_layers} layer(s), "
                                 f"D={D}, I={input_size}, H={H}")
            w_ih, w_hh, b_ih, b_hh = np.split(flat[pos: pos + sum(sizes)], np.cumsum(sizes)[:-1])
            pos += sum(sizes)
            layer.append(torch_to_tf(w_ih.reshape(4 * H, layer_in), w_hh.reshape(4 * H, H), b_ih, b_hh))
        cells.append(layer)
        layer_in = D * H
    if pos != flat.size:
        raise ValueError(f"cuDNN buffer has {flat.size} values, the stack uses {pos}")
    return cells
