"""A plain NumPy (float64) implementation of the cells and loops: the oracle the tests hold the engine to.

Written straight from TensorFlow's definitions and nothing else: ``concat([x_t, h]) @ kernel + bias``, one
time step at a time, one sequence at a time, no masks, no fused tricks. Slow on purpose; easy to read.

Shape legend: ``B`` batch, ``T`` time steps, ``I`` input size, ``H`` units, ``P`` projection size.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

ACTIVATIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "tanh": np.tanh,
    "relu": lambda v: np.maximum(v, 0.0),
    "sigmoid": lambda v: 1.0 / (1.0 + np.exp(-v)),
}


def sigmoid(v: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-v))


def lstm_step(x, c, h, kernel, bias, forget_bias=1.0, activation="tanh", w_f_diag=None, w_i_diag=None,
              w_o_diag=None, cell_clip=None, projection_kernel=None, proj_clip=None):
    """One step of TensorFlow's ``LSTMCell`` (``BasicLSTMCell`` is the case with no extras).

    ``x (I,)``, ``c (H,)``, ``h (P,)``, ``kernel (I + P, 4H)``, ``bias (4H,)`` -> ``(new_c (H,), new_h (P,))``.
    """
    act = ACTIVATIONS[activation]
    gates = np.concatenate([x, h]) @ kernel + bias
    i, j, f, o = np.split(gates, 4)
    if w_f_diag is not None:
        new_c = sigmoid(f + forget_bias + w_f_diag * c) * c + sigmoid(i + w_i_diag * c) * act(j)
    else:
        new_c = c * sigmoid(f + forget_bias) + sigmoid(i) * act(j)
    if cell_clip is not None:
        new_c = np.clip(new_c, -cell_clip, cell_clip)
    if w_o_diag is not None:
        new_h = sigmoid(o + w_o_diag * new_c) * act(new_c)
    else:
        new_h = act(new_c) * sigmoid(o)
    if projection_kernel is not None:
        new_h = new_h @ projection_kernel
        if proj_clip is not None:
            new_h = np.clip(new_h, -proj_clip, proj_clip)
    return new_c, new_h


def layer_norm(v, gain, shift=None, epsilon=1e-5):
    """``(v - mean) / sqrt(var + epsilon) * gain + shift`` over ``v``'s last axis (the biased variance)."""
    mean = v.mean(axis=-1, keepdims=True)
    var = ((v - mean) ** 2).mean(axis=-1, keepdims=True)
    out = (v - mean) / np.sqrt(var + epsilon) * gain
    return out if shift is None else out + shift


def layer_norm_lstm_step(x, c, h, kernel, bias, gamma_x, gamma_h, gamma_c, beta_c, forget_bias=1.0,
                         activation="tanh", epsilon=1e-5):
    """One step of ``LayerNormLSTMCell`` (Ba et al. 2016, haste's ``LayerNormLSTM``), written from the paper:

    ``[i, j, f, o] = LN(x W_x; gamma_x) + LN(h W_h; gamma_h) + bias``, ``c' = c sigma(f + forget_bias) + sigma(i)
    act(j)``, ``h' = act(LN(c'; gamma_c, beta_c)) sigma(o)``; the state keeps the unnormalised ``c'``.
    ``x (I,)``, ``c (H,)``, ``h (H,)`` -> ``(new_c (H,), new_h (H,))``.
    """
    act = ACTIVATIONS[activation]
    n_in = x.shape[0]
    gates = layer_norm(x @ kernel[:n_in], gamma_x, None, epsilon) + layer_norm(h @ kernel[n_in:], gamma_h, None,
                                                                                epsilon) + bias
    i, j, f, o = np.split(gates, 4)
    new_c = c * sigmoid(f + forget_bias) + sigmoid(i) * act(j)
    new_h = act(layer_norm(new_c, gamma_c, beta_c, epsilon)) * sigmoid(o)
    return new_c, new_h


def zoneout(step, zoneout_c=0.0, zoneout_h=0.0, keep=None):
    """``step`` with zoneout (Krueger et al. 2017): ``keep(t) -> (keep_c (H,), keep_h (P,))`` bool masks of the
    units that keep their previous value at the ``t``-th call (training), or None for the expectation
    ``z * previous + (1 - z) * new`` (evaluation). Returns a ``step(x_t, c, h) -> (c, h)``."""
    calls = [0]

    def zoned(x, c, h):
        new_c, new_h = step(x, c, h)
        if keep is None:
            return zoneout_c * c + (1 - zoneout_c) * new_c, zoneout_h * h + (1 - zoneout_h) * new_h
        keep_c, keep_h = keep(calls[0])
        calls[0] += 1
        return np.where(keep_c, c, new_c), np.where(keep_h, h, new_h)

    return zoned


def dynamic_rnn(step, x, lengths=None, c0=None, h0=None, num_units=None, out_size=None):
    """``step(x_t, c, h) -> (c, h)`` over ``x (B, T, I)``: outputs ``(B, T, P)`` zero past each length, and the
    final ``(c (B, H), h (B, P))`` taken at each sequence's last valid step."""
    B, T, _ = x.shape
    lengths = np.full(B, T) if lengths is None else np.asarray(lengths)
    if c0 is None:
        c0, h0 = np.zeros((B, num_units)), np.zeros((B, out_size))
    outputs = np.zeros((B, T, h0.shape[1]))
    cs, hs = c0.copy(), h0.copy()
    for b in range(B):
        c, h = c0[b], h0[b]
        for t in range(int(lengths[b])):
            c, h = step(x[b, t], c, h)
            outputs[b, t] = h
        cs[b], hs[b] = c, h
    return outputs, (cs, hs)


def reverse_within_lengths(x, lengths):
    out = x.copy()
    for b, n in enumerate(np.asarray(lengths)):
        out[b, :n] = x[b, :n][::-1]
    return out


def bidirectional_dynamic_rnn(step_fw, step_bw, x, lengths, **state_kw):
    """Forward pass, and a backward pass over each sequence reversed within its length, re-aligned."""
    out_fw, st_fw = dynamic_rnn(step_fw, x, lengths, **state_kw)
    out_bw, st_bw = dynamic_rnn(step_bw, reverse_within_lengths(x, lengths), lengths, **state_kw)
    return (out_fw, reverse_within_lengths(out_bw, lengths)), (st_fw, st_bw)
