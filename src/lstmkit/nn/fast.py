"""The step loop's fast path: a whole sequence of one cell as one autograd node with a hand-written backward.

Shape legend: ``B`` batch, ``T`` time steps, ``H`` units, ``P`` output size (``num_proj`` or ``H``).

The plain loop (:func:`lstmkit.nn.rnn._loop_cell`) records some ten autograd nodes per step, and its backward
multiplies ``h_{t-1}^T @ dgates`` step by step. Here the forward runs without a graph, keeping what the backward
needs, and the backward walks time in reverse with a few tensor ops per step (``dgates @ W_h^T`` is the only
matmul), then takes every weight's gradient in one large matmul or reduction over all steps at once, as cuDNN does:
``dW_h = [h_0 .. h_{T-1}]^T @ [dgates_1 .. dgates_T]``. The input half (``x @ W_x + bias``, or its layer
normalisation) stays outside, in ``project_inputs``, where autograd takes its gradient as one matmul too.

It computes every cell the plain loop does, whose activation is a name: ``BasicLSTMCell``, ``LSTMCell`` (peepholes,
``cell_clip``, a projection, ``proj_clip``), ``LayerNormLSTMCell``, each with zoneout and variable lengths; tests
hold it to the plain loop to 1e-12 in float64, outputs and gradients. Steps past a sequence's length and zoneout
share one form (:class:`_Mix`): the next state is the previous one where a mask says so (past the length, or
zoneout's mask in training: ``torch.where``, as the plain loop), and in evaluation ``lerp(new, previous, z)``.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from .cells import BasicLSTMCell, LSTMCell, LSTMStateTuple, _LSTMCellBase
from .fast_infer import infer
from .layernorm import LayerNormLSTMCell
from .sequences import valid_mask


def fast_blocker(cell) -> str | None:
    """Why ``cell`` has no fast path (the plain loop runs it), or None when it has one."""
    if not isinstance(cell, (BasicLSTMCell, LSTMCell, LayerNormLSTMCell)):
        return f"{type(cell).__name__} is not one of lstmkit's cells"
    if not isinstance(cell.activation, str):
        return "a callable activation (the fast path differentiates tanh, relu and sigmoid by hand)"
    return None


@dataclass(frozen=True)
class _Spec:
    """What one cell's step does, as plain values (the autograd node keeps it)."""

    H: int
    P: int
    activation: str
    peepholes: bool = False
    cell_clip: float | None = None
    projecting: bool = False
    proj_clip: float | None = None
    layer_norm: float | None = None          # the epsilon of a LayerNormLSTMCell


def _spec_and_params(cell: _LSTMCellBase):
    W = cell.kernel[cell.input_size:]                                          # (P, 4H)
    spec = _Spec(cell.num_units, cell.proj_size, cell.activation)
    params = [W]
    if isinstance(cell, LSTMCell):
        spec = _Spec(cell.num_units, cell.proj_size, cell.activation, cell.use_peepholes, cell.cell_clip,
                     cell.num_proj is not None, cell.proj_clip)
        if cell.use_peepholes:
            params += [cell.w_i_diag, cell.w_f_diag, cell.w_o_diag]
        if cell.num_proj is not None:
            params.append(cell.projection_kernel)
    elif isinstance(cell, LayerNormLSTMCell):
        spec = _Spec(cell.num_units, cell.proj_size, cell.activation, layer_norm=cell.layer_norm_epsilon)
        params += [cell.gamma_h, cell.gamma_c, cell.beta_c]
    return spec, params


class _Mix:
    """How one half of the state (``c`` or ``h``) goes from the new value to the next state: ``keep`` ``(T, B, n)``
    bool (the zoneout mask in training, or'ed with the steps past each length) takes the previous value where True,
    exactly as the plain loop's ``torch.where``; ``z`` (zoneout's probability, in evaluation) mixes
    ``lerp(new, previous, z)`` first."""

    def __init__(self, keep, z: float):
        self.keep, self.z = keep, z
        self.steps = None if keep is None else keep.unbind(0)

    def forward(self, t: int, prev, new):
        if self.z:
            new = torch.lerp(new, prev, self.z)
        return new if self.steps is None else torch.where(self.steps[t], prev, new)

    def backward(self, t: int, g):
        """``(g_new, g_prev)``: the gradient ``g`` of step ``t``'s next state split between the new value and the
        previous one, two ops (the mask selects, the rest is the difference)."""
        if self.steps is None:
            return g * (1 - self.z), g * self.z
        g_new = g.masked_fill(self.steps[t], 0)
        if self.z:
            g_new = g_new * (1 - self.z)
        return g_new, g - g_new


def _mixes(cell, B: int, T: int, lengths, masks):
    """``(mix_c, mix_h)``: each None (the next state is the new one) or a :class:`_Mix`."""
    invalid = None if lengths is None else ~valid_mask(lengths, T).t().unsqueeze(2)       # (T, B, 1)
    out = []
    for k, z in enumerate((cell.zoneout_c, cell.zoneout_h)):
        # (T, B, n) contiguous: each step's (B, n) slice dense (a strided slice makes every op on it several
        # times slower)
        keep = masks[k].transpose(0, 1).contiguous() if masks is not None and masks[k] is not None else None
        if keep is not None and invalid is not None:
            keep = keep | invalid
        elif keep is None:
            keep = invalid
        z = z if z and not cell.training else 0.0
        out.append(None if keep is None and not z else _Mix(keep, z))
    return out


def fast_loop(cell, x_proj: torch.Tensor, lengths, state: LSTMStateTuple, masks):
    """One cell over ``x_proj = cell.project_inputs(x)`` ``(B, T, 4H)``: outputs ``(B, T, P)`` zero past each length
    and the final state, as the plain loop; ``masks`` the zoneout masks the loop drew (None outside training)."""
    B, T = x_proj.shape[0], x_proj.shape[1]
    if lengths is not None and int(lengths.min()) == T:
        lengths = None                                            # every sequence is full
    spec, params = _spec_and_params(cell)
    mix_c, mix_h = _mixes(cell, B, T, lengths, masks)
    steps = T if lengths is None else int(lengths.max())
    valid = None if lengths is None else valid_mask(lengths, T).unsqueeze(2).to(x_proj.dtype)  # (B, T, 1)
    tensors = (x_proj, state.c, state.h, *params)
    if torch.is_grad_enabled() and any(t.requires_grad for t in tensors):
        out, c, h = _FastLoop.apply(spec, steps, mix_c, mix_h, valid, *tensors)
    elif all(m is None or m.keep is None for m in (mix_c, mix_h)):
        out, c, h = infer(x_proj, state.c, state.h, params, spec, *(0.0 if m is None else m.z for m in (mix_c, mix_h)))
    else:
        out, c, h, _ = _forward(spec, steps, mix_c, mix_h, valid, x_proj, state.c, state.h, params, False)
    return out, LSTMStateTuple(c, h)


_ACT = {"tanh": torch.tanh, "relu": torch.relu, "sigmoid": torch.sigmoid}


def _act_grad(name: str, y: torch.Tensor) -> torch.Tensor:
    """The activation's derivative from its output ``y``."""
    if name == "tanh":
        return torch.addcmul(y.new_ones(()), y, y, value=-1)                             # 1 - y^2, one op
    if name == "sigmoid":
        return y * (1 - y)
    return (y > 0).to(y.dtype)


def _forward(s: _Spec, steps: int, mix_c, mix_h, valid, x_proj, c, h, params, keep: bool):
    """The loop without a graph; with ``keep``, what the backward needs (lists over steps). Few Python-level ops
    per step (one ``chunk``, no indexing, the outputs stacked once): at B=1 each op costs about as much as the
    matmul."""
    B, T = x_proj.shape[0], x_proj.shape[1]
    H, act = s.H, _ACT[s.activation]
    W, rest = params[0], list(params[1:])
    wi, wf, wo = (rest.pop(0), rest.pop(0), rest.pop(0)) if s.peepholes else (None, None, None)
    Wp = rest.pop(0) if s.projecting else None
    gamma_h, gamma_c, beta_c = rest if s.layer_norm is not None else (None, None, None)
    saved = {k: [] for k in ("h", "c", "e4", "da", "sf", "clip", "m", "pclip", "rhat", "rstd", "cn", "chat",
                             "rstd_c")}
    outs = []
    with torch.no_grad():
        for t, xp in enumerate(x_proj.transpose(0, 1)[:steps].unbind(0)):               # xp (B, 4H)
            if keep:
                saved["h"].append(h)
                saved["c"].append(c)
            if s.layer_norm is not None:
                hw = torch.mm(h, W)                                                        # (B, P) @ (P, 4H)
                rhat, _, rstd = torch.native_layer_norm(hw, (4 * H,), None, None, s.layer_norm)  # normalised
                z = torch.addcmul(xp, rhat, gamma_h)
                if keep:
                    saved["rhat"].append(rhat)
                    saved["rstd"].append(rstd)
            else:
                z = torch.addmm(xp, h, W)                                                  # (B, 4H)
            zi, zj, zf, zo = z.chunk(4, 1)
            aj = act(zj)
            if s.peepholes:
                si = torch.sigmoid(torch.addcmul(zi, wi, c))
                sf = torch.sigmoid(torch.addcmul(zf, wf, c))
            else:
                s4 = torch.sigmoid(z)
                si, _, sf, so = s4.chunk(4, 1)
            c_raw = torch.addcmul(c * sf, si, aj)
            c_new = c_raw if s.cell_clip is None else c_raw.clamp(-s.cell_clip, s.cell_clip)
            if s.peepholes:
                so = torch.sigmoid(torch.addcmul(zo, wo, c_new))
            if s.layer_norm is not None:
                c_hat, _, rstd_c = torch.native_layer_norm(c_new, (H,), None, None, s.layer_norm)
                ac = act(torch.addcmul(beta_c, c_hat, gamma_c))
            else:
                ac = act(c_new)
            m = ac * so                                                                    # (B, H)
            h_new = m
            if s.projecting:
                h_new = m @ Wp                                                             # (B, H) @ (H, P)
                if s.proj_clip is not None:
                    if keep:
                        saved["pclip"].append(h_new.abs() <= s.proj_clip)
                    h_new = h_new.clamp(-s.proj_clip, s.proj_clip)
            if keep:   # the derivatives, while the step's tensors are in cache: see _FastLoop.backward
                s4 = torch.cat([si, zj, sf, so], dim=1) if s.peepholes else s4
                e4 = torch.cat([aj, si, c, ac], dim=1).mul_(torch.addcmul(s4, s4, s4, value=-1))  # (B, 4H)
                torch.mul(si, _act_grad(s.activation, aj), out=e4[:, H:2 * H])
                saved["e4"].append(e4)
                saved["da"].append(_act_grad(s.activation, ac).mul_(so))
                saved["sf"].append(sf)
                if s.cell_clip is not None:
                    saved["clip"].append(c_raw.abs() <= s.cell_clip)
                if s.projecting:
                    saved["m"].append(m)
                if s.peepholes:
                    saved["cn"].append(c_new)
                if s.layer_norm is not None:
                    saved["chat"].append(c_hat)
                    saved["rstd_c"].append(rstd_c)
            c = c_new if mix_c is None else mix_c.forward(t, c, c_new)
            h = h_new if mix_h is None else mix_h.forward(t, h, h_new)
            outs.append(h)
        out = torch.stack(outs, dim=1)                                                     # (B, steps, P)
        if valid is not None:
            out = out * valid[:, :steps]                                                   # zero past each length
        if steps < T:
            out = torch.cat([out, out.new_zeros(B, T - steps, s.P)], dim=1)
    return out, c, h, saved


class _FastLoop(torch.autograd.Function):
    """``(x_proj (B, T, 4H), c0 (B, H), h0 (B, P), W_h (P, 4H), *cell params) -> (outputs (B, T, P), c, h)``."""

    @staticmethod
    def forward(ctx, spec, steps, mix_c, mix_h, valid, x_proj, c0, h0, *params):
        out, c, h, saved = _forward(spec, steps, mix_c, mix_h, valid, x_proj, c0, h0, params, True)
        ctx.spec, ctx.steps, ctx.mixes, ctx.valid, ctx.saved = spec, steps, (mix_c, mix_h), valid, saved
        ctx.shape = x_proj.shape
        ctx.save_for_backward(*params)
        return out, c, h

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, g_out, g_c, g_h):
        """Time in reverse. The forward kept, per step, ``e4 = [act(j) si', si act'(j), c_{t-1} sf', act(c) so']``
        (``x'`` the sigmoid's derivative at ``x``) and ``da = act'(c) so``, so that ``dz = [dc, dc, dc, dh] * e4``:
        a few tensor ops per step, the weights' gradients after the loop."""
        s, steps, sv, valid = ctx.spec, ctx.steps, ctx.saved, ctx.valid
        mix_c, mix_h = ctx.mixes
        params = ctx.saved_tensors
        W, rest = params[0], list(params[1:])
        wi, wf, wo = (rest.pop(0), rest.pop(0), rest.pop(0)) if s.peepholes else (None, None, None)
        Wp = rest.pop(0) if s.projecting else None
        gamma_h, gamma_c, beta_c = rest if s.layer_norm is not None else (None, None, None)
        H, (B, T, _) = s.H, ctx.shape
        G = W.new_empty(B, T, 4 * H)                                                      # dz at every step
        if steps < T:
            G[:, steps:] = 0
        GW = G if s.layer_norm is None else W.new_empty(B, steps, 4 * H)                 # d(h @ W) per step
        gh = torch.zeros_like(sv["h"][0]) if g_h is None else g_h
        gc = torch.zeros_like(sv["c"][0]) if g_c is None else g_c
        if g_out is not None and valid is not None:
            g_out = g_out * valid
        G_hp = [None] * steps
        if s.layer_norm is not None:   # LN's backward from the normalised values (mean 0, rstd 1), then * rstd;
            # the gains' gradients per step from the same kernels, summed after the loop
            zero, one = W.new_zeros(B, 1), W.new_ones(B, 1)
            d_gains = []                                         # per step: d gamma_c, d beta_c, d gamma_h
        for t in range(steps - 1, -1, -1):
            if g_out is not None:
                gh = gh + g_out[:, t]
            g_hnew, gh = (gh, None) if mix_h is None else mix_h.backward(t, gh)
            g_cnew, gc = (gc, None) if mix_c is None else mix_c.backward(t, gc)
            g_m = g_hnew
            if s.projecting:
                if s.proj_clip is not None:
                    g_hnew = g_hnew * sv["pclip"][t]
                G_hp[t] = g_hnew
                g_m = g_hnew @ Wp.t()                                                     # (B, P) @ (P, H)
            e4, g_t = sv["e4"][t], G[:, t]
            if s.layer_norm is not None:
                g_chat = g_m * sv["da"][t]                                                # (B, H)
                c_hat = sv["chat"][t]
                d_c, d_gamma_c, d_beta_c = torch.ops.aten.native_layer_norm_backward(
                    g_chat, c_hat, (H,), zero, one, gamma_c, beta_c, [True, True, True])
                g_cnew = torch.addcmul(g_cnew, d_c, sv["rstd_c"][t])
            else:
                g_cnew = torch.addcmul(g_cnew, g_m, sv["da"][t])
            e4v, g_tv = e4.view(B, 4, H), g_t.view(B, 4, H)            # blocks i, j, f, o without copies
            g_o = torch.mul(g_m, e4v[:, 3], out=g_tv[:, 3])
            if s.peepholes:
                g_cnew = torch.addcmul(g_cnew, g_o, wo)
            if s.cell_clip is not None:
                g_cnew = g_cnew * sv["clip"][t]
            torch.mul(e4v[:, :3], g_cnew.unsqueeze(1), out=g_tv[:, :3])
            g_cprev = g_cnew * sv["sf"][t]
            if s.peepholes:
                g_cprev = torch.addcmul(torch.addcmul(g_cprev, g_t[:, :H], wi), g_t[:, 2 * H:3 * H], wf)
            gc = g_cprev if gc is None else gc + g_cprev
            g_hw = g_t
            if s.layer_norm is not None:
                rhat = sv["rhat"][t]
                d_hw, d_gamma_h, _ = torch.ops.aten.native_layer_norm_backward(
                    g_t, rhat, (4 * H,), zero, one, gamma_h, None, [True, True, False])
                g_hw = torch.mul(d_hw, sv["rstd"][t], out=GW[:, t])
                d_gains.append(torch.cat([d_gamma_c, d_beta_c, d_gamma_h]))
            g_hprev = g_hw @ W.t()                                                        # (B, 4H) @ (4H, P)
            gh = g_hprev if gh is None else gh + g_hprev
        # every weight's gradient at once, over all steps (rows ordered b, t as G's)
        n = B * steps
        G_ = G[:, :steps]
        grads = [torch.stack(sv["h"], dim=1).reshape(n, -1).t() @ GW[:, :steps].reshape(n, 4 * H)]  # dW_h (P, 4H)
        if s.peepholes:
            C, Cn = torch.stack(sv["c"], dim=1), torch.stack(sv["cn"], dim=1)              # (B, steps, H)
            grads += [(G_[..., :H] * C).sum((0, 1)), (G_[..., 2 * H:3 * H] * C).sum((0, 1)),
                      (G_[..., 3 * H:] * Cn).sum((0, 1))]
        if s.projecting:
            grads.append(torch.stack(sv["m"], dim=1).reshape(n, H).t() @ torch.stack(G_hp, dim=1).reshape(n, s.P))
        if s.layer_norm is not None:
            d_gamma_c, d_beta_c, d_gamma_h = torch.stack(d_gains).sum(0).split([H, H, 4 * H])
            grads += [d_gamma_h, d_gamma_c, d_beta_c]
        return (None, None, None, None, None, G, gc, gh, *grads)
