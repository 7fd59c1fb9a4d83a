"""LSTM cells with TensorFlow 1.x semantics: one time step each, nothing else.

Shape legend: ``B`` batch, ``I`` input size, ``H`` units, ``P`` projection size (``num_proj`` or ``H``).
Stacked cells (``MultiRNNCell``) live in :mod:`lstmkit.nn.rnn`.

A cell maps ``(x_t, state) -> (h_t, new_state)``. The loop over time, lengths, direction and stacking lives
in :mod:`lstmkit.nn.rnn`. Each cell also splits its step in two so that loops can hoist the input half out
of the time loop: :meth:`project_inputs` (``x @ W_x + bias`` for any number of steps at once) and
:meth:`recurrent_step` (the rest of the step, given that projection).

Zoneout is an option of every cell (:class:`lstmkit.nn.zoneout.Zoneout`, which the cells' base class mixes in).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, NamedTuple, Union

import torch
from torch import nn

from .zoneout import Zoneout

Activation = Union[str, Callable[[torch.Tensor], torch.Tensor]]

_ACTIVATIONS = {"tanh": torch.tanh, "relu": torch.relu, "sigmoid": torch.sigmoid}


class LSTMStateTuple(NamedTuple):
    """The state of an LSTM cell, TensorFlow's order: ``c`` ``(B, H)`` first, then ``h`` ``(B, P)``."""

    c: torch.Tensor
    h: torch.Tensor


@dataclass(frozen=True)
class ParamCount:
    """A parameter count with its formula, e.g. ``(28 + 128) * 4*128 + 4*128 = 80,384``.

    ``symbolic`` is the formula in the shape legend (``(I + H) * 4H + 4H``); ``formula`` the same with numbers.
    """

    name: str
    total: int
    symbolic: str
    formula: str

    def __str__(self) -> str:
        return f"{self.name}: {self.formula}"


def resolve_activation(activation: Activation, owner: str) -> Callable[[torch.Tensor], torch.Tensor]:
    """Turn ``"tanh"``/``"relu"``/``"sigmoid"`` or a callable into a function; anything else is a clear error."""
    if callable(activation):
        return activation
    if isinstance(activation, str) and activation in _ACTIVATIONS:
        return _ACTIVATIONS[activation]
    raise ValueError(
        f"{owner}: activation must be one of {sorted(_ACTIVATIONS)} or a callable, got {activation!r}"
    )


def check_positive_int(owner: str, name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{owner}: {name} must be a positive int, got {type(value).__name__} {value!r}")
    if value <= 0:
        raise ValueError(f"{owner}: {name} must be a positive int, got {value}")
    return value


def _check_clip(owner: str, name: str, value):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ValueError(f"{owner}: {name} must be a positive number or None, got {value!r}")
    return float(value)


class _LSTMCellBase(Zoneout, nn.Module):
    """What both TensorFlow LSTM cells share: the fused kernel ``(I + P, 4H)``, the bias, state handling."""

    input_size: int
    num_units: int
    num_proj: int | None
    forget_bias: float
    state_is_tuple: bool

    def _init_common(self, input_size, num_units, num_proj, forget_bias, state_is_tuple, activation, factory):
        name = type(self).__name__
        self.input_size = check_positive_int(name, "input_size", input_size)
        self.num_units = check_positive_int(name, "num_units", num_units)
        self.num_proj = None if num_proj is None else check_positive_int(name, "num_proj", num_proj)
        if isinstance(forget_bias, bool) or not isinstance(forget_bias, (int, float)):
            raise TypeError(f"{name}: forget_bias must be a number, got {forget_bias!r}")
        self.forget_bias = float(forget_bias)
        self.state_is_tuple = bool(state_is_tuple)
        self.activation = activation if callable(activation) else str(activation)
        self._act = resolve_activation(activation, name)
        P, H = self.proj_size, self.num_units
        self.kernel = nn.Parameter(torch.empty(self.input_size + P, 4 * H, **factory))  # rows: [x_t, h_{t-1}]
        self.bias = nn.Parameter(torch.empty(4 * H, **factory))                      # gates i, j, f, o

    @property
    def proj_size(self) -> int:
        """``P``: the size of ``h`` (the output), ``num_proj`` when projecting, else ``H``."""
        return self.num_proj if self.num_proj is not None else self.num_units

    @property
    def output_size(self) -> int:
        return self.proj_size

    @property
    def state_size(self):
        """``LSTMStateTuple(H, P)``, or ``H + P`` when ``state_is_tuple=False`` (TensorFlow's convention)."""
        if self.state_is_tuple:
            return LSTMStateTuple(self.num_units, self.proj_size)
        return self.num_units + self.proj_size

    def reset_parameters(self) -> None:
        """TensorFlow's defaults: Glorot-uniform kernel, zero bias."""
        nn.init.xavier_uniform_(self.kernel)
        nn.init.zeros_(self.bias)

    def zero_state(self, batch_size: int, dtype=None, device=None):
        """An all-zero state for ``batch_size`` sequences, in the cell's state format.

        ``dtype``/``device`` default to the parameters'.
        """
        check_positive_int(f"{type(self).__name__}.zero_state", "batch_size", batch_size)
        dtype = dtype or self.kernel.dtype
        device = device or self.kernel.device
        c = torch.zeros(batch_size, self.num_units, dtype=dtype, device=device)
        h = torch.zeros(batch_size, self.proj_size, dtype=dtype, device=device)
        return self.pack_state(LSTMStateTuple(c, h))

    # -- state formats ---------------------------------------------------------------------------------------
    def pack_state(self, state: LSTMStateTuple):
        """From ``LSTMStateTuple`` to this cell's format: itself, or ``concat(c, h)`` ``(B, H + P)``."""
        return state if self.state_is_tuple else torch.cat([state.c, state.h], dim=1)

    def unpack_state(self, state, owner: str, batch_size: int | None = None) -> LSTMStateTuple:
        """Validate a state in this cell's format and return it as ``LSTMStateTuple(c, h)``."""
        H, P = self.num_units, self.proj_size
        if self.state_is_tuple:
            if not isinstance(state, (tuple, list)) or len(state) != 2 or not all(
                isinstance(s, torch.Tensor) for s in state
            ):
                raise TypeError(
                    f"{owner}: state must be LSTMStateTuple(c (B, {H}), h (B, {P})) for {self!r}, "
                    f"got {_describe(state)}"
                )
            c, h = state
            if c.dim() != 2 or h.dim() != 2 or c.shape[1] != H or h.shape[1] != P or c.shape[0] != h.shape[0]:
                raise ValueError(
                    f"{owner}: state must be LSTMStateTuple(c (B, {H}), h (B, {P})) for {self!r}, "
                    f"got c {tuple(c.shape)}, h {tuple(h.shape)}"
                )
        else:
            if not isinstance(state, torch.Tensor) or state.dim() != 2 or state.shape[1] != H + P:
                raise ValueError(
                    f"{owner}: state must be one (B, {H + P}) tensor = concat(c, h) for {self!r} "
                    f"(state_is_tuple=False), got {_describe(state)}"
                )
            c, h = state[:, :H], state[:, H:]
        if batch_size is not None and c.shape[0] != batch_size:
            raise ValueError(f"{owner}: state batch size must be {batch_size} (the inputs'), got {c.shape[0]}")
        return LSTMStateTuple(c, h)

    # -- the step ----------------------------------------------------------------------------------------------
    def project_inputs(self, x: torch.Tensor) -> torch.Tensor:
        """The input half of the gate pre-activations for any number of steps: ``x (..., I) -> (..., 4H)``.

        ``x @ kernel[:I] + bias``, with the constant ``forget_bias`` already added to the f block, so that a
        loop over time pays for it once rather than once per step.
        """
        x2 = x.reshape(-1, self.input_size)
        return torch.addmm(self._shift(), x2, self.kernel[: self.input_size]).view(*x.shape[:-1], 4 * self.num_units)

    def _shift(self) -> torch.Tensor:
        """``bias`` with the constant ``forget_bias`` added to its f block ``(4H,)``."""
        H = self.num_units
        if not self.forget_bias:
            return self.bias
        return torch.cat([self.bias[:2 * H], self.bias[2 * H:3 * H] + self.forget_bias, self.bias[3 * H:]])

    def recurrent_step(self, x_proj: torch.Tensor, state: LSTMStateTuple,
                       zoneout_masks=None) -> tuple[torch.Tensor, LSTMStateTuple]:
        """One step given ``x_proj = project_inputs(x_t)`` ``(B, 4H)`` and ``state`` as ``LSTMStateTuple``.

        ``x_proj`` already holds the bias and ``forget_bias``. With zoneout in training, ``zoneout_masks`` is this
        step's ``(keep_c (B, H), keep_h (B, P))`` (see :meth:`zoneout_masks`; drawn here when None).
        """
        h, new = self._step(x_proj, state)
        if self.zoneout_c or self.zoneout_h:
            new = self._zoneout(state, new, zoneout_masks)
            h = new.h
        return h, new

    def _step(self, x_proj: torch.Tensor, state: LSTMStateTuple) -> tuple[torch.Tensor, LSTMStateTuple]:
        """The cell's own step, before zoneout."""
        raise NotImplementedError

    def forward(self, inputs: torch.Tensor, state):
        """One step: ``inputs (B, I)``, ``state`` in the cell's format -> ``(h_t (B, P), new_state)``."""
        owner = f"{type(self).__name__}.__call__"
        if not isinstance(inputs, torch.Tensor) or not inputs.is_floating_point():
            raise TypeError(f"{owner}: inputs must be a floating-point tensor (B, {self.input_size}), "
                            f"got {_describe(inputs)}")
        if inputs.dim() != 2 or inputs.shape[1] != self.input_size:
            raise ValueError(f"{owner}: inputs must be (B, {self.input_size}) for {self!r}, "
                             f"got {tuple(inputs.shape)}")
        st = self.unpack_state(state, owner, inputs.shape[0])
        h, new = self.recurrent_step(self.project_inputs(inputs), st)
        return h, self.pack_state(new)

    def _gates(self, x_proj, h_prev):
        return torch.addmm(x_proj, h_prev, self.kernel[self.input_size:])  # (B, 4H) + (B, P) @ (P, 4H)


class BasicLSTMCell(_LSTMCellBase):
    r"""TensorFlow's ``BasicLSTMCell``, exactly.

    .. math::
        [i, j, f, o] = [x_t, h_{t-1}] \cdot kernel + bias \\
        c_t = c_{t-1} \odot \sigma(f + forget\_bias) + \sigma(i) \odot act(j) \\
        h_t = act(c_t) \odot \sigma(o)

    Args:
        input_size: ``I``, the size of ``x_t``.
        num_units: ``H``, the size of ``c`` and ``h``.
        forget_bias: added to the forget gate's pre-activation (default 1.0); a constant, not a weight.
        state_is_tuple: state as ``LSTMStateTuple(c, h)`` (default) or one ``(B, 2H)`` tensor ``concat(c, h)``.
        activation: ``"tanh"`` (default), ``"relu"``, ``"sigmoid"`` or a callable.
        zoneout_c, zoneout_h: zoneout probabilities of ``c`` and ``h`` (default 0: none); see the module docstring.
        generator: the ``torch.Generator`` zoneout draws its masks from (None: PyTorch's default one).

    Parameters: ``kernel`` ``(I + H, 4H)``, rows ``[x_t, h_{t-1}]``, columns the gates i, j, f, o;
    ``bias`` ``(4H,)``, zeros at init. ``(I + H) * 4H + 4H`` in all.

    Shapes: ``cell(x_t (B, I), state) -> (h_t (B, H), new_state)``.

    Example::

        >>> cell = BasicLSTMCell(28, 128)
        >>> h, state = cell(torch.randn(4, 28), cell.zero_state(4))
        >>> h.shape, state.c.shape
        (torch.Size([4, 128]), torch.Size([4, 128]))
    """

    def __init__(self, input_size: int, num_units: int, forget_bias: float = 1.0, state_is_tuple: bool = True,
                 activation: Activation = "tanh", *, zoneout_c: float = 0.0, zoneout_h: float = 0.0,
                 generator: torch.Generator | None = None, dtype=None, device=None):
        super().__init__()
        self._init_common(input_size, num_units, None, forget_bias, state_is_tuple, activation,
                          {"dtype": dtype, "device": device})
        self._init_zoneout(zoneout_c, zoneout_h, generator)
        self.reset_parameters()

    def _step(self, x_proj, state):
        H = self.num_units
        gates = self._gates(x_proj, state.h)                                                  # (B, 4H)
        # one sigmoid over all four blocks (j's is unused): fewer kernel launches in the step loop
        sig_i, _, sig_f, sig_o = torch.sigmoid(gates).chunk(4, dim=1)                        # each (B, H)
        new_c = torch.addcmul(state.c * sig_f, sig_i, self._act(gates[:, H:2 * H]))          # (B, H)
        new_h = self._act(new_c) * sig_o                                                      # (B, H)
        return new_h, LSTMStateTuple(new_c, new_h)

    def param_count(self) -> ParamCount:
        I, H = self.input_size, self.num_units
        total = (I + H) * 4 * H + 4 * H
        return ParamCount("BasicLSTMCell", total, "(I + H) * 4H + 4H",
                          f"({I} + {H}) * 4*{H} + 4*{H} = {total:,}")

    def extra_repr(self) -> str:
        return (f"input_size={self.input_size}, num_units={self.num_units}, forget_bias={self.forget_bias}"
                + ("" if self.state_is_tuple else ", state_is_tuple=False")
                + ("" if self.activation == "tanh" else f", activation={self.activation!r}") + self._zoneout_repr())


class LSTMCell(_LSTMCellBase):
    r"""TensorFlow's ``LSTMCell``, exactly: optional diagonal peepholes, cell clipping and a projection.

    .. math::
        [i, j, f, o] = [x_t, h_{t-1}] \cdot kernel + bias \\
        c_t = \sigma(f + forget\_bias + w_f \odot c_{t-1}) \odot c_{t-1} + \sigma(i + w_i \odot c_{t-1}) \odot act(j)
        \quad (\text{then clipped to } \pm cell\_clip) \\
        m_t = \sigma(o + w_o \odot c_t) \odot act(c_t); \quad h_t = clip(m_t \cdot projection\_kernel, \pm proj\_clip)

    (the ``w`` terms only with ``use_peepholes``, the projection only with ``num_proj``).

    Args:
        input_size: ``I``. num_units: ``H``.
        use_peepholes: diagonal peephole weights ``w_f_diag``, ``w_i_diag``, ``w_o_diag`` ``(H,)``.
        cell_clip: clip ``c`` to ``[-cell_clip, cell_clip]`` after each step (None: no clipping).
        num_proj: ``P``; project ``h`` with ``projection_kernel`` ``(H, P)`` (None: no projection, ``P = H``).
        proj_clip: clip the projected output to ``[-proj_clip, proj_clip]`` (needs ``num_proj``).
        forget_bias, state_is_tuple, activation, zoneout_c, zoneout_h, generator: as in :class:`BasicLSTMCell`.

    Parameters: ``kernel`` ``(I + P, 4H)``, ``bias`` ``(4H,)``, the peepholes, ``projection_kernel``.
    State: ``LSTMStateTuple(c (B, H), h (B, P))``. Output ``h_t`` ``(B, P)``.
    """

    def __init__(self, input_size: int, num_units: int, use_peepholes: bool = False, cell_clip: float | None = None,
                 num_proj: int | None = None, proj_clip: float | None = None, forget_bias: float = 1.0,
                 state_is_tuple: bool = True, activation: Activation = "tanh", *, zoneout_c: float = 0.0,
                 zoneout_h: float = 0.0, generator: torch.Generator | None = None, dtype=None, device=None):
        super().__init__()
        factory = {"dtype": dtype, "device": device}
        self._init_common(input_size, num_units, num_proj, forget_bias, state_is_tuple, activation, factory)
        self._init_zoneout(zoneout_c, zoneout_h, generator)
        self.use_peepholes = bool(use_peepholes)
        self.cell_clip = _check_clip("LSTMCell", "cell_clip", cell_clip)
        self.proj_clip = _check_clip("LSTMCell", "proj_clip", proj_clip)
        if self.proj_clip is not None and self.num_proj is None:
            raise ValueError("LSTMCell: proj_clip needs num_proj (there is no projection to clip)")
        H = self.num_units
        if self.use_peepholes:
            self.w_f_diag = nn.Parameter(torch.empty(H, **factory))
            self.w_i_diag = nn.Parameter(torch.empty(H, **factory))
            self.w_o_diag = nn.Parameter(torch.empty(H, **factory))
        if self.num_proj is not None:
            self.projection_kernel = nn.Parameter(torch.empty(H, self.num_proj, **factory))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        super().reset_parameters()
        if self.use_peepholes:
            bound = (6.0 / (2 * self.num_units)) ** 0.5  # Glorot for a vector: fan_in = fan_out = H
            for w in (self.w_f_diag, self.w_i_diag, self.w_o_diag):
                nn.init.uniform_(w, -bound, bound)
        if self.num_proj is not None:
            nn.init.xavier_uniform_(self.projection_kernel)

    def _step(self, x_proj, state):
        c_prev = state.c
        i, j, f, o = self._gates(x_proj, state.h).chunk(4, dim=1)                           # each (B, H)
        if self.use_peepholes:
            f = f + self.w_f_diag * c_prev
            i = i + self.w_i_diag * c_prev
        c = torch.sigmoid(f) * c_prev + torch.sigmoid(i) * self._act(j)                    # (B, H)
        if self.cell_clip is not None:
            c = c.clamp(-self.cell_clip, self.cell_clip)
        if self.use_peepholes:
            o = o + self.w_o_diag * c
        m = torch.sigmoid(o) * self._act(c)                                                # (B, H)
        if self.num_proj is not None:
            m = m @ self.projection_kernel                                                  # (B, H) @ (H, P) -> (B, P)
            if self.proj_clip is not None:
                m = m.clamp(-self.proj_clip, self.proj_clip)
        return m, LSTMStateTuple(c, m)

    def param_count(self) -> ParamCount:
        I, H, P = self.input_size, self.num_units, self.proj_size
        total = (I + P) * 4 * H + 4 * H
        sym = "(I + P) * 4H + 4H" if self.num_proj is not None else "(I + H) * 4H + 4H"
        num = f"({I} + {P}) * 4*{H} + 4*{H}"
        if self.use_peepholes:
            total += 3 * H
            sym += " + 3H"
            num += f" + 3*{H}"
        if self.num_proj is not None:
            total += H * P
            sym += " + H*P"
            num += f" + {H}*{P}"
        return ParamCount("LSTMCell", total, sym, f"{num} = {total:,}")

    def extra_repr(self) -> str:
        parts = [f"input_size={self.input_size}", f"num_units={self.num_units}"]
        for name in ("use_peepholes", "cell_clip", "num_proj", "proj_clip"):
            if getattr(self, name):
                parts.append(f"{name}={getattr(self, name)}")
        parts.append(f"forget_bias={self.forget_bias}")
        if not self.state_is_tuple:
            parts.append("state_is_tuple=False")
        if self.activation != "tanh":
            parts.append(f"activation={self.activation!r}")
        return ", ".join(parts) + self._zoneout_repr()


def _describe(obj) -> str:
    if isinstance(obj, torch.Tensor):
        return f"tensor {tuple(obj.shape)} {obj.dtype}"
    if isinstance(obj, (tuple, list)):
        return f"{type(obj).__name__} of {len(obj)} ({', '.join(_describe(o) for o in obj)})"
    return type(obj).__name__
