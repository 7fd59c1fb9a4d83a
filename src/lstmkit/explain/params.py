"""Parameter counts in TensorFlow's layout and in PyTorch/cuDNN's, side by side, with their formulas.

TensorFlow keeps one kernel ``(I + P, 4H)`` and one bias ``(4H,)``: ``(I + P) * 4H + 4H`` per cell. PyTorch and
cuDNN keep ``weight_ih (4H, I)``, ``weight_hh (4H, P)`` and two biases, ``b_ih`` and ``b_hh``:
``4H(I + P) + 8H``. The extra ``4H`` per cell is the whole difference for the same LSTM.

A layer-normalised cell (``cell="layernorm"``) adds its gains and shift: ``gamma_x`` and ``gamma_h`` ``(4H,)`` and
``gamma_c``, ``beta_c`` ``(H,)``, ``(I + H) * 4H + 4H + 8H + 2H`` per cell; PyTorch's LSTM has no such cell.
Zoneout has no parameters.

The LSTM is built on PyTorch's ``meta`` device: shapes only, no memory, whatever its size.
"""
from __future__ import annotations

from ..nn import LSTM


def params_table(input_size: int, units: int, layers: int = 1, bidirectional: bool = False,
                 num_proj: int | None = None, peepholes: bool = False, cell: str | None = None) -> dict:
    """The counts as data: ``tensorflow`` and ``pytorch`` (None where PyTorch cannot hold the LSTM: peepholes,
    layer normalisation), each ``{"rows": [{"name", "symbolic", "formula", "total"}], "total"}``, and
    ``difference`` (PyTorch's extra). ``cell``: ``"basic"``, ``"lstm"`` or ``"layernorm"`` (None: ``"lstm"``
    with a projection or peepholes, else ``"basic"``)."""
    for name, v in (("input_size", input_size), ("units", units), ("layers", layers), ("num_proj", num_proj)):
        if v is not None and v > 2 ** 31 - 1:          # past what a tensor dimension holds, even on meta
            raise ValueError(f"params: {name} must be at most {2 ** 31 - 1:,}, got {v:,}")
    if cell is None:
        cell = "lstm" if num_proj is not None or peepholes else "basic"
    if cell != "lstm" and (num_proj is not None or peepholes):
        raise ValueError(f"params: num_proj and peepholes are options of cell 'lstm', not of cell {cell!r}")
    opts = {"num_proj": num_proj, "use_peepholes": peepholes} if cell == "lstm" else {}
    lstm = LSTM(input_size, units, num_layers=layers, bidirectional=bidirectional, device="meta", cell=cell, **opts)
    H, P = units, num_proj or units
    tf_rows, torch_rows = [], []
    for row, layer_cell in zip(lstm.param_counts(), lstm.cells):
        tf_rows.append({"name": row.name, "symbolic": row.symbolic, "formula": row.formula, "total": row.total})
        I = layer_cell.input_size
        n = 4 * H * (I + P) + 8 * H + (H * P if num_proj else 0)
        torch_rows.append({"name": row.name.rsplit(" ", 1)[0],
                           "symbolic": "4H(I + P) + 8H" + (" + P*H" if num_proj else ""),
                           "formula": f"4*{H} * ({I} + {P}) + 8*{H}" + (f" + {P}*{H}" if num_proj else "")
                                      + f" = {n:,}", "total": n})
    tf_total = sum(r["total"] for r in tf_rows)
    torch = None if peepholes or cell == "layernorm" else {"rows": torch_rows,
                                                           "total": sum(r["total"] for r in torch_rows)}
    return {"input_size": input_size, "units": units, "layers": layers, "bidirectional": bidirectional,
            "num_proj": num_proj, "peepholes": peepholes, "cell": cell, "cells": len(tf_rows),
            "tensorflow": {"rows": tf_rows, "total": tf_total}, "pytorch": torch,
            "difference": None if torch is None else torch["total"] - tf_total}


def params_report(input_size: int, units: int, layers: int = 1, bidirectional: bool = False,
                  num_proj: int | None = None, peepholes: bool = False, cell: str | None = None) -> str:
    """A text table: one row per layer and direction, TensorFlow's count beside PyTorch's, and the totals."""
    t = params_table(input_size, units, layers, bidirectional, num_proj, peepholes, cell)
    H = units
    lines = [f"LSTM(input_size={input_size}, units={units}, layers={layers}, "
             f"bidirectional={bidirectional}, num_proj={num_proj}, peepholes={peepholes}, cell={t['cell']!r})", ""]
    lines.append("TensorFlow layout: kernel (I + P, 4H), one bias (4H,)" + (", peepholes 3H" if peepholes else "")
                 + (", projection H*P" if num_proj else "")
                 + (", layer-norm gains gamma_x, gamma_h 4H each, gamma_c and beta_c H each"
                    if t["cell"] == "layernorm" else ""))
    lines += [f"  {r['name']:<28} {r['symbolic']:<32} {r['formula']}" for r in t["tensorflow"]["rows"]]
    lines.append(f"  {'total':<28} {'':<32} {t['tensorflow']['total']:,}")
    lines.append("")
    lines.append("PyTorch / cuDNN layout: weight_ih (4H, I), weight_hh (4H, P), bias_ih + bias_hh (4H each)"
                 + (", weight_hr (P, H)" if num_proj else ""))
    if t["pytorch"] is None:
        lacks = "layer normalisation" if t["cell"] == "layernorm" else "peepholes"
        lines.append(f"  n/a: torch.nn.LSTM and cuDNN have no {lacks}; this LSTM cannot be held there.")
    else:
        lines += [f"  {r['name']:<28} {r['symbolic']:<32} {r['formula']}" for r in t["pytorch"]["rows"]]
        lines.append(f"  {'total':<28} {'':<32} {t['pytorch']['total']:,}")
        lines.append("")
        lines.append(f"PyTorch reports {t['difference']:,} more: one extra bias vector of 4H = {4 * H} per cell "
                     f"x {t['cells']} cell(s) (TensorFlow has one bias and a constant forget_bias).")
    return "\n".join(lines)
