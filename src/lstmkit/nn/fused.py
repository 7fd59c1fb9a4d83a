"""The fast path: run TensorFlow-layout LSTM cells through PyTorch's fused LSTM kernel.

``torch.lstm`` is the kernel behind ``torch.nn.LSTM`` (oneDNN or ATen on CPU, cuDNN on GPU). Its layout differs
from TensorFlow's in three ways, all bridged here in one autograd node, so gradients land on the cells'
``kernel`` and ``bias`` in the TensorFlow layout:

- gate order: TensorFlow's columns are i, j, f, o; PyTorch's rows are i, f, g(=j), o;
- one kernel ``(I + P, 4H)`` for ``[x_t, h_{t-1}]`` vs ``weight_ih (4H, I)`` and ``weight_hh (4H, P)``;
- one bias plus the constant ``forget_bias`` vs two biases: ``b_ih`` takes ``bias``, ``b_hh`` the constant
  ``forget_bias`` in its forget part and zero elsewhere.

Variable lengths give TensorFlow's semantics exactly: zero outputs past each length, the final state taken at
the last valid step, and the backward direction reading each sequence reversed within its own length. On CPU
they run as a few unpacked kernel calls, one per distinct length (sorted inside, the caller's batch order
untouched): PyTorch's packed CPU kernel steps one time step at a time and has no oneDNN path. On CUDA they run as
one packed sequence, which cuDNN takes natively, every layer and direction in one call.

Under ``torch.autocast`` the kernel runs in the autocast dtype (bfloat16 or float16): the converted weights are
cast once (in one buffer on CUDA), the inputs and initial state with them, whatever autocast itself does for RNN
kernels on that device.
"""
from __future__ import annotations

import contextlib
import math
import warnings

import torch
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from .cells import BasicLSTMCell, LSTMCell, LSTMStateTuple
from .layernorm import LayerNormLSTMCell
from .sequences import stack_directions

# TensorFlow gate blocks (i, j, f, o) in PyTorch's order (i, f, g, o); the swap is its own inverse.
TF_TO_TORCH_GATES = (0, 2, 1, 3)


def fuse_blocker(cell) -> str | None:
    """Why ``cell`` cannot run on the fused kernel, or None when it can."""
    if isinstance(cell, LayerNormLSTMCell):
        return "layer normalisation (LayerNormLSTMCell)"
    if not isinstance(cell, (BasicLSTMCell, LSTMCell)):
        return f"{type(cell).__name__} is not an LSTM cell"
    if cell.zoneout:
        return "zoneout"
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


_ROWS: dict = {}


def _torch_rows(H: int, device) -> torch.Tensor:
    """``(4H,)``: PyTorch's row ``r`` is TensorFlow's column ``rows[r]``; its own inverse. Made once per size and
    device (on a GPU every small op is a kernel launch)."""
    key = (H, torch.device(device))
    if key not in _ROWS:
        blocks = torch.arange(4 * H, device=device).view(4, H)
        _ROWS[key] = blocks[list(TF_TO_TORCH_GATES)].reshape(4 * H)
    return _ROWS[key]


def tf_to_torch_weights(cell) -> list[torch.Tensor]:
    """One cell's parameters in ``torch.nn.LSTM``'s layout (differentiable: gradients flow back).

    Returns ``[weight_ih (4H, I), weight_hh (4H, P), bias_ih (4H,), bias_hh (4H,)]`` plus
    ``weight_hr (P, H)`` when the cell projects: the conversion the fused path runs (:func:`_convert`).
    """
    return _convert([[cell]])


class _WeightCache:
    """Converted weights reused while nothing needs their graph (inference) and the parameters are unchanged."""

    def __init__(self):
        self.key = None
        self.weights = None

    def get(self, layers, grad_needed: bool, dtype=None) -> list[torch.Tensor]:
        if grad_needed:
            self.key = self.weights = None
            return _convert(layers, dtype)
        key = tuple((p.data_ptr(), p._version, p.dtype, p.device) for p in _params(layers)) + tuple(
            cell.forget_bias for layer in layers for cell in layer) + (dtype,)
        if key != self.key:
            with torch.no_grad():
                self.weights = _convert(layers, dtype)
            self.key = key
        return self.weights


def _params(layers):
    # straight from each cell's own dict: this runs on every call, and Module.parameters() walks the tree
    return [p for layer in layers for cell in layer for p in cell._parameters.values()]


def _convert(layers, dtype=None) -> list[torch.Tensor]:
    """Every cell's weights in the kernel's layout (:func:`tf_to_torch_weights`), cast to ``dtype`` (autocast's)
    when given: views of one buffer, laid out as cuDNN wants on CUDA, built and differentiated as one autograd
    node (:class:`_KernelWeights`)."""
    params = [p for layer in layers for c in layer
              for p in ((c.kernel, c.bias, c.projection_kernel) if c.num_proj is not None else (c.kernel, c.bias))]
    plan = _plan(layers, dtype or params[0].dtype, params[0].device)
    return list(_KernelWeights.apply(plan, *params))


_PLANS: dict = {}


def _shapes(I: int, P: int, H: int, projecting: bool) -> list[tuple]:
    """The kernel's weights of one cell: weight_ih, weight_hh, bias_ih, bias_hh (and weight_hr)."""
    return [(4 * H, I), (4 * H, P), (4 * H,), (4 * H,)] + ([(P, H)] if projecting else [])


class _Plan:
    """How a stack's TensorFlow-layout parameters become the kernel's buffer, made once per shape, dtype and
    device (:func:`_plan`): the conversion is a gather, its backward the inverse gather, whatever the stack.

    ``cells``: each cell's ``(I, P, H, forget_bias, projecting)``; ``offsets``/``shapes``: where each kernel weight
    lies in the buffer of ``total`` elements; ``consts``: ``[0, forget biases...]``, laid after the parameters;
    ``gather`` ``(total,)``: for each buffer element, its index in the parameters flattened one after another and
    then ``consts``: padding is a zero, and ``bias_hh`` holds the constant ``forget_bias`` in its forget rows (the
    kernel adds both biases), zero elsewhere; ``views``: the views that carry gradients (every one but
    ``bias_hh``); ``scatter`` ``(parameter elements,)``: each parameter element's index in those views' gradients
    laid end to end."""

    def __init__(self, cells, offsets, total, dtype, device):
        self.cells, self.offsets, self.total, self.dtype = cells, offsets, total, dtype
        self.shapes = [shape for cell in cells for shape in _shapes(*cell[:3], cell[4])]
        biases = sorted({cell[3] for cell in cells if cell[3]})
        source = 0                                                   # where the cell's parameters start
        views, n = [], 0
        place = torch.full((total,), -1, dtype=torch.int64)          # buffer element -> parameter element
        for I, P, H, forget_bias, projecting in cells:
            rows = _torch_rows(H, "cpu")                             # PyTorch's row r is TF's column rows[r]
            k_ih = source + torch.arange(I).view(1, I) * 4 * H + rows.view(4 * H, 1)          # (4H, I)
            k_hh = source + (I + torch.arange(P).view(1, P)) * 4 * H + rows.view(4 * H, 1)    # (4H, P)
            b = source + (I + P) * 4 * H + rows                                                # (4H,)
            sources = [k_ih, k_hh, b, None]
            if projecting:
                w = source + (I + P) * 4 * H + 4 * H
                sources.append(w + torch.arange(H).view(1, H) * P + torch.arange(P).view(P, 1))  # (P, H)
            for k, src in enumerate(sources):
                o, size = offsets[n + k], math.prod(self.shapes[n + k])
                if src is None:
                    continue
                place[o: o + size] = src.reshape(-1)
                views.append(n + k)
            if forget_bias:                                          # forget: rows H..2H
                place[offsets[n + 3] + H: offsets[n + 3] + 2 * H] = -2 - biases.index(forget_bias)
            source += (I + P) * 4 * H + 4 * H + (H * P if projecting else 0)
            n += len(sources)
        self.views = views
        # -1 -> consts[0] (zero), -2 - k -> consts[1 + k]
        self.gather = torch.where(place < 0, source - 1 - place, place).to(device)
        # the gradient of parameter element s is the compact gradient at the place its buffer element takes there
        compact_of_buffer = torch.cat([torch.arange(offsets[v], offsets[v] + math.prod(self.shapes[v]))
                                       for v in views])              # compact position -> buffer element
        scatter = torch.empty(source, dtype=torch.int64)
        scatter[place[compact_of_buffer]] = torch.arange(len(compact_of_buffer))
        self.scatter = scatter.to(device)
        self.consts = torch.tensor([0.0, *biases], dtype=dtype, device=device)


def _plan(layers, dtype, device) -> _Plan:
    """The :class:`_Plan` of a stack. On CUDA the places are cuDNN's, asked of cuDNN itself once per shape, dtype
    and device (PyTorch's ``_cudnn_rnn_flatten_weight``, what ``torch.nn.LSTM.flatten_parameters`` calls, lays out
    stand-ins and points each at its place; aligned, so the layers and directions of a stack need not follow each
    other directly). Elsewhere, and where cuDNN cannot take the dtype, one after another."""
    cells = tuple((c.input_size, c.proj_size, c.num_units, float(c.forget_bias or 0.0), c.num_proj is not None)
                  for layer in layers for c in layer)
    key = (cells, len(layers), dtype, device)
    if key not in _PLANS:
        shapes = [shape for cell in cells for shape in _shapes(*cell[:3], cell[4])]
        sizes = [math.prod(shape) for shape in shapes]
        offsets = [sum(sizes[:k]) for k in range(len(sizes))]
        total = sum(sizes)
        if device.type == "cuda" and torch.backends.cudnn.enabled:
            first = layers[0][0]
            try:
                with torch.no_grad():
                    probes = [torch.empty(shape, dtype=dtype, device=device) for shape in shapes]
                    buf = torch._cudnn_rnn_flatten_weight(
                        probes, len(shapes) // len(cells), first.input_size, 2,  # 2: cuDNN's LSTM mode
                        first.num_units, first.proj_size if first.num_proj is not None else 0, len(layers), True,
                        len(layers[0]) == 2)
                base, item = buf.data_ptr(), buf.element_size()
                offsets, total = [(p.data_ptr() - base) // item for p in probes], buf.numel()
            except RuntimeError:  # cuDNN cannot take this stack: the kernel falls back to PyTorch's own
                pass
        _PLANS[key] = _Plan(cells, offsets, total, dtype, device)
    return _PLANS[key]


class _KernelWeights(torch.autograd.Function):
    """TensorFlow-layout parameters -> the kernel's weights, views of one buffer (see :class:`_Plan`).

    One concatenation and one gather for the whole stack (and a cast under autocast), its backward one
    concatenation and the inverse gather: a chain of reorders, folds, concatenations and slices per cell costs more
    than the LSTM kernel itself at small sizes on a GPU, where each op is a kernel launch.
    """

    @staticmethod
    def forward(ctx, plan, *params):
        flat = torch.cat([p.reshape(-1) for p in params] + [plan.consts.to(params[0].dtype)])
        buf = flat.to(plan.dtype).index_select(0, plan.gather)
        ctx.plan, ctx.params = plan, [(p.shape, p.dtype) for p in params]
        return tuple(buf[o: o + math.prod(shape)].view(shape) for o, shape in zip(plan.offsets, plan.shapes))

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, *grads):
        plan = ctx.plan
        like = next(g for g in grads if g is not None)  # some weight has a gradient, or no backward at all
        flat = torch.cat([grads[v].reshape(-1) if grads[v] is not None else like.new_zeros(math.prod(plan.shapes[v]))
                          for v in plan.views]).index_select(0, plan.scatter)
        dtypes = {dtype for _, dtype in ctx.params}
        if len(dtypes) == 1:
            flat = flat.to(dtypes.pop())
        out = flat.split([math.prod(shape) for shape, _ in ctx.params])
        return (None, *(g.view(shape).to(dtype) for g, (shape, dtype) in zip(out, ctx.params)))


def autocast_dtype(device: torch.device):
    """The dtype ``torch.autocast`` computes in on ``device`` right now, or None when it is off there."""
    if device.type not in ("cpu", "cuda") or not torch.is_autocast_enabled(device.type):
        return None
    return torch.get_autocast_dtype(device.type)


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
                dropout: float = 0.0, training: bool = False, cache: _WeightCache | None = None,
                packed: bool | None = None):
    """Run a stack of cells (``layers[k][d]``, ``d`` = 0 forward, 1 backward) on PyTorch's fused kernel.

    Args:
        inputs: ``(B, T, I)``, batch-major. lengths: ``(B,)`` int64 in 1..T, or None (every step valid).
        initial_states: None or ``initial_states[k][d]`` an ``LSTMStateTuple(c (B, H), h (B, P))``.
        dropout: applied to every layer's output but the last, in training.
        packed: how variable lengths run: True one packed sequence (:func:`_packed`), False one unpacked call
            per distinct length (:func:`_segments`); None (default) packed on CUDA, segments elsewhere.

    Returns:
        ``outputs (B, T, D*P)`` (zero past each length) and ``final[k][d]`` as ``LSTMStateTuple``; in the
        autocast dtype under ``torch.autocast``.

    Full-length batches take one kernel call for every layer and direction, as ``torch.nn.LSTM`` does.
    """
    layers = [list(layer) for layer in layers]  # plain lists: ModuleList indexing is slow on the hot path
    L, D = len(layers), len(layers[0])
    H, P = layers[0][0].num_units, layers[0][0].proj_size
    B, T = inputs.shape[0], inputs.shape[1]
    grad_needed = torch.is_grad_enabled() and any(p.requires_grad for p in _params(layers))
    amp = autocast_dtype(inputs.device)
    weights = cache.get(layers, grad_needed, amp) if cache is not None else _convert(layers, amp)
    if initial_states is None:
        h0 = inputs.new_zeros(L * D, B, P, dtype=amp)
        c0 = inputs.new_zeros(L * D, B, H, dtype=amp)
    else:
        h0 = torch.stack([st.h for layer in initial_states for st in layer])  # (L*D, B, P)
        c0 = torch.stack([st.c for layer in initial_states for st in layer])  # (L*D, B, H)
    if amp is not None:
        inputs, h0, c0 = inputs.to(amp), h0.to(amp), c0.to(amp)
    # the kernel's own "train" flag: dropout between layers, and on cuDNN whether it keeps what its backward needs,
    # so it is on whenever a gradient may flow (a module in eval mode can still be differentiated)
    keep = training or (torch.is_grad_enabled() and (grad_needed or inputs.requires_grad or h0.requires_grad
                                                     or c0.requires_grad))
    dropout = dropout if training else 0.0
    if lengths is not None and int(lengths.min()) == T:
        lengths = None  # every sequence is full
    with torch.autocast(inputs.device.type, enabled=False) if amp is not None else contextlib.nullcontext():
        if lengths is None:
            with _quiet_projection(P != H):
                out, hn, cn = torch.lstm(inputs, (h0, c0), weights, True, L, dropout, keep, D == 2, True)
        elif packed if packed is not None else inputs.is_cuda:
            out, hn, cn = _packed(inputs, lengths, h0, c0, weights, L, dropout, keep, D == 2, P != H)
        else:
            return _segmented_stack(layers, inputs, lengths, h0, c0, weights, dropout, training, keep)
    return out, [[LSTMStateTuple(cn[k * D + d], hn[k * D + d]) for d in range(D)] for k in range(L)]


def _packed(x, lengths, h0, c0, weights, layers: int, dropout: float, train: bool, bidirectional: bool,
            projecting: bool):
    """Every layer and direction over ``x (B, T, I)`` as one packed sequence (cuDNN's variable-length kernel).

    A packed sequence has ``dynamic_rnn``'s semantics: each direction sees only the valid steps (the backward
    one reads them reversed), the final state is taken at the last valid step, and padding comes out zero.
    Returns ``outputs (B, T, D*P)``, ``h_n (L*D, B, P)``, ``c_n (L*D, B, H)``, in the caller's batch order.
    """
    T = x.shape[1]
    seq = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
    order, back = seq.sorted_indices, seq.unsorted_indices
    with _quiet_projection(projecting):
        data, hn, cn = torch.lstm(seq.data, seq.batch_sizes, (h0.index_select(1, order), c0.index_select(1, order)),
                                  weights, True, layers, dropout, train, bidirectional)
    out, _ = pad_packed_sequence(PackedSequence(data, seq.batch_sizes, order, back), batch_first=True,
                                 total_length=T)
    return out, hn.index_select(1, back), cn.index_select(1, back)


def _segmented_stack(layers, inputs, lengths, h0, c0, weights, dropout: float, training: bool, keep: bool):
    """Variable lengths layer by layer and direction by direction, each as :func:`_segments`."""
    L, D = len(layers), len(layers[0])
    # longest-first order (the caller's order is restored at the end): the sequences still running at any step
    # are a prefix of the batch
    per_cell = len(weights) // (L * D)  # 4 weights per cell, 5 with a projection
    order = torch.argsort(lengths, descending=True, stable=True)
    back = torch.argsort(order)
    lens = lengths.index_select(0, order)
    lens_list = lens.tolist()
    x = inputs.index_select(0, order)
    h0, c0 = h0.index_select(1, order), c0.index_select(1, order)

    def run(k, d, cell, xs):
        n = k * D + d
        out, (h, c) = _segments(xs, lens_list, h0[n], c0[n], weights[n * per_cell:(n + 1) * per_cell], keep)
        return out, LSTMStateTuple(c.index_select(0, back), h.index_select(0, back))

    out, final = stack_directions(layers, x, lens, dropout, training, run)
    return out.index_select(0, back), final


def _segments(x: torch.Tensor, lens: list, h: torch.Tensor, c: torch.Tensor, weights, train: bool = False):
    """One layer, one direction over ``x (B, T, I)`` sorted longest first, exactly as ``dynamic_rnn``.

    One unpacked kernel call per distinct length: steps ``[prev, L)`` run on the sequences still going, and
    those of length ``L`` hand over their final state there. Faster than a packed sequence, whose kernel
    steps one time step at a time (and has no oneDNN path on CPU). ``train``: the kernel's train flag (on
    cuDNN, whether it keeps what its backward needs). Returns ``outputs (B, T, P)`` zero past each length and the
    final ``(h (B, P), c (B, H))``.
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
                                 train, False, True)                             # (active, steps, P)
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
