"""Charts as inline SVG strings: line charts (curves per epoch, a forecast against the truth), grouped bars
(per-type precision/recall/F1) and a confusion matrix with its counts. No scripts, nothing fetched.

Every chart maps data to pixels with :class:`Axis`; the values drawn are the ones given, rounded to 0.1 px.
"""
from __future__ import annotations

import math

from ..explain.html import FONT, _color, _esc

COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf")
W, H, LEFT, RIGHT, TOP, BOTTOM = 440, 260, 62, 14, 34, 40


def nice_ticks(lo: float, hi: float, count: int = 5) -> list:
    """Round tick values covering ``[lo, hi]``: steps of 1, 2 or 5 times a power of ten."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise ValueError(f"nice_ticks: bounds must be finite, got {lo!r}, {hi!r}")
    if hi - lo < 1e-12 * max(1.0, abs(hi)):
        pad = abs(hi) * 0.1 or 1.0
        lo, hi = (lo - pad if lo - pad >= 0 or lo < 0 else 0.0), hi + pad   # all >= 0: the axis stays >= 0
    raw = (hi - lo) / max(count - 1, 1)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 5, 10) if m * mag >= raw)
    first = math.floor(lo / step + 1e-9) * step
    ticks, v = [], first
    while v < hi + step * 0.999:
        ticks.append(round(v, 12))
        v += step
    return ticks


def log_ticks(lo: float, hi: float) -> list:
    """Ticks 1, 2, 5 x 10^k covering ``[lo, hi]`` (both > 0)."""
    ticks = []
    for k in range(math.floor(math.log10(lo)), math.ceil(math.log10(hi)) + 1):
        ticks += [m * 10.0 ** k for m in (1, 2, 5)]
    inside = [t for t in ticks if lo <= t <= hi]
    below = [t for t in ticks if t < lo][-1:] or [lo]
    above = [t for t in ticks if t > hi][:1] or [hi]
    return below + inside + above


def text_width(text, size: int = 12) -> int:
    """About how wide ``text`` is in pixels at font ``size``: a CJK character is a full em, others about half."""
    return int(sum(size if ord(ch) >= 0x2E80 else size * 0.6 for ch in str(text)))


class Axis:
    """A linear (or log) map from data ``[ticks[0], ticks[-1]]`` to pixels ``[p0, p1]``."""

    def __init__(self, ticks: list, p0: float, p1: float, log: bool = False):
        self.ticks, self.p0, self.p1, self.log = ticks, p0, p1, log
        f = math.log10 if log else float
        self.lo, self.hi = f(ticks[0]), f(ticks[-1])

    def __call__(self, v: float) -> float:
        v = math.log10(v) if self.log else v
        span = self.hi - self.lo or 1.0
        return round(self.p0 + (v - self.lo) / span * (self.p1 - self.p0), 1)


def _label(v: float) -> str:
    return f"{v:.4g}" if abs(v) >= 1e-3 or v == 0 else f"{v:.1e}"


def tick_labels(ticks: list) -> list:
    """Labels with as many decimals as the step between ``ticks`` needs (2.465, 2.47, 2.475 stay apart)."""
    step = min((abs(b - a) for a, b in zip(ticks, ticks[1:]) if b != a), default=1.0)
    if step < 1e-3 or max(abs(t) for t in ticks) >= 1e6:
        return [_label(t) for t in ticks]
    decimals = max(0, -math.floor(math.log10(step) + 1e-9))
    return [f"{t:.{decimals}f}" for t in ticks]


def _frame(title: str, width: int, height: int) -> list:
    return [f'<svg class="chart" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
            f'xmlns="http://www.w3.org/2000/svg" font-family="{FONT}" font-size="11">',
            f'<text x="{LEFT}" y="16" font-size="13" font-weight="bold">{_esc(title)}</text>']


def _axes(parts: list, x: Axis, y: Axis, xlabel: str, ylabel: str, xticks: list, width: int = W) -> None:
    labels = [_label(t) for t in y.ticks] if y.log else tick_labels(y.ticks)
    for t, label in zip(y.ticks, labels):
        py = y(t)
        parts.append(f'<line x1="{LEFT}" y1="{py}" x2="{width - RIGHT}" y2="{py}" stroke="#e4e4e4"/>'
                     f'<text x="{LEFT - 5}" y="{py + 4}" text-anchor="end" fill="#444">{label}</text>')
    for t, label in zip(xticks, tick_labels(xticks) if len(xticks) > 1 else map(_label, xticks)):
        px = x(t)
        parts.append(f'<line x1="{px}" y1="{H - BOTTOM}" x2="{px}" y2="{H - BOTTOM + 4}" stroke="#666"/>'
                     f'<text x="{px}" y="{H - BOTTOM + 16}" text-anchor="middle" fill="#444">{label}</text>')
    parts.append(f'<rect x="{LEFT}" y="{TOP}" width="{width - LEFT - RIGHT}" height="{H - TOP - BOTTOM}" '
                 f'fill="none" stroke="#888"/>')
    parts.append(f'<text x="{(LEFT + width - RIGHT) / 2}" y="{H - 6}" text-anchor="middle">{_esc(xlabel)}</text>')
    parts.append(f'<text x="14" y="{(TOP + H - BOTTOM) / 2}" text-anchor="middle" '
                 f'transform="rotate(-90 14 {(TOP + H - BOTTOM) / 2})">{_esc(ylabel)}</text>')


def line_chart(title: str, lines: list, xlabel: str = "epoch", ylabel: str = "", log: bool = False,
               marks: list = (), integer_x: bool = True, width: int = W) -> str:
    """Lines ``[{"label", "points": [(x, y), ...], "color", "dash": bool}]`` on one pair of axes; a dot on every
    point (so a one-epoch run shows), ``marks`` ``[(x, y, color, tooltip)]`` as rings (a run's best epoch).
    ``log``: a log y axis (every y must be > 0). Each point's value is in its tooltip."""
    points = [p for line in lines for p in line["points"]]
    if not points:
        raise ValueError(f"line_chart {title!r}: no points to draw")
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    if log and min(ys) <= 0:
        log = False                     # a value of 0 has no place on a log axis
    yt = log_ticks(min(ys), max(ys)) if log else nice_ticks(min(ys), max(ys))
    lo, hi = min(xs), max(xs)
    if integer_x and hi - lo <= 12:
        xt, pad = list(range(int(lo), int(hi) + 1)), 0.5      # every epoch, half a step of margin
    else:
        xt, pad = [t for t in nice_ticks(lo, hi, 6) if lo <= t <= hi and (not integer_x or t == int(t))], 0.0
    x = Axis([lo - pad, hi + pad] if hi > lo else [lo - 1, hi + 1], LEFT, width - RIGHT)
    y = Axis(yt, H - BOTTOM, TOP, log)
    parts = _frame(title, width, H)
    _axes(parts, x, y, xlabel, ylabel, xt, width)
    for line in lines:
        pts = " ".join(f"{x(px)},{y(py)}" for px, py in line["points"])
        dash = ' stroke-dasharray="6 4"' if line.get("dash") else ""
        parts.append(f'<polyline class="curve" points="{pts}" fill="none" stroke="{line["color"]}" '
                     f'stroke-width="2"{dash}><title>{_esc(line["label"])}</title></polyline>')
        if len(line["points"]) <= 60:
            for px, py in line["points"]:
                parts.append(f'<circle cx="{x(px)}" cy="{y(py)}" r="2.6" fill="{line["color"]}">'
                             f'<title>{_esc(line["label"])}, {xlabel} {_label(px)}: {py:.6g}</title></circle>')
    for px, py, color, tip in marks:
        parts.append(f'<circle class="best" cx="{x(px)}" cy="{y(py)}" r="6.5" fill="none" stroke="{color}" '
                     f'stroke-width="2"><title>{_esc(tip)}</title></circle>')
    parts.append("</svg>")
    return "".join(parts)


def grouped_bars(title: str, groups: list, series: list, values: list, ymax: float = 1.0) -> str:
    """Bars ``values[g][s]`` (in [0, ``ymax``]) for each group ``groups[g]`` (a tag type) and series
    ``series[s]`` (precision, recall, F1), a legend of the series above."""
    G, S = len(groups), len(series)
    width = max(W, LEFT + RIGHT + G * (S * 16 + 18))
    y = Axis(nice_ticks(0.0, ymax), H - BOTTOM, TOP)
    parts = [f'<svg class="chart bars" width="{width}" height="{H}" viewBox="0 0 {width} {H}" '
             f'xmlns="http://www.w3.org/2000/svg" font-family="{FONT}" font-size="11">'
             f'<text x="{LEFT}" y="16" font-size="13" font-weight="bold">{_esc(title)}</text>']
    for s, name in enumerate(series):
        lx = width - RIGHT - (S - s) * 80
        parts.append(f'<rect x="{lx}" y="7" width="10" height="10" fill="{COLORS[s]}"/>'
                     f'<text x="{lx + 14}" y="16">{_esc(name)}</text>')
    for t in y.ticks:
        parts.append(f'<line x1="{LEFT}" y1="{y(t)}" x2="{width - RIGHT}" y2="{y(t)}" stroke="#e4e4e4"/>'
                     f'<text x="{LEFT - 5}" y="{y(t) + 4}" text-anchor="end" fill="#444">{_label(t)}</text>')
    slot = (width - LEFT - RIGHT) / max(G, 1)
    bar = min(16.0, (slot - 10) / S)
    for g, name in enumerate(groups):
        x0 = LEFT + g * slot + (slot - bar * S) / 2
        for s in range(S):
            v = min(max(float(values[g][s]), 0.0), ymax)
            top = y(v)
            parts.append(f'<rect class="bar" x="{round(x0 + s * bar, 1)}" y="{top}" width="{round(bar - 1, 1)}" '
                         f'height="{round(H - BOTTOM - top, 1)}" fill="{COLORS[s]}"><title>{_esc(name)} '
                         f'{_esc(series[s])}: {float(values[g][s]):.4f}</title></rect>')
        parts.append(f'<text x="{round(LEFT + (g + 0.5) * slot, 1)}" y="{H - BOTTOM + 16}" '
                     f'text-anchor="middle">{_esc(name)}</text>')
    parts.append(f'<line x1="{LEFT}" y1="{H - BOTTOM}" x2="{width - RIGHT}" y2="{H - BOTTOM}" stroke="#888"/>')
    parts.append("</svg>")
    return "".join(parts)


def confusion_matrix(title: str, labels: list, counts: list) -> str:
    """``counts (K, K)``: rows the gold label, columns the predicted one; each cell shows its count, its shade
    the share of its row (the gold label's recall on the diagonal)."""
    K = len(labels)
    cell = max(22, min(48, 560 // max(K, 1)))
    longest = max([text_width(lab) for lab in labels] + [28])
    left = 26 + longest
    top = 44 + int(0.8 * min(longest, 160))           # column labels turned 50 degrees fit under "predicted"
    width, height = max(left + K * cell + 20, 8 * len(title) + 10), top + K * cell + 30
    parts = [f'<svg class="confusion" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
             f'xmlns="http://www.w3.org/2000/svg" font-family="{FONT}" font-size="12">'
             f'<text x="4" y="16" font-size="13" font-weight="bold">{_esc(title)}</text>'
             f'<text x="{left + K * cell / 2}" y="34" text-anchor="middle" fill="#555">predicted</text>'
             f'<text x="12" y="{top + K * cell / 2}" text-anchor="middle" fill="#555" '
             f'transform="rotate(-90 12 {top + K * cell / 2})">gold</text>']
    for c, lab in enumerate(labels):
        x = left + c * cell + cell / 2
        parts.append(f'<text x="{x}" y="{top - 6}" transform="rotate(-50 {x} {top - 6})">{_esc(lab)}</text>')
    for r, lab in enumerate(labels):
        row = [int(v) for v in counts[r]]
        total = sum(row)
        y = top + r * cell
        parts.append(f'<text x="{left - 6}" y="{y + cell * 0.62}" text-anchor="end">{_esc(lab)}</text>')
        for c, n in enumerate(row):
            share = n / total if total else 0.0
            ink = "#fff" if share > 0.55 else "#222"
            parts.append(f'<rect x="{left + c * cell}" y="{y}" width="{cell - 1}" height="{cell - 1}" '
                         f'fill="{_color(share, "gate", 1.0)}"><title>gold {_esc(lab)}, predicted '
                         f'{_esc(labels[c])}: {n} ({share:.1%} of the row)</title></rect>'
                         f'<text x="{left + c * cell + cell / 2}" y="{y + cell * 0.62}" text-anchor="middle" '
                         f'fill="{ink}" font-size="11">{n}</text>')
    parts.append("</svg>")
    return "".join(parts)
