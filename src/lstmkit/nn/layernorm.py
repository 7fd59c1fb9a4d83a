"""``LayerNormLSTMCell``: an LSTM cell with layer normalisation (Ba, Kiros & Hinton 2016), one step.

Shape legend: ``B`` batch, ``I`` input size, ``H`` units.

The formula is the paper's and haste's ``LayerNormLSTM`` (LMNT's fused CUDA LSTMs), with lstmkit's TensorFlow
conventions (one kernel with rows ``[x_t, h_{t-1}]``, gate order i, j, f, o, a constant ``forget_bias``):

.. math::
    [i, j, f, o] = LN(x_t W_x; \\gamma_x) + LN(h_{t-1} W_h; \\gamma_h) + bias \\\\
    c_t = \\sigma(f + forget\\_bias) \\odot c_{t-1} + \\sigma(i) \\odot act(j) \\\\
    h_t = \\sigma(o) \\odot act(LN(c_t; \\gamma_c, \\beta_c))

where ``W_x = kernel[:I]``, ``W_h = kernel[I:]`` and ``LN(v; g, b) = (v - mean(v)) / sqrt(var(v) + 1e-5) * g + b``
over the last axis (``4H`` for the gates, ``H`` for ``c``; the biased variance). The state carries the
*unnormalised* ``c_t``: the normalisation is on the way to ``h_t`` only.

Against haste's ``LayerNormLSTM`` (frameworks/pytorch/layer_norm_lstm.py, lib/layer_norm_lstm_forward_gpu.cu.cc):
the same formula, epsilon (1e-5) and parameters: haste's ``kernel`` and ``recurrent_kernel`` are the rows
``kernel[:I]`` and ``kernel[I:]`` here, its gate order i, g, f, o is i, j, f, o, ``gamma[0]``/``gamma[1]`` are
``gamma_x``/``gamma_h`` and its ``gamma_h``/``beta_h`` (the cell-state norm) are ``gamma_c``/``beta_c``. Two
differences: haste's ``forget_bias`` is only the initial value of the f block of its ``bias`` (a weight), here it is
a constant added at every step as in TensorFlow's cells (``forget_bias=0`` with ``bias[2H:3H] = 1`` is haste's
initial state); and haste zones out ``h`` only with one probability, here ``c`` and ``h`` have their own.

Against TensorFlow Addons' ``LayerNormLSTMCell`` (tensorflow_addons/rnn/layer_norm_lstm_cell.py): the gates are
normalised the same way, but Addons (1) gives both gate norms a shift too (``beta`` of ``4H`` each, redundant with
the bias: 8H more parameters), (2) uses epsilon 1e-3, (3) *carries the normalised* ``c_t = LN(c_new)`` to the next
step (here the state keeps ``c_new``), (4) orders Keras's gates i, f, c, o and folds the forget bias into the bias
initializer (``unit_forget_bias``). With ``beta`` zero and epsilon aside, the two agree on the first step from a
zero state and part from the second step on.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .cells import Activation, BasicLSTMCell, LSTMStateTuple, ParamCount, _LSTMCellBase

EPSILON = 1e-5   # haste's and torch.nn.LayerNorm's


class LayerNormLSTMCell(_LSTMCellBase):
    r"""An LSTM cell with layer normalisation of the gate pre-activations and of the new cell state.

    See the module docstring for the equations and how they compare with haste and TensorFlow Addons.

    Args:
        input_size: ``I``. num_units: ``H``.
        forget_bias: a constant added to the forget gate's pre-activation (default 1.0).
        state_is_tuple, activation, zoneout_c, zoneout_h, generator: as in :class:`BasicLSTMCell`.

    Parameters: ``kernel`` ``(I + H, 4H)`` (rows ``[x_t, h_{t-1}]``), ``bias`` ``(4H,)``, the gains ``gamma_x`` and
    ``gamma_h`` ``(4H,)`` (ones at init), the cell-state norm's gain ``gamma_c`` and shift ``beta_c`` ``(H,)`` (ones,
    zeros): ``(I + H) * 4H + 4H + 8H + 2H`` in all.

    Shapes: ``cell(x_t (B, I), state) -> (h_t (B, H), new_state)``, state ``LSTMStateTuple(c (B, H), h (B, H))``.

    Example::

        >>> cell = LayerNormLSTMCell(28, 128)
        >>> h, state = cell(torch.randn(4, 28), cell.zero_state(4))
        >>> h.shape, cell.gamma_x.shape
        (torch.Size([4, 128]), torch.Size([512]))
    """

    layer_norm_epsilon = EPSILON   # the attribute that tells a layer-normalised cell (None on the others)

    def __init__(self, input_size: int, num_units: int, forget_bias: float = 1.0, state_is_tuple: bool = True,
                 activation: Activation = "tanh", *, zoneout_c: float = 0.0, zoneout_h: float = 0.0,
                 generator: torch.Generator | None = None, dtype=None, device=None):
        super().__init__()
        factory = {"dtype": dtype, "device": device}
        self._init_common(input_size, num_units, None, forget_bias, state_is_tuple, activation, factory)
        self._init_zoneout(zoneout_c, zoneout_h, generator)
        H = self.num_units
        self.gamma_x = nn.Parameter(torch.empty(4 * H, **factory))   # gain of LN(x_t W_x)
        self.gamma_h = nn.Parameter(torch.empty(4 * H, **factory))   # gain of LN(h_{t-1} W_h)
        self.gamma_c = nn.Parameter(torch.empty(H, **factory))       # gain of LN(c_t)
        self.beta_c = nn.Parameter(torch.empty(H, **factory))        # shift of LN(c_t)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Glorot-uniform kernel, zero bias and shift, unit gains."""
        super().reset_parameters()
        for gain in (self.gamma_x, self.gamma_h, self.gamma_c):
            nn.init.ones_(gain)
        nn.init.zeros_(self.beta_c)

    def project_inputs(self, x: torch.Tensor) -> torch.Tensor:
        """``LN(x W_x; gamma_x) + bias`` (``forget_bias`` in the f block) for any number of steps:
        ``x (..., I) -> (..., 4H)``; the input half depends on ``x`` alone, so a loop normalises every step at once."""
        H, I = self.num_units, self.input_size
        xw = x.reshape(-1, I) @ self.kernel[:I]                                   # (N, I) @ (I, 4H) -> (N, 4H)
        eps = self.layer_norm_epsilon
        return F.layer_norm(xw, (4 * H,), self.gamma_x, self._shift(), eps).view(*x.shape[:-1], 4 * H)

    def gates(self, x_t: torch.Tensor, h_prev: torch.Tensor) -> torch.Tensor:
        """The gate pre-activations ``[i, j, f, o]`` ``(B, 4H)`` of one step, before ``forget_bias``: what the
        walkthrough shows."""
        fb = self.forget_bias
        z = self._recurrent(self.project_inputs(x_t), h_prev)
        return torch.cat([z[:, :2 * self.num_units], z[:, 2 * self.num_units:3 * self.num_units] - fb,
                          z[:, 3 * self.num_units:]], dim=1) if fb else z

    def _recurrent(self, x_proj, h_prev):
        hw = h_prev @ self.kernel[self.input_size:]                               # (B, H) @ (H, 4H) -> (B, 4H)
        return x_proj + F.layer_norm(hw, (4 * self.num_units,), self.gamma_h, None, self.layer_norm_epsilon)

    def _step(self, x_proj, state):
        H = self.num_units
        gates = self._recurrent(x_proj, state.h)                                              # (B, 4H)
        sig_i, _, sig_f, sig_o = torch.sigmoid(gates).chunk(4, dim=1)                        # each (B, H)
        new_c = torch.addcmul(state.c * sig_f, sig_i, self._act(gates[:, H:2 * H]))          # (B, H)
        c_hat = F.layer_norm(new_c, (H,), self.gamma_c, self.beta_c, self.layer_norm_epsilon)    # (B, H)
        new_h = self._act(c_hat) * sig_o                                                      # (B, H)
        return new_h, LSTMStateTuple(new_c, new_h)

    def param_count(self) -> ParamCount:
        I, H = self.input_size, self.num_units
        total = (I + H) * 4 * H + 4 * H + 8 * H + 2 * H
        return ParamCount("LayerNormLSTMCell", total, "(I + H) * 4H + 4H + 8H + 2H",
                          f"({I} + {H}) * 4*{H} + 4*{H} + 8*{H} + 2*{H} = {total:,}")

    extra_repr = BasicLSTMCell.extra_repr
