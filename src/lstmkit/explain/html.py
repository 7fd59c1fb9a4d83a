"""The walkthrough as one self-contained HTML page: no network, every picture inline SVG.

A diagram of the pipeline with the real shapes on its arrows; for each text, heatmaps (time steps x units) of
layer 0's input, forget and output gates, cell state and hidden state; the predicted probabilities; the
parameter counts. Text in the pictures is real text, so Chinese tokens need a CJK font where the page is
viewed (Debian: fonts-noto-cjk).
"""
from __future__ import annotations

import html

import numpy as np

from .trace import Trace

HEATMAPS = (("sigmoid(i)", "input gate σ(i)", "gate"), ("sigmoid(f + forget_bias)", "forget gate σ(f + forget_bias)",
            "gate"), ("sigmoid(o)", "output gate σ(o)", "gate"), ("c_t", "cell state c", "signed"),
            ("h_t", "hidden state h", "signed"))
FONT = "'Noto Sans CJK SC', 'Noto Sans SC', 'WenQuanYi Micro Hei', 'Source Han Sans SC', sans-serif"


def _esc(text) -> str:
    return html.escape(str(text), quote=True)


def _color(v: float, kind: str, scale: float) -> str:
    """Gates in [0, 1]: white -> dark blue. Signed values: blue (negative) -> white -> red (positive)."""
    if kind == "gate":
        a = min(max(v, 0.0), 1.0)
        return f"rgb({int(255 - 222 * a)},{int(255 - 160 * a)},{int(255 - 75 * a)})"
    a = min(abs(v) / scale, 1.0) if scale > 0 else 0.0
    if v >= 0:
        return f"rgb(255,{int(255 - 200 * a)},{int(255 - 200 * a)})"
    return f"rgb({int(255 - 200 * a)},{int(255 - 170 * a)},255)"


def diagram(trace: Trace) -> str:
    c = trace.config
    B, T, E, P, D, K = c["B"], c["T"], c["E"], c["P"], c["D"], c["K"]
    boxes = [("raw text", f"{B} text(s)"), ("tokenize", c["tokenizer"]["name"]), ("dictionarize", f"V = {c['V']:,}"),
             ("pad", "0 = <pad>"), ("embedding", f"({c['V']:,}, {E})"),
             ("LSTM", f"{c['cell'].replace('Cell', '')} x{c['layers']}, D={D}"), ("pool + Linear", f"{c['pooled']} -> {K}"), ("softmax", "")]
    arrows = ["strings", f"(B, ≤{T}) tokens", f"(B, ≤{T}) ids", f"({B}, {T}) + lengths", f"({B}, {T}, {E})",
              f"({B}, {T}, {D * P})", f"({B}, {K})"]
    w, gap, y = 140, 50, 24
    width = len(boxes) * w + (len(boxes) - 1) * gap + 20
    parts = [f'<svg class="diagram" width="100%" viewBox="0 0 {width} 130" style="max-width:{width}px" xmlns="http://www.w3.org/2000/svg" '
             f'font-family="{FONT}" font-size="12">',
             '<defs><marker id="arr" markerWidth="8" markerHeight="8" refX="7" refY="4" orient="auto">'
             '<path d="M0,0 L8,4 L0,8 z" fill="#555"/></marker></defs>']
    for k, (title, sub) in enumerate(boxes):
        x = 10 + k * (w + gap)
        parts.append(f'<rect x="{x}" y="{y}" width="{w}" height="56" rx="8" fill="#eef3fb" stroke="#3a6db5"/>')
        parts.append(f'<text x="{x + w / 2}" y="{y + 24}" text-anchor="middle" font-weight="bold">{_esc(title)}</text>')
        parts.append(f'<text x="{x + w / 2}" y="{y + 42}" text-anchor="middle" fill="#444">{_esc(sub)}</text>')
        if k < len(arrows):
            x1, x2 = x + w, x + w + gap
            parts.append(f'<line x1="{x1}" y1="{y + 28}" x2="{x2 - 2}" y2="{y + 28}" stroke="#555" '
                         f'marker-end="url(#arr)"/>')
            parts.append(f'<text x="{(x1 + x2) / 2}" y="{y + 78 + (k % 2) * 14}" text-anchor="middle" '
                         f'font-size="11" fill="#a33">{_esc(arrows[k])}</text>')
    parts.append("</svg>")
    return "".join(parts)


def heatmap(matrix: np.ndarray, tokens: list, valid: list, kind: str, title: str) -> str:
    """``matrix (T, H)``: one row per time step (labelled by its token), one column per unit."""
    T, H = matrix.shape
    cell_w = max(2, min(8, 640 // max(H, 1)))
    cell_h, left, top = 18, 130, 22
    scale = float(np.abs(matrix).max()) if kind == "signed" else 1.0
    width, height = left + H * cell_w + 10, top + T * cell_h + 8
    parts = [f'<svg class="heatmap" width="{width}" height="{height}" xmlns="http://www.w3.org/2000/svg" '
             f'font-family="{FONT}" font-size="12"><text x="{left}" y="14" font-weight="bold">{_esc(title)}</text>']
    for t in range(T):
        yy = top + t * cell_h
        label = tokens[t]
        color = "#222" if valid[t] else "#999"
        parts.append(f'<text x="{left - 6}" y="{yy + 13}" text-anchor="end" fill="{color}">{_esc(label)}</text>')
        for u in range(H):
            fill = _color(float(matrix[t, u]), kind, scale) if valid[t] else "#e6e6e6"
            parts.append(f'<rect x="{left + u * cell_w}" y="{yy}" width="{cell_w}" height="{cell_h - 1}" '
                         f'fill="{fill}"/>')
    parts.append("</svg>")
    return "".join(parts)


def labelled_heatmap(h) -> str:
    """A :class:`lstmkit.explain.models.Heatmap`: rows and columns labelled, the value in each cell's tooltip."""
    R, C = h.matrix.shape
    cell = max(14, min(34, 900 // max(C, 1)))
    left = 14 + 8 * max([len(str(r)) for r in h.rows] + [4])
    top = 40 + 7 * min(12, max([len(str(c)) for c in h.cols] + [1]))
    scale = float(np.abs(h.matrix).max()) if h.matrix.size else 1.0
    kind = "gate" if h.kind == "prob" else "signed"
    width = max(left + C * cell + 10, 8 * len(h.title) + 10)
    parts = [f'<svg class="heatmap" width="{width}" height="{top + R * cell + 8}" '
             f'xmlns="http://www.w3.org/2000/svg" font-family="{FONT}" font-size="12">'
             f'<text x="4" y="14" font-weight="bold">{_esc(h.title)}</text>']
    for c, label in enumerate(h.cols):
        x = left + c * cell + cell / 2
        parts.append(f'<text x="{x}" y="{top - 6}" transform="rotate(-60 {x} {top - 6})">{_esc(label)}</text>')
    for r, label in enumerate(h.rows):
        y = top + r * cell
        parts.append(f'<text x="{left - 6}" y="{y + cell * 0.7}" text-anchor="end">{_esc(label)}</text>')
        for c in range(C):
            v = float(h.matrix[r, c])
            parts.append(f'<rect x="{left + c * cell}" y="{y}" width="{cell - 1}" height="{cell - 1}" '
                         f'fill="{_color(v, kind, scale)}"><title>{_esc(h.rows[r])} / {_esc(h.cols[c])}: '
                         f'{v:.4f}</title></rect>')
    parts.append("</svg>")
    return "".join(parts)


def render_model_html(tr) -> str:
    """A :class:`lstmkit.explain.models.ModelTrace` as one self-contained page: steps with shapes, heatmaps."""
    from .report import tensor_line

    steps = "".join(f"<h2>{s.number}. {_esc(s.title)}</h2><ul>" + "".join(f"<li>{_esc(x)}</li>" for x in s.lines)
                    + "".join(f"<li><code>{_esc(tensor_line(t))}</code></li>" for t in s.tensors) + "</ul>"
                    for s in tr.steps)
    maps = "".join(f'<section class="text"><h2>input {b}: {_esc(text)}</h2><div class="maps">'
                   + "".join(labelled_heatmap(h) for h in hs) + "</div></section>"
                   for b, (text, hs) in enumerate(zip(tr.inputs, tr.heatmaps)))
    params = "".join(f"<tr><td>{_esc(p['name'])}</td><td>{_esc(p['formula'])}</td></tr>" for p in tr.params)
    return f"""<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>lstmkit explain: {_esc(tr.task)}</title>
<style>
body {{ font-family: {FONT}; margin: 24px; color: #222; }}
h1 {{ font-size: 22px; }} h2 {{ font-size: 16px; margin-top: 22px; }}
code {{ font-size: 12px; }} .maps {{ display: flex; flex-wrap: wrap; gap: 18px; }}
table {{ border-collapse: collapse; }} td {{ border: 1px solid #ccc; padding: 4px 8px; font-size: 13px; }}
</style></head><body>
<h1>lstmkit explain: a {_esc(tr.task)} run ({_esc(tr.run)}), B = {len(tr.inputs)}</h1>
{steps}
{maps}
<h2>parameters: {sum(p["total"] for p in tr.params):,}</h2><table>{params}</table>
</body></html>
"""


def probabilities(labels: list, probs: np.ndarray) -> str:
    rows = []
    for lab, p in zip(labels, probs):
        rows.append(f'<div class="bar"><span class="lab">{_esc(lab)}</span><span class="track">'
                    f'<span class="fill" style="width:{100 * float(p):.1f}%"></span></span>'
                    f'<span class="val">{float(p):.4f}</span></div>')
    return "".join(rows)


def render_html(trace: Trace, max_texts: int = 4) -> str:
    c = trace.config
    softmax = next(t for s in trace.steps for t in s.tensors if t.name == "softmax").values
    sections = []
    for b, text in enumerate(trace.texts[:max_texts]):
        tokens = [r["tokens"][b] for r in trace.time_steps]
        valid = [r["valid"][b] for r in trace.time_steps]
        maps = []
        for name, title, kind in HEATMAPS:
            matrix = np.stack([next(t for t in r["tensors"] if t.name == name).values[b] for r in trace.time_steps])
            maps.append(heatmap(matrix, tokens, valid, kind, f"{title}  (T, H) = {matrix.shape}"))
        pred = trace.prediction[b] if trace.prediction else None
        sections.append(
            f'<section class="text"><h2>text {b}: {_esc(text)}</h2>'
            f'<p class="tokens">{" | ".join(_esc(t) for t in tokens if t != "<pad>")}</p>'
            f'<div class="maps">{"".join(maps)}</div>'
            f'<h3>predicted: {_esc(pred["label"]) if pred else "-"}</h3>'
            f'<div class="probs">{probabilities(trace.labels or [], softmax[b])}</div></section>')
    params = "".join(f"<tr><td>{_esc(p['name'])}</td><td>{_esc(p['symbolic'])}</td><td>{_esc(p['formula'])}</td>"
                     f"</tr>" for p in trace.params)
    total = sum(p["total"] for p in trace.params)
    weights = f"run {_esc(c['run'])}" if c["run"] else "random weights (no --run)"
    return f"""<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>lstmkit explain</title>
<style>
body {{ font-family: {FONT}; margin: 24px; color: #222; }}
h1 {{ font-size: 22px; }} h2 {{ font-size: 17px; margin-top: 28px; }} h3 {{ font-size: 15px; }}
.maps {{ display: flex; flex-wrap: wrap; gap: 18px; }}
.tokens {{ color: #555; }}
.bar {{ display: flex; align-items: center; gap: 8px; margin: 4px 0; }}
.lab {{ width: 110px; text-align: right; }} .val {{ width: 60px; }}
.track {{ display: inline-block; width: 320px; height: 16px; background: #eee; border-radius: 3px; }}
.fill {{ display: block; height: 100%; background: #3a6db5; border-radius: 3px; }}
table {{ border-collapse: collapse; }} td {{ border: 1px solid #ccc; padding: 4px 8px; font-size: 13px; }}
.legend {{ color: #555; font-size: 13px; }}
</style></head><body>
<h1>lstmkit explain: B={c['B']} T={c['T']} E={c['E']} H={c['H']} D={c['D']} {_esc(c['cell'])}, {weights}</h1>
{diagram(trace)}
<p class="legend">Heatmaps: one row per time step (its token), one column per unit of layer 0's forward cell.
Gates from white (0) to blue (1); c and h from blue (negative) through white to red (positive); grey rows
are padding, where the state is carried and the output is zero.</p>
{"".join(sections)}
<h2>parameters: {total:,}</h2><table>{params}</table>
</body></html>
"""
