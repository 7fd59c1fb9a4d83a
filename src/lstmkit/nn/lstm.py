"""``LSTM``: the module models use. Layers and directions of TensorFlow cells, on the fused kernel when it can.

Shape legend: ``B`` batch, ``T`` time steps, ``I`` input size, ``H`` units, ``P`` output size per direction
(``num_proj`` or ``H``), ``D`` directions, ``L`` layers.
"""
from __future__ import annotations

import torch
from torch import nn

from ..checks import parameters_fit
from .cells import BasicLSTMCell, LSTMCell, LSTMStateTuple, ParamCount, _describe, check_positive_int
from .fused import _WeightCache, stack_blocker
from .layernorm import LayerNormLSTMCell
from .rnn import _check_fused_flag, check_dtype, check_inputs, check_lengths, loop_path, run_stack

CELLS = {"basic": BasicLSTMCell, "lstm": LSTMCell, "layernorm": LayerNormLSTMCell}


class LSTM(nn.Module):
    """A stack of LSTM layers, optionally bidirectional, with TensorFlow's cells and semantics.

    Layer ``k`` direction ``d`` is ``self.cell(k, d)``: a :class:`BasicLSTMCell` (``cell="basic"``, the default),
    :class:`LSTMCell` (``cell="lstm"``) or :class:`LayerNormLSTMCell` (``cell="layernorm"``) whose
    ``kernel``/``bias`` are in TensorFlow's layout, so weights can be read and set the TensorFlow way. Layer 0 reads
    ``I`` features, later layers ``D * P``.

    Args:
        input_size: ``I``. num_units: ``H``. num_layers: ``L`` (default 1).
        bidirectional: add a backward cell per layer that reads each sequence reversed within its length.
        dropout: dropout on every layer's output but the last, in training (as ``torch.nn.LSTM``).
        cell: ``"basic"``, ``"lstm"`` or ``"layernorm"``.
        fused: None (auto), True (insist on the fused kernel), False (always the step loop).
        generator: the ``torch.Generator`` every cell draws its zoneout masks from (None: PyTorch's default).
        **cell_options: passed to every cell: ``forget_bias``, ``activation``, ``zoneout_c``, ``zoneout_h``, and
            for ``"lstm"`` ``use_peepholes``, ``cell_clip``, ``num_proj``, ``proj_clip``.

    Cells the fused kernel cannot run (peepholes, clipping, other activations, layer normalisation, zoneout) run
    the step loop, on its fast path (:mod:`lstmkit.nn.fast`) where it has one; ``use_fast = False`` forces the
    plain loop. ``last_path`` says which ran last: ``"fused"``, ``"fast"`` or ``"loop"``.

    Shapes:
        ``forward(x (B, T, I), lengths (B,) or None, initial_state) -> (outputs (B, T, D*P), final_states)``.
        ``final_states[k]`` is layer ``k``'s ``LSTMStateTuple(c (B, H), h (B, P))``, or for a bidirectional
        LSTM the pair ``(state_fw, state_bw)``; ``initial_state`` has the same structure.

    Example::

        >>> lstm = LSTM(28, 128, num_layers=2, bidirectional=True)
        >>> out, states = lstm(torch.randn(4, 10, 28), lengths=[10, 7, 3, 1])
        >>> out.shape, lstm.fused
        (torch.Size([4, 10, 256]), True)
    """

    def __init__(self, input_size: int, num_units: int, num_layers: int = 1, bidirectional: bool = False,
                 dropout: float = 0.0, cell: str = "basic", fused: bool | None = None, *,
                 generator: torch.Generator | None = None, dtype=None, device=None, **cell_options):
        super().__init__()
        check_positive_int("LSTM", "input_size", input_size)
        check_positive_int("LSTM", "num_units", num_units)
        check_positive_int("LSTM", "num_layers", num_layers)
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0.0 <= dropout < 1.0:
            raise ValueError(f"LSTM: dropout must be a number in [0, 1), got {dropout!r}")
        if cell not in CELLS:
            raise ValueError(f"LSTM: cell must be one of {sorted(CELLS)}, got {cell!r}")
        if "state_is_tuple" in cell_options:
            raise ValueError("LSTM: states are always LSTMStateTuple; state_is_tuple is for single cells")
        self.input_size, self.num_units, self.num_layers = input_size, num_units, num_layers
        self.bidirectional, self.dropout, self.cell_type = bool(bidirectional), float(dropout), cell
        self.cell_options = dict(cell_options)
        D = 2 if bidirectional else 1
        H, P = num_units, cell_options.get("num_proj") or num_units
        extra = (3 * H * bool(cell_options.get("use_peepholes")) + H * P * bool(cell_options.get("num_proj"))
                 + 10 * H * (cell == "layernorm"))
        per_cell = [((input_size if k == 0 else D * P) + P) * 4 * H + 4 * H + extra for k in range(num_layers)]
        parameters_fit("LSTM", D * sum(per_cell), f"input_size={input_size}, units={H}, layers={num_layers}"
                       f"{', bidirectional' if bidirectional else ''}", device)
        factory = {"dtype": dtype, "device": device, "generator": generator}
        layers, layer_in = [], input_size
        for _ in range(num_layers):
            layer = nn.ModuleList(CELLS[cell](layer_in, num_units, **cell_options, **factory) for _ in range(D))
            layers.append(layer)
            layer_in = D * layer[0].output_size                    # the next layer reads (B, T, D*P)
        self.layers = nn.ModuleList(layers)
        self._first_cell = [layers[0][0]]  # a plain list: not registered twice as a submodule
        self.output_size = layer_in
        self._blocker = stack_blocker(self.layers)
        self.use_fused = _check_fused_flag("LSTM", fused, self._blocker)
        self._cache = _WeightCache()
        self.use_fast = True
        self.last_path: str | None = None

    @property
    def num_directions(self) -> int:
        return 2 if self.bidirectional else 1

    @property
    def fused(self) -> bool:
        """Whether ``forward`` runs PyTorch's fused kernel (else the step loop; see ``fused_blocker``)."""
        return self.use_fused

    @property
    def fused_blocker(self) -> str | None:
        """What keeps these cells off the fused kernel (peepholes, clipping, ...), or None."""
        return self._blocker

    def cell(self, layer: int, direction: int = 0):
        """The cell of ``layer`` and ``direction`` (0 forward, 1 backward); its weights are the LSTM's."""
        return self.layers[layer][direction]

    @property
    def cells(self) -> list:
        return [c for layer in self.layers for c in layer]

    def forward(self, x: torch.Tensor, lengths=None, initial_state=None):
        owner = "LSTM.forward"
        x = check_inputs(owner, x, self.input_size, f"LSTM(input_size={self.input_size})")
        check_dtype(owner, x, self._first_cell[0].kernel)
        B, T = x.shape[0], x.shape[1]
        lens = check_lengths(owner, lengths, B, T, x.device)
        init = None if initial_state is None else self._unpack_states(initial_state, B)
        dropout = self.dropout if self.training else 0.0
        outputs, final = run_stack(self.layers, x, lens, init, dropout, self.training, self.use_fused, self._cache,
                                   self.use_fast)
        path = "fused" if self.use_fused else loop_path(self.layers, self.use_fast)
        if self.last_path != path:  # Module.__setattr__ is slow; B=1 latency counts every microsecond
            self.last_path = path
        if self.bidirectional:
            return outputs, tuple((fw, bw) for fw, bw in final)
        return outputs, tuple(states[0] for states in final)

    def _unpack_states(self, states, batch: int):
        owner = "LSTM.forward"
        want = "pairs (state_fw, state_bw)" if self.bidirectional else "LSTMStateTuple(c, h)"
        if not isinstance(states, (tuple, list)) or len(states) != self.num_layers:
            raise TypeError(f"{owner}: initial_state must be a tuple of {self.num_layers} layer states "
                            f"({want}), got {_describe(states)}")
        out = []
        for k, st in enumerate(states):
            per_dir = st if self.bidirectional else (st,)
            if self.bidirectional and (not isinstance(st, (tuple, list)) or len(st) != 2):
                raise TypeError(f"{owner}: initial_state[{k}] must be (state_fw, state_bw), got {_describe(st)}")
            out.append([cell.unpack_state(s, f"{owner} initial_state[{k}]", batch)
                        for cell, s in zip(self.layers[k], per_dir)])
        return out

    def param_counts(self) -> list[ParamCount]:
        """One row per layer and direction, each with its formula and numbers."""
        rows = []
        for k, layer in enumerate(self.layers):
            for d, cell in enumerate(layer):
                pc = cell.param_count()
                where = f"layer {k}" + (f" {'fw' if d == 0 else 'bw'}" if self.bidirectional else "")
                rows.append(ParamCount(f"{where} {pc.name}", pc.total, pc.symbolic, pc.formula))
        return rows

    def param_count(self) -> ParamCount:
        rows = self.param_counts()
        total = sum(r.total for r in rows)
        return ParamCount("LSTM", total, " + ".join(f"[{r.symbolic}]" for r in rows),
                          " + ".join(f"{r.total:,}" for r in rows) + f" = {total:,}")

    def extra_repr(self) -> str:
        opts = "".join(f", {k}={v!r}" for k, v in self.cell_options.items())
        return (f"input_size={self.input_size}, num_units={self.num_units}, num_layers={self.num_layers}, "
                f"bidirectional={self.bidirectional}, dropout={self.dropout}, cell={self.cell_type!r}{opts}, "
                f"fused={self.use_fused}")


def last_hidden(final_states) -> torch.Tensor:
    """The top layer's final ``h`` for every direction, concatenated: ``(B, D*P)``; the usual sentence vector."""
    top = final_states[-1]
    if isinstance(top, LSTMStateTuple):
        return top.h
    return torch.cat([s.h for s in top], dim=1)
