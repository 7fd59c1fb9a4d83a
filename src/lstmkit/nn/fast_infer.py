"""The step loop's inference: every cell the fast path runs (:mod:`lstmkit.nn.fast`), without a graph, every step
valid, zoneout's expectation, in one loop function compiled by TorchScript.

Shape legend: ``B`` batch, ``T`` time steps, ``H`` units, ``P`` output size (``num_proj`` or ``H``).

At B=1 a step is one matmul (17 us for H=256 on one CPU thread, bound by reading the 1 MB matrix) and 10-14 small
ops of 1-2 us each; from Python each small op costs several times that. TorchScript's interpreter runs the loop
without Python's cost per op and without a compiler (``torch.compile`` of a step costs more a call than it
fuses). One compiled copy per kind of cell: TorchScript specialises a function to the arguments it has seen.
"""
from __future__ import annotations

import os
import types
import warnings
from typing import List, Optional, Tuple

import torch


def _act(x: torch.Tensor, act: int) -> torch.Tensor:
    """The cell's activation by its code: 0 tanh, 1 relu, 2 sigmoid (TorchScript inlines it)."""
    return torch.tanh(x) if act == 0 else (torch.relu(x) if act == 1 else torch.sigmoid(x))


def _clip(x: torch.Tensor, bound: Optional[float]) -> torch.Tensor:
    return x if bound is None else x.clamp(-bound, bound)


def _infer_steps(x_proj: torch.Tensor, c: torch.Tensor, h: torch.Tensor, W: torch.Tensor,
                 peepholes: Optional[torch.Tensor], Wp: Optional[torch.Tensor], gains: Optional[torch.Tensor],
                 act: int, cell_clip: Optional[float], proj_clip: Optional[float], eps: float, zc: float,
                 zh: float) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Inference of any cell over ``x_proj (B, T, 4H)`` from ``c (B, H)``, ``h (B, P)``, every step valid:
    ``peepholes`` ``(3, H)`` (w_i, w_f, w_o), ``Wp`` ``(H, P)``, ``gains`` ``(6H,)`` laid out as gamma_h (4H),
    gamma_c, beta_c (a LayerNormLSTMCell); ``act`` 0 tanh, 1 relu, 2 sigmoid; ``zc``/``zh`` zoneout's expectation.

    Written for TorchScript (:func:`_inference_loop` runs it scripted where it can): at B=1 a step is a handful of
    small ops, each costing about a sixth of the step's matmul from Python and a fraction of that from TorchScript's
    interpreter. The same function runs as plain Python where TorchScript is absent."""
    H = c.shape[1]
    outs: List[torch.Tensor] = []
    # the parameters' slices once, not at every step (W stands in where a cell has no such parameter)
    w_i, w_f, w_o = (peepholes[0], peepholes[1], peepholes[2]) if peepholes is not None else (W, W, W)
    gamma_h, gamma_c, beta_c = (gains[:4 * H], gains[4 * H:5 * H], gains[5 * H:]) if gains is not None else (W, W, W)
    one = x_proj.shape[0] == 1 and gains is not None      # B=1 with layer norm: the input half is LN's shift
    for xp in (x_proj[0].unbind(0) if one else x_proj.unbind(1)):                         # (B, 4H), or (4H,)
        if gains is None:
            z = torch.addmm(xp, h, W)                                                     # (B, 4H)
        elif one:
            z = torch.layer_norm(torch.mm(h, W), [4 * H], gamma_h, xp, eps)
        else:
            z = torch.layer_norm(torch.mm(h, W), [4 * H], gamma_h, None, eps).add_(xp)
        # the four blocks in one op (views and broadcasts cost as much as a small op at B=1)
        zi, zj, zf, zo = z.chunk(4, 1)
        aj = _act(zj, act)
        if peepholes is None:
            si, _, sf, so = torch.sigmoid(z).chunk(4, 1)
            c_new = _clip(torch.addcmul(c * sf, si, aj), cell_clip)
        else:
            si = torch.sigmoid(torch.addcmul(zi, w_i, c))
            sf = torch.sigmoid(torch.addcmul(zf, w_f, c))
            c_new = _clip(torch.addcmul(c * sf, si, aj), cell_clip)
            so = torch.sigmoid(torch.addcmul(zo, w_o, c_new))
        m = _act(c_new if gains is None else torch.layer_norm(c_new, [H], gamma_c, beta_c, eps), act) * so
        if Wp is not None:
            m = _clip(torch.mm(m, Wp), proj_clip)                                         # (B, H) @ (H, P)
        c = torch.lerp(c_new, c, zc) if zc > 0.0 else c_new
        h = torch.lerp(m, h, zh) if zh > 0.0 else m
        outs.append(h)
    return torch.stack(outs, dim=1), c, h


_SCRIPTED: dict = {}


def _inference_loop(kind: tuple):
    """:func:`_infer_steps` compiled by TorchScript on first use (never at import), one compiled copy per ``kind`` of
    cell (TorchScript specialises a function to the arguments it has seen: one copy shared by cells with and
    without peepholes would keep re-specialising). As it is, in Python, where TorchScript is absent or cannot take
    it, under ``torch.compile`` or tracing, or with ``LSTMKIT_TORCHSCRIPT=0`` (TorchScript is deprecated in PyTorch
    2.x, and still the one way to run a loop of small ops without Python's cost per op and without a compiler)."""
    jit = getattr(torch, "jit", None)                    # deprecated: a later PyTorch may not have it
    if torch.compiler.is_compiling() or jit is None or jit.is_tracing():
        return _infer_steps
    fn = _SCRIPTED.get(kind)
    if fn is None:
        fn = _infer_steps
        if os.environ.get("LSTMKIT_TORCHSCRIPT", "1") != "0":
            copy = types.FunctionType(_infer_steps.__code__, _infer_steps.__globals__, _infer_steps.__name__)
            copy.__qualname__ = f"{_infer_steps.__qualname__}_{len(_SCRIPTED)}"   # its own compiled unit
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")          # torch.jit.script's deprecation notice
                    fn = jit.script(copy)
            except Exception:  # noqa: BLE001 - any failure to compile leaves the plain function, which is correct
                fn = _infer_steps
        _SCRIPTED[kind] = fn
    return fn


def infer(x_proj, c, h, params, s, zc: float, zh: float):
    """Inference (no graph, every step valid, zoneout's expectation) of any cell, ``s`` and ``params`` as
    :func:`lstmkit.nn.fast._spec_and_params` gives them: :func:`_infer_steps`, scripted where it can be."""
    W, rest = params[0], list(params[1:])
    peepholes = torch.stack(rest[:3]) if s.peepholes else None
    rest = rest[3:] if s.peepholes else rest
    Wp = rest.pop(0) if s.projecting else None
    gains = torch.cat(rest) if s.layer_norm is not None else None
    kind = (s.peepholes, s.projecting, s.layer_norm is not None, s.activation, s.cell_clip is not None,
            s.proj_clip is not None, zc > 0, zh > 0)
    return _inference_loop(kind)(x_proj, c, h, W, peepholes, Wp, gains, _ACT_CODE[s.activation], s.cell_clip,
                                 s.proj_clip, s.layer_norm or 0.0, zc, zh)


_ACT_CODE = {"tanh": 0, "relu": 1, "sigmoid": 2}
