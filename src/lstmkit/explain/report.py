"""Renderings of a :class:`lstmkit.explain.trace.Trace`: plain text for the terminal, JSON for other tools.

Long tensors are summarised (shape, first values, min/max) rather than dumped, so long inputs stay readable.
"""
from __future__ import annotations

import json

import numpy as np

from .trace import Tensor, Trace


def _fmt(v: float) -> str:
    return f"{v:.4f}" if abs(v) < 1000 else f"{v:.3g}"


def tensor_line(t: Tensor, first: int = 6) -> str:
    """``name legend = shape: values  min .. max  (note)``; a long tensor shows its first values only."""
    v = t.values
    floats = np.issubdtype(v.dtype, np.floating)
    head = f"{t.name} {t.legend}" + ("" if "=" in t.legend else f" = {tuple(t.shape)}")
    if v.size <= first:
        body = str(np.round(v.astype(np.float64), 4).tolist() if floats else v.tolist())
    else:
        flat = v.reshape(-1)[:first]
        body = "[" + ", ".join(_fmt(float(x)) if floats else str(x) for x in flat) + ", ...]"
    if v.size and floats:
        body += f"  min {_fmt(float(v.min()))} max {_fmt(float(v.max()))}"
    return f"{head}: {body}" + (f"  ({t.note})" if t.note else "")


def render_text(trace: Trace, max_time_steps: int = 8) -> str:
    c = trace.config
    out = [f"lstmkit explain: B={c['B']} T={c['T']} E={c['E']} H={c['H']} P={c['P']} D={c['D']} "
           f"layers={c['layers']} cell={c['cell']} K={c['K']} V={c['V']:,}"
           + (f"  (run {c['run']})" if c["run"] else "  (random weights)"), ""]
    for step in trace.steps:
        out.append(f"== {step.number}. {step.title}")
        out += [f"  {line}" for line in step.lines]
        out += [f"  {tensor_line(t)}" for t in step.tensors]
        if step.number == 6:
            out += _time_steps(trace, max_time_steps)
        out.append("")
    out.append("== parameters")
    width = max(len(p["name"]) for p in trace.params)
    for p in trace.params:
        out.append(f"  {p['name']:<{width}}  {p['symbolic']:<28} {p['formula']}")
    out.append(f"  {'total':<{width}}  {'':<28} {sum(p['total'] for p in trace.params):,}")
    return "\n".join(out)


def _time_steps(trace: Trace, limit: int) -> list[str]:
    rows = trace.time_steps
    shown = rows if len(rows) <= limit else rows[: limit // 2] + [None] + rows[-(limit - limit // 2):]
    out = []
    for r in shown:
        if r is None:
            out.append(f"  ... {len(rows) - limit} more steps ...")
            continue
        t = {x.name: x for x in r["tensors"]}
        toks = " | ".join(tok if ok else f"{tok} (padding: state carried, output 0)"
                          for tok, ok in zip(r["tokens"], r["valid"]))
        out.append(f"  t={r['t']}: {toks}")
        out.append(f"    x_t {t['x_t'].shape}  [x_t, h_(t-1)] {t['[x_t, h_(t-1)]'].shape}  "
                   f"i, j, f, o {t['i'].shape} each")
        gates = "  ".join(f"{name} {float(t[name].values.mean()):.3f}"
                          for name in ("sigmoid(i)", "sigmoid(f + forget_bias)", "sigmoid(o)"))
        out.append(f"    mean gates: {gates}")
        out.append(f"    {tensor_line(t['c_t'], 4)}")
        out.append(f"    {tensor_line(t['h_t'], 4)}")
    return out


def render_json(trace: Trace, full: bool = False) -> str:
    return json.dumps(trace.to_json(full), ensure_ascii=False)
