"""The fast path: run TensorFlow-layout LSTM cells through PyTorch's fused LSTM kernel.

``torch.lstm`` is the kernel behind ``torch.nn.LSTM`` (oneDNN or ATen on CPU, cuDNN on GPU). Its layout differs
from TensorFlow's in three ways, all bridged here with differentiable ops, so gradients land on the cells'
``kernel`` and ``bias`` in the TensorFlow layout:

- gate order: TensorFlow's columns are i, j, f, o; PyTorch's rows are i, f, g(=j), o;
- one kernel ``(I + P, 4H)`` for ``[x_t, h_{t-1}]`` vs ``weight_ih (4H, I)`` and ``weight_hh (4H, P)``;
- one bias plus the constant ``forget_bias`` vs two biases: ``b_ih`` takes ``bias`` with ``forget_bias``
  folded into its forget part, ``b_hh`` is zero.

Variable lengths run as a few unpacked kernel calls, one per distinct length (sorted inside, the caller's
batch order untouched), which gives TensorFlow's semantics exactly: zero outputs past each length, the final
state taken at the last valid step, and the backward direction reading each sequence reversed within its own
length.
"""
from __future__ import annotations

import contextlib
import warnings

import torch

from .cells import BasicLSTMCell, LSTMCell, LSTMStateTuple
from .sequences import stack_directions

# TensorFlow gate blocks (i, j, f, o) in PyTorch's order (i, f, g, o); the swap is its own inverse.
TF_TO_TORCH_GATES = (0, 2, 1, 3)


def fuse_blocker(cell) -> str | None:
    """Why ``cell`` cannot run on the fused kernel, or None when it can."""
    if not isinstance(cell, (BasicLSTMCell, LSTMCell)):
        return f"{type(cell).__name__} is not an LSTM cell"
    if cell.activation not in ("tanh", torch.tanh):
        return f"activation {cell.activation!r} (the fused kernel computes tanh)"
    if isinstance(cell, LSTMCell):
        if cell.use_peepholes:
            return "peepholes"
        if cell.cell_clip is not None:
            return "cell_clip"
        if cell.proj_clip is not None:
            return "proj_clip"
        if cell.num_proj is not None and cell.num_proj >= cell.num_units:
            return f"num_proj={cell.num_proj} >= num_units={cell.num_units} (the kernel needs P < H)"
    return None


def stack_blocker(layers) -> str | None:
    """Why a stack ``layers[k][d]`` of cells cannot run as one fused call, or None when it can."""
    for layer in layers:
        for cell in layer:
            reason = fuse_blocker(cell)
            if reason:
                return reason
    first = layers[0][0]
    for k, layer in enumerate(layers):
        for cell in layer:
            if (cell.num_units, cell.proj_size) != (first.num_units, first.proj_size):
                return "layers of different sizes"
            if cell.input_size != (first.input_size if k == 0 else len(layer) * first.proj_size):
                return "a layer's input size is not the previous layer's output size"
    return None


def _torch_rows(H: int, device) -> torch.Tensor:
    blocks = torch.arange(4 * H, device=device).view(4, H)
    return blocks[list(TF_TO_TORCH_GATES)].reshape(4 * H)


def _forget_fold(H: int, forget_bias: float, like: torch.Tensor) -> torch.Tensor:
    fold = torch.zeros(4 * H, dtype=like.dtype, device=like.device)
    fold[H:2 * H] = forget_bias
    return fold


def tf_to_torch_weights(cell) -> list[torch.Tensor]:
    """One cell's parameters in ``torch.nn.LSTM``'s layout (differentiable: gradients flow back).

    Returns ``[weight_ih (4H, I), weight_hh (4H, P), bias_ih (4H,), bias_hh (4H,)]`` plus
    ``weight_hr (P, H)`` when the cell projects.
    """
    I, H = cell.input_size, cell.num_units
    kernel, bias = cell.kernel, cell.bias
    rows = _torch_rows(H, kernel.device)                          # (4H,): PyTorch row r <- TF column rows[r]
    w_ih = kernel[:I].t().index_select(0, rows)                   # (I, 4H) -> (4H, I), one contiguous copy
    w_hh = kernel[I:].t().index_select(0, rows)                   # (P, 4H) -> (4H, P)
    b = bias.index_select(0, rows)                                # (4H,)
    if cell.forget_bias:
        b = b + _forget_fold(H, cell.forget_bias, b)               # forget is rows H..2H in PyTorch's order
    weights = [w_ih, w_hh, b, torch.zeros(4 * H, dtype=b.dtype, device=b.device)]
    if cell.num_proj is not None:
        weights.append(cell.projection_kernel.t().contiguous())  # (P, H)
    return weights


class _WeightCache:
    """Converted weights reused while nothing needs their graph (inference) and the parameters are unchanged."""

    def __init__(self):
        self.key = None
        self.weights = None

    def get(self, layers, grad_needed: bool) -> list[torch.Tensor]:
        if grad_needed:
            self.key = self.weights = None
            return _convert(layers)
        key = tuple((p.data_ptr(), p._version, p.dtype, p.device) for p in _params(layers)) + tuple(
            cell.forget_bias for layer in layers for cell in layer)
        if key != self.key:
            with torch.no_grad():
                self.weights = _convert(layers)
            self.key = key
        return self.weights


def _params(layers):
    # straight from each cell's own dict: this runs on every call, and Module.parameters() walks the tree
    return [p for layer in layers for cell in layer for p in cell._parameters.values()]


def _convert(layers) -> list[torch.Tensor]:
    flat = [w for layer in layers for cell in layer for w in tf_to_torch_weights(cell)]
    if flat[0].is_cuda:
        # cuDNN wants every weight in one contiguous buffer, in this order; otherwise it re-packs (and warns)
        # on every call. The concatenation is differentiable, so gradients still reach the TF-layout params.
        buf = torch.cat([w.reshape(-1) for w in flat])
        views, offset = [], 0
        for w in flat:
            views.append(buf[offset: offset + w.numel()].view_as(w))
            offset += w.numel()
        flat = views
    return flat


@contextlib.contextmanager
def _quiet_projection(projecting: bool):
    """With a projection PyTorch warns that oneDNN lacks one and it uses its own kernel: a fact about PyTorch's
    internals that tells lstmkit's users nothing."""
    if not projecting:
        yield
        return
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="LSTM with projections is not supported with oneDNN")
        yield


def fused_stack(layers, inputs: torch.Tensor, lengths: torch.Tensor | None, initial_states,
                dropout: float = 0.0, training: bool = False, cache: _WeightCache | None = None):
    """Run a stack of cells (``layers[k][d]``, ``d`` = 0 forward, 1 backward) on PyTorch's fused kernel.

    Args:
        inputs: ``(B, T, I)``, batch-major. lengths: ``(B,)`` int64 in 1..T, or None (every step valid).
        initial_states: None or ``initial_states[k][d]`` an ``LSTMStateTuple(c (B, H), h (B, P))``.
        dropout: applied to every layer's output but the last, in training.

    Returns:
        ``outputs (B, T, D*P)`` (zero past each length) and ``final[k][d]`` as ``LSTMStateTuple``.

    Full-length batches take one kernel call for every layer and direction, as ``torch.nn.LSTM`` does.
    Variable lengths take :func:`_segments` per layer and direction.
    """
    layers = [list(layer) for layer in layers]  # plain lists: ModuleList indexing is slow on the hot path
    L, D = len(layers), len(layers[0])
    H, P = layers[0][0].num_units, layers[0][0].proj_size
    B, T = inputs.shape[0], inputs.shape[1]
    grad_needed = torch.is_grad_enabled() and any(p.requires_grad for p in _params(layers))
    weights = cache.get(layers, grad_needed) if cache is not None else _convert(layers)
    if initial_states is None:
        h0 = inputs.new_zeros(L * D, B, P)
        c0 = inputs.new_zeros(L * D, B, H)
    else:
        h0 = torch.stack([st.h for layer in initial_states for st in layer])  # (L*D, B, P)
        c0 = torch.stack([st.c for layer in initial_states for st in layer])  # (L*D, B, H)
    if lengths is not None and int(lengths.min()) == T:
        lengths = None  # every sequence is full
    if lengths is None:
        with _quiet_projection(P != H):
            out, hn, cn = torch.lstm(inputs, (h0, c0), weights, True, L, dropout, training, D == 2, True)
        return out, [[LSTMStateTuple(cn[k * D + d], hn[k * D + d]) for d in range(D)] for k in range(L)]

    # Variable lengths: work in longest-first order (the caller's order is restored at the end), so the
    # sequences still running at any step are a prefix of the batch.
    per_cell = len(weights) // (L * D)  # 4 weights per cell, 5 with a projection
    order = torch.argsort(lengths, descending=True, stable=True)
    back = torch.argsort(order)
    lens = lengths.index_select(0, order)
    lens_list = lens.tolist()
    x = inputs.index_select(0, order)
    h0, c0 = h0.index_select(1, order), c0.index_select(1, order)

    def run(k, d, cell, xs):
        n = k * D + d
        out, (h, c) = _segments(xs, lens_list, h0[n], c0[n], weights[n * per_cell:(n + 1) * per_cell])
        return out, LSTMStateTuple(c.index_select(0, back), h.index_select(0, back))

    out, final = stack_directions(layers, x, lens, dropout, training, run)
    return out.index_select(0, back), final


def _segments(x: torch.Tensor, lens: list, h: torch.Tensor, c: torch.Tensor, weights):
    """One layer, one direction over ``x (B, T, I)`` sorted longest first, exactly as ``dynamic_rnn``.

    One unpacked kernel call per distinct length: steps ``[prev, L)`` run on the sequences still going, and
    those of length ``L`` hand over their final state there. Faster than a packed sequence, whose kernel
    steps one time step at a time (and has no oneDNN path on CPU). Returns ``outputs (B, T, P)`` zero past
    each length and the final ``(h (B, P), c (B, H))``.
    """
    B, T = x.shape[0], x.shape[1]
    h, c = h.unsqueeze(0), c.unsqueeze(0)                                       # (1, B, P), (1, B, H)
    ends = sorted(set(lens))
    finishing = {n: lens.count(n) for n in ends}
    # one split, not a slice per segment: a slice's backward fills a zero tensor of the whole input
    pieces = x[:, :ends[-1]].split([b - a for a, b in zip([0] + ends[:-1], ends)], dim=1)
    outs, done_h, done_c = [], [], []
    active = B
    for end, piece in zip(ends, pieces):
        with _quiet_projection(len(weights) == 5):
            o, h, c = torch.lstm(piece[:active], (h[:, :active], c[:, :active]), weights, True, 1, 0.0,
                                 False, False, True)                             # (active, steps, P)
        outs.append(o if active == B else torch.nn.functional.pad(o, (0, 0, 0, 0, 0, B - active)))
        keep = active - finishing[end]
        done_h.append(h[0, keep:active])
        done_c.append(c[0, keep:active])
        active = keep
    out = torch.cat(outs, dim=1)                                                 # (B, max length, P)
    if out.shape[1] < T:
        out = torch.nn.functional.pad(out, (0, 0, 0, T - out.shape[1]))
    # the shortest sequences finished first and sit last in the batch
    return out, (torch.cat(done_h[::-1]), torch.cat(done_c[::-1]))
