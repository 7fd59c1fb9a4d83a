"""Parameter counts in TensorFlow's layout and in PyTorch/cuDNN's, side by side, with their formulas.

TensorFlow keeps one kernel ``(I + P, 4H)`` and one bias ``(4H,)``: ``(I + P) * 4H + 4H`` per cell. PyTorch and
cuDNN keep ``weight_ih (4H, I)``, ``weight_hh (4H, P)`` and two biases, ``b_ih`` and ``b_hh``:
``4H(I + P) + 8H``. The extra ``4H`` per cell is the whole difference for the same LSTM.
"""
from __future__ import annotations

from ..nn import LSTM


def params_report(input_size: int, units: int, layers: int = 1, bidirectional: bool = False,
                  num_proj: int | None = None, peepholes: bool = False) -> str:
    """A text table: one row per layer and direction, TensorFlow's count beside PyTorch's, and the totals."""
    opts = {}
    if num_proj is not None or peepholes:
        opts = {"cell": "lstm", "num_proj": num_proj, "use_peepholes": peepholes}
    lstm = LSTM(input_size, units, num_layers=layers, bidirectional=bidirectional, **opts)
    H, P = units, num_proj or units
    lines = [f"LSTM(input_size={input_size}, units={units}, layers={layers}, "
             f"bidirectional={bidirectional}, num_proj={num_proj}, peepholes={peepholes})", ""]
    lines.append("TensorFlow layout: kernel (I + P, 4H), one bias (4H,)" + (", peepholes 3H" if peepholes else "")
                 + (", projection H*P" if num_proj else ""))
    tf_total = torch_total = 0
    torch_rows = []
    for row, cell in zip(lstm.param_counts(), lstm.cells):
        lines.append(f"  {row.name:<28} {row.symbolic:<32} {row.formula}")
        tf_total += row.total
        I = cell.input_size
        n = 4 * H * (I + P) + 8 * H + (H * P if num_proj else 0)
        formula = f"4*{H} * ({I} + {P}) + 8*{H}" + (f" + {P}*{H}" if num_proj else "") + f" = {n:,}"
        torch_rows.append(f"  {row.name.replace(' BasicLSTMCell', '').replace(' LSTMCell', ''):<28} "
                          f"{'4H(I + P) + 8H' + (' + P*H' if num_proj else ''):<32} {formula}")
        torch_total += n
    lines.append(f"  {'total':<28} {'':<32} {tf_total:,}")
    lines.append("")
    lines.append("PyTorch / cuDNN layout: weight_ih (4H, I), weight_hh (4H, P), bias_ih + bias_hh (4H each)"
                 + (", weight_hr (P, H)" if num_proj else ""))
    if peepholes:
        lines.append("  n/a: torch.nn.LSTM and cuDNN have no peepholes; this LSTM cannot be held there.")
    else:
        lines += torch_rows
        lines.append(f"  {'total':<28} {'':<32} {torch_total:,}")
        diff = torch_total - tf_total
        lines.append("")
        lines.append(f"PyTorch reports {diff:,} more: one extra bias vector of 4H = {4 * H} per cell "
                     f"x {len(lstm.cells)} cell(s) (TensorFlow has one bias and a constant forget_bias).")
    return "\n".join(lines)
