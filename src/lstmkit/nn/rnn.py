"""Running cells over sequences: ``dynamic_rnn`` and ``bidirectional_dynamic_rnn`` with TensorFlow's semantics.

Shape legend: ``B`` batch, ``T`` time steps, ``I`` input size, ``H`` units, ``P`` output size, ``D`` directions.

Three ways compute the same thing, and tests hold them equal:

- the step loop (:func:`loop_stack`): the input half of every step in one matmul, then a Python loop over
  time for the recurrent half, each step the cell's own ``recurrent_step``; it runs any cell (peepholes, clipping,
  other activations, layer normalisation, zoneout) and is the reference of the other two;
- its fast path (:mod:`lstmkit.nn.fast`): the same loop as one autograd node with a hand-written backward through
  time, for every cell whose activation is a name (``"tanh"``, ``"relu"``, ``"sigmoid"``);
- the fused kernel (:func:`lstmkit.nn.fused.fused_stack`): PyTorch's LSTM kernel on converted weights.

``fused=None`` (the default) takes the fused kernel whenever the cells allow it; ``True`` insists (a clear
error names what blocks it), ``False`` forces the loop.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .cells import LSTMStateTuple, ParamCount, _describe, _LSTMCellBase
from .fast import fast_blocker, fast_loop
from .fused import autocast_dtype, fuse_blocker, fused_stack, stack_blocker
from .sequences import reverse_within_lengths, stack_directions, valid_mask


# -- stacked cells ----------------------------------------------------------------------------------------------
class MultiRNNCell(nn.Module):
    """Stacked cells, TensorFlow's ``MultiRNNCell``: layer ``k`` reads layer ``k-1``'s output at each step.

    The state is the tuple of the layers' states (each in its own cell's format). The output is the top
    layer's. Layer ``k``'s ``input_size`` must equal layer ``k-1``'s ``output_size``.
    """

    def __init__(self, cells):
        super().__init__()
        cells = list(cells)
        if not cells:
            raise ValueError("MultiRNNCell: cells must hold at least one cell, got none")
        for k, cell in enumerate(cells):
            if not isinstance(cell, _LSTMCellBase):
                raise TypeError(f"MultiRNNCell: cells[{k}] must be a BasicLSTMCell, LSTMCell or LayerNormLSTMCell, "
                                f"got {type(cell).__name__}")
            if k and cell.input_size != cells[k - 1].output_size:
                raise ValueError(f"MultiRNNCell: cells[{k}].input_size must be {cells[k - 1].output_size} "
                                 f"(cells[{k - 1}].output_size), got {cell.input_size}")
        self.cells = nn.ModuleList(cells)

    @property
    def input_size(self) -> int:
        return self.cells[0].input_size

    @property
    def output_size(self) -> int:
        return self.cells[-1].output_size

    @property
    def state_size(self):
        return tuple(cell.state_size for cell in self.cells)

    def zero_state(self, batch_size: int, dtype=None, device=None):
        return tuple(cell.zero_state(batch_size, dtype, device) for cell in self.cells)

    def check_state(self, state, owner: str, batch_size: int | None = None) -> None:
        if not isinstance(state, (tuple, list)) or len(state) != len(self.cells):
            raise TypeError(f"{owner}: state must be a tuple of {len(self.cells)} layer states for "
                            f"MultiRNNCell, got {_describe(state)}")
        for cell, st in zip(self.cells, state):
            cell.unpack_state(st, owner, batch_size)

    def forward(self, inputs: torch.Tensor, state):
        """One step through every layer: ``inputs (B, I)`` -> ``(h_t of the top layer, tuple of states)``."""
        self.check_state(state, "MultiRNNCell.__call__", inputs.shape[0] if inputs.dim() else None)
        new_states = []
        x = inputs
        for cell, st in zip(self.cells, state):
            x, new = cell(x, st)
            new_states.append(new)
        return x, tuple(new_states)

    def param_count(self) -> ParamCount:
        rows = [cell.param_count() for cell in self.cells]
        total = sum(r.total for r in rows)
        return ParamCount("MultiRNNCell", total, " + ".join(f"[{r.symbolic}]" for r in rows),
                          " + ".join(r.formula.rsplit(" = ", 1)[1] for r in rows) + f" = {total:,}")


# -- checks at the public boundary ------------------------------------------------------------------------------
def check_inputs(owner: str, inputs, input_size: int, what: str, time_major: bool = False) -> torch.Tensor:
    """Validate ``inputs`` and return them batch-major ``(B, T, I)``."""
    layout = "(T, B, {})" if time_major else "(B, T, {})"
    if not isinstance(inputs, torch.Tensor):
        raise TypeError(f"{owner}: inputs must be a tensor {layout.format(input_size)}, got {_describe(inputs)}")
    if not inputs.is_floating_point():
        raise TypeError(f"{owner}: inputs must be floating point (embed integer ids first), got {inputs.dtype}")
    if inputs.dim() != 3 or inputs.shape[2] != input_size:
        raise ValueError(f"{owner}: inputs must be {layout.format(input_size)} for {what}, "
                         f"got {tuple(inputs.shape)}")
    if inputs.shape[0] == 0 or inputs.shape[1] == 0:
        raise ValueError(f"{owner}: inputs must have at least one sequence and one step, got {tuple(inputs.shape)}")
    return inputs.transpose(0, 1) if time_major else inputs


def check_dtype(owner: str, inputs: torch.Tensor, param: torch.Tensor) -> None:
    """The inputs must share the parameters' dtype and device (a cheap check: it runs on every call); under
    ``torch.autocast`` they may also be in autocast's dtype."""
    if param.device != inputs.device or (
            param.dtype != inputs.dtype and inputs.dtype != autocast_dtype(inputs.device)):
        raise TypeError(f"{owner}: inputs are {inputs.dtype} on {inputs.device} but the parameters are "
                        f"{param.dtype} on {param.device}; move one to the other (e.g. cell.to(inputs))")


def check_lengths(owner: str, lengths, batch: int, time: int, device) -> torch.Tensor | None:
    """Validate ``lengths`` (sequence of ints, array or tensor, each in 1..T) and return ``(B,)`` int64."""
    if lengths is None:
        return None
    try:
        t = lengths if isinstance(lengths, torch.Tensor) else torch.as_tensor(lengths)
    except (TypeError, ValueError, RuntimeError) as exc:
        raise TypeError(f"{owner}: lengths must be a sequence of ints, got {lengths!r}") from exc
    if t.is_floating_point() or t.is_complex() or t.dtype == torch.bool:
        raise TypeError(f"{owner}: lengths must be integers, got {t.dtype}")
    t = t.to(device=device, dtype=torch.int64)
    if t.dim() != 1 or t.shape[0] != batch:
        raise ValueError(f"{owner}: lengths must be ({batch},) (one per sequence), got {tuple(t.shape)}")
    lo, hi = int(t.min()), int(t.max())
    if lo < 1 or hi > time:
        raise ValueError(f"{owner}: lengths must lie in 1..{time} (T), got values from {lo} to {hi}")
    return t


def _check_fused_flag(owner: str, fused, blocker: str | None) -> bool:
    if fused not in (None, True, False):
        raise ValueError(f"{owner}: fused must be None (auto), True or False, got {fused!r}")
    if fused is True and blocker:
        raise ValueError(f"{owner}: fused=True but the fused kernel cannot run this: {blocker}")
    return blocker is None and fused is not False


# -- the loop -----------------------------------------------------------------------------------------------------
def _zeros(cell, x: torch.Tensor) -> LSTMStateTuple:
    return LSTMStateTuple(x.new_zeros(x.shape[0], cell.num_units), x.new_zeros(x.shape[0], cell.proj_size))


def _loop_cell(cell: _LSTMCellBase, x: torch.Tensor, lengths, state: LSTMStateTuple, fast: bool = True):
    """One cell over ``x (B, T, I)``: outputs ``(B, T, P)`` zero past each length, state copied through.

    ``fast``: take the fast path (:func:`lstmkit.nn.fast.fast_loop`) when the cell has one; both draw the same
    zoneout masks, here, before the loop."""
    B, T = x.shape[0], x.shape[1]
    x_proj = cell.project_inputs(x)                                        # (B, T, I) -> (B, T, 4H), one matmul
    masks = cell.zoneout_masks(B, T, x)                                    # None, or (B, T, H) and (B, T, P)
    if fast and fast_blocker(cell) is None and autocast_dtype(x.device) is None:
        return fast_loop(cell, x_proj, lengths, state, masks)
    valid = None if lengths is None else valid_mask(lengths, T).unsqueeze(2)
    min_len = T if lengths is None else int(lengths.min())
    max_len = T if lengths is None else int(lengths.max())
    outputs = []
    for t in range(max_len):  # past the longest sequence nothing changes: those outputs are zero
        step_masks = None if masks is None else tuple(None if m is None else m[:, t] for m in masks)
        h, new = cell.recurrent_step(x_proj[:, t], state, step_masks)
        if t >= min_len:  # some sequences have ended: keep their state, zero their output
            m = valid[:, t]                                                # (B, 1)
            h = h.masked_fill(~m, 0.0)
            new = LSTMStateTuple(torch.where(m, new.c, state.c), torch.where(m, new.h, state.h))
        outputs.append(h)
        state = new
    out = torch.stack(outputs, dim=1)                                      # (B, max_len, P)
    if max_len < T:
        out = F.pad(out, (0, 0, 0, T - max_len))
    return out, state                                                      # (B, T, P)


def loop_stack(layers, inputs, lengths, initial_states, dropout: float = 0.0, training: bool = False,
               fast: bool = True):
    """The step loop for a stack ``layers[k][d]``; same contract as :func:`fused_stack`. ``fast``: each cell on
    its fast path where it has one (False: the plain loop, the reference)."""
    def run(k, d, cell, xs):
        state = initial_states[k][d] if initial_states is not None else _zeros(cell, xs)
        return _loop_cell(cell, xs, lengths, state, fast)

    return stack_directions(layers, inputs, lengths, dropout, training, run)


def loop_path(layers, fast: bool = True) -> str:
    """``"fast"`` when every cell of the stack runs the loop's fast path, else ``"loop"``."""
    return "fast" if fast and all(fast_blocker(cell) is None for layer in layers for cell in layer) else "loop"


def run_stack(layers, inputs, lengths, initial_states, dropout=0.0, training=False, use_fused=True, cache=None,
              fast=True):
    if use_fused:
        return fused_stack(layers, inputs, lengths, initial_states, dropout, training, cache)
    return loop_stack(layers, inputs, lengths, initial_states, dropout, training, fast)


# -- TensorFlow's functions -----------------------------------------------------------------------------------------
def _layers_of(owner: str, cell):
    if isinstance(cell, MultiRNNCell):
        return [[c] for c in cell.cells]
    if isinstance(cell, _LSTMCellBase):
        return [[cell]]
    raise TypeError(f"{owner}: cell must be a BasicLSTMCell, LSTMCell, LayerNormLSTMCell or MultiRNNCell, got "
                    f"{type(cell).__name__}")


def dynamic_rnn(cell, inputs, lengths=None, initial_state=None, time_major: bool = False, fused=None):
    """Run ``cell`` over every step of ``inputs``, TensorFlow's ``tf.nn.dynamic_rnn``.

    Args:
        cell: ``BasicLSTMCell``, ``LSTMCell``, ``LayerNormLSTMCell`` or ``MultiRNNCell``; its weights are shared by
            every step.
        inputs: ``(B, T, I)`` floats, or ``(T, B, I)`` with ``time_major=True``.
        lengths: ``(B,)`` ints in 1..T (TensorFlow's ``sequence_length``), or None when every step is valid.
            Outputs past a sequence's length are zero and its final state is the state at its last valid step.
        initial_state: the cell's state format (``cell.zero_state(B)`` when None).
        fused: None (auto: PyTorch's fused kernel when the cell allows it), True (insist) or False (step loop).

    Returns:
        ``(outputs, final_state)``: outputs ``(B, T, output_size)`` (``(T, B, ...)`` if time-major) = ``h`` at every
        step; ``final_state`` in the cell's format (a tuple of layer states for ``MultiRNNCell``).

    Example::

        >>> cell = BasicLSTMCell(28, 128)
        >>> outputs, state = dynamic_rnn(cell, torch.randn(4, 10, 28), lengths=[10, 7, 3, 1])
        >>> outputs.shape, state.h.shape
        (torch.Size([4, 10, 128]), torch.Size([4, 128]))
    """
    owner = "dynamic_rnn"
    layers = _layers_of(owner, cell)
    x = check_inputs(owner, inputs, layers[0][0].input_size, f"{cell!r}".split("\n")[0], time_major)
    check_dtype(owner, x, layers[0][0].kernel)
    B, T = x.shape[0], x.shape[1]
    lens = check_lengths(owner, lengths, B, T, x.device)
    init = None
    if initial_state is not None:
        if isinstance(cell, MultiRNNCell):
            cell.check_state(initial_state, owner, B)
            init = [[c.unpack_state(s, owner, B)] for c, s in zip(cell.cells, initial_state)]
        else:
            init = [[cell.unpack_state(initial_state, owner, B)]]
    # a stack of one layer per call: each layer takes the fused kernel if it can, whatever the others do
    use = [_check_fused_flag(owner, fused, fuse_blocker(layer[0])) for layer in layers]
    finals = []
    for k, layer in enumerate(layers):
        x, fin = run_stack([layer], x, lens, None if init is None else [init[k]], use_fused=use[k])
        finals.append(layer[0].pack_state(fin[0][0]))
    final_state = tuple(finals) if isinstance(cell, MultiRNNCell) else finals[0]
    return (x.transpose(0, 1) if time_major else x), final_state


def bidirectional_dynamic_rnn(cell_fw, cell_bw, inputs, lengths=None, initial_state_fw=None,
                              initial_state_bw=None, time_major: bool = False, fused=None):
    """A forward and a backward cell over the same inputs, TensorFlow's ``tf.nn.bidirectional_dynamic_rnn``.

    The backward cell reads each sequence reversed *within its own length* (never the padding first), and its
    outputs are aligned back to the input positions, so ``out_bw[b, t]`` is the backward state after reading
    steps ``lengths[b]-1 .. t``.

    Returns:
        ``((out_fw, out_bw), (state_fw, state_bw))``; outputs ``(B, T, P)`` each, zero past each length.
    """
    owner = "bidirectional_dynamic_rnn"
    for name, c in (("cell_fw", cell_fw), ("cell_bw", cell_bw)):
        if not isinstance(c, _LSTMCellBase):
            raise TypeError(f"{owner}: {name} must be a BasicLSTMCell, LSTMCell or LayerNormLSTMCell, got "
                            f"{type(c).__name__}")
    if cell_fw.input_size != cell_bw.input_size:
        raise ValueError(f"{owner}: cell_fw and cell_bw must read the same input size, "
                         f"got {cell_fw.input_size} and {cell_bw.input_size}")
    x = check_inputs(owner, inputs, cell_fw.input_size, "the forward and backward cells", time_major)
    check_dtype(owner, x, cell_fw.kernel)
    check_dtype(owner, x, cell_bw.kernel)
    B, T = x.shape[0], x.shape[1]
    lens = check_lengths(owner, lengths, B, T, x.device)
    states = [c.unpack_state(s, owner, B) if s is not None else _zeros(c, x)
              for c, s in ((cell_fw, initial_state_fw), (cell_bw, initial_state_bw))]
    same_shape = stack_blocker([[cell_fw, cell_bw]]) is None
    if same_shape and _check_fused_flag(owner, fused, None):
        out, fin = run_stack([[cell_fw, cell_bw]], x, lens, [states], use_fused=True)
        out_fw, out_bw = out.split(cell_fw.proj_size, dim=2)
        st_fw, st_bw = fin[0]
    else:  # two independent passes: each direction on its own path
        out_fw, fin_fw = run_stack([[cell_fw]], x, lens, [[states[0]]],
                                   use_fused=_check_fused_flag(owner, fused, fuse_blocker(cell_fw)))
        xr = reverse_within_lengths(x, lens)
        out_bw, fin_bw = run_stack([[cell_bw]], xr, lens, [[states[1]]],
                                   use_fused=_check_fused_flag(owner, fused, fuse_blocker(cell_bw)))
        out_bw = reverse_within_lengths(out_bw, lens)
        st_fw, st_bw = fin_fw[0][0], fin_bw[0][0]
    if time_major:
        out_fw, out_bw = out_fw.transpose(0, 1), out_bw.transpose(0, 1)
    return (out_fw, out_bw), (cell_fw.pack_state(st_fw), cell_bw.pack_state(st_bw))
