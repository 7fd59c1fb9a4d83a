"""One self-contained HTML page of one run or several side by side: no network, no scripts, every picture inline
SVG (:mod:`lstmkit.report.svg`).

Curves per epoch, every run on the same axes in its own colour: the training loss (solid) and the dev loss
(dashed), each dev metric that chose a run's best epoch (a ring on the best epoch), the learning rate. Then one
column per run with what its dev metrics hold at its best epoch (a confusion matrix, precision/recall/F1 per
type, perplexity, errors against the naive forecasts) and its pictures on dev data
(:mod:`lstmkit.report.pictures`). Text is real text: Chinese labels need a CJK font where the page is viewed.
"""
from __future__ import annotations

import math

from ..explain.html import FONT, _esc
from .pictures import dev_pictures
from .svg import COLORS, confusion_matrix, grouped_bars, line_chart


def _fmt(v) -> str:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return _esc(v if v is not None else "-")
    return f"{v:,}" if isinstance(v, int) else f"{v:.4f}"


def _table(rows: list, head: list) -> str:
    return ("<table><tr>" + "".join(f"<th>{_esc(h)}</th>" for h in head) + "</tr>"
            + "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows) + "</table>")


def curves(histories: list) -> list:
    """The charts of the curves per epoch, as SVG strings."""
    colors = [COLORS[k % len(COLORS)] for k in range(len(histories))]
    loss = []
    for h, color in zip(histories, colors):
        loss.append({"label": f"{h.run}: train loss", "points": h.series("train_loss", dev=False), "color": color})
        if h.series("loss"):
            loss.append({"label": f"{h.run}: dev loss", "points": h.series("loss"), "color": color, "dash": True})
    loss = [x for x in loss if x["points"]]
    charts = [line_chart("loss (solid: train, dashed: dev)", loss, ylabel="loss")] if loss else []
    for metric in dict.fromkeys(h.metric for h in histories):
        lines, marks = [], []
        for h, color in zip(histories, colors):
            if h.metric != metric or not h.series(metric):
                continue
            lines.append({"label": f"{h.run}: dev {metric}", "points": h.series(metric), "color": color})
            b = h.best
            if isinstance(b["dev"].get(metric), (int, float)) and math.isfinite(b["dev"][metric]):
                marks.append((b["epoch"], b["dev"][metric], color, f"{h.run}: best epoch {b['epoch']}"))
        if lines:
            ys = [p[1] for line in lines for p in line["points"]]
            log = min(ys) > 0 and max(ys) / min(ys) > 10          # perplexity falling from thousands
            better = "higher" if next(h for h in histories if h.metric == metric).greater else "lower"
            charts.append(line_chart(f"dev {metric} ({better} is better; ring: best epoch)", lines,
                                     ylabel=metric + (" (log)" if log else ""), log=log, marks=marks))
    lr = [{"label": f"{h.run}: lr", "points": h.series("lr", dev=False), "color": color}
          for h, color in zip(histories, colors) if h.series("lr", dev=False)]
    if lr:
        charts.append(line_chart("learning rate (at the end of each epoch)", lr, ylabel="lr"))
    return charts


def _confusion(h) -> str:
    counts = h.best["dev"]["confusion"]
    labels = h.labels if len(h.labels) == len(counts) else [str(k) for k in range(len(counts))]
    return confusion_matrix(f"confusion at epoch {h.best['epoch']} (rows gold, columns predicted)", labels, counts)


def _per_type(h) -> str:
    per = h.best["dev"]["per_type"]
    names = list(per)
    keys = ("precision", "recall", "f1")
    chart = grouped_bars(f"per type at epoch {h.best['epoch']}", names, ["precision", "recall", "F1"],
                         [[per[n].get(k, 0.0) for k in keys] for n in names])
    rows = [[_esc(n)] + [_fmt(per[n].get(k)) for k in (*keys, "support")] for n in names]
    return chart + _table(rows, ["type", "precision", "recall", "F1", "support"])


def _perplexity(h) -> str:
    dev = h.best["dev"]
    rows = [["perplexity", _fmt(dev["perplexity"])]]
    if isinstance(dev.get("loss"), (int, float)):
        rows += [["loss (nats per token)", _fmt(dev["loss"])], ["bits per token", _fmt(dev["loss"] / math.log(2))]]
    rows += [[k.replace("_", " "), _fmt(dev[k])] for k in ("n_tokens", "n_texts") if k in dev]
    return f"<h3>dev perplexity at epoch {h.best['epoch']}</h3>" + _table(rows, ["", "value"])


def _baselines(h) -> str:
    dev = h.best["dev"]
    rows = [["the model", _fmt(dev.get("mae")), _fmt(dev.get("rmse"))],
            ["naive (last value)", _fmt(dev.get("naive_mae")), _fmt(dev.get("naive_rmse"))]]
    if "seasonal_naive_mae" in dev:
        rows.append([f"seasonal naive ({dev.get('season')})", _fmt(dev["seasonal_naive_mae"]),
                     _fmt(dev["seasonal_naive_rmse"])])
    by_step = " ".join(f"{v:.4f}" for v in dev.get("mae_by_step") or [])
    return (f"<h3>dev errors at epoch {h.best['epoch']}</h3>" + _table(rows, ["forecast", "MAE", "RMSE"])
            + (f'<p class="note">the model\'s MAE per horizon step: {by_step}</p>' if by_step else ""))


# what a dev record may hold -> how the run's column shows it at the best epoch
PANELS = (("confusion", _confusion), ("per_type", _per_type), ("perplexity", _perplexity), ("naive_mae", _baselines))


def run_column(h, color: str, data=None, examples: int = 3) -> str:
    b = h.best
    parts = [f'<section class="run" style="border-top: 5px solid {color}"><h2>{_esc(h.run)}</h2>'
             f'<p class="note">{_esc(h.task)} run, {len(h.records)} epoch(s); best epoch {b["epoch"]}: dev '
             f'{_esc(h.metric)} {_fmt(b["dev"].get(h.metric))}</p>']
    parts += [draw(h) for key, draw in PANELS if key in b["dev"]]
    title, pictures = dev_pictures(h, data, examples, color)
    if title:
        parts.append(f"<h3>{_esc(title)}</h3>{pictures}")
    parts.append("</section>")
    return "".join(parts)


def _overview(histories: list) -> str:
    rows = []
    for k, h in enumerate(histories):
        b, m = h.best, h.config["model"]
        size = ", ".join(f"{key} {m[key]}" for key in ("embedding_dim", "units", "layers", "cell") if key in m)
        rows.append([f'<span class="swatch" style="background:{COLORS[k % len(COLORS)]}"></span>{_esc(h.run)}',
                     _esc(h.task), _esc(size), str(len(h.records)), str(b["epoch"]),
                     f"{_esc(h.metric)} {_fmt(b['dev'].get(h.metric))}", _fmt(b.get("train_loss")),
                     f"{sum(r.get('seconds', 0) for r in h.records):.1f}"])
    return _table(rows, ["run", "task", "model", "epochs", "best epoch", "dev at best", "train loss at best",
                         "seconds"])


def render_report_html(histories: list, data=None, examples: int = 3) -> str:
    """The page for ``histories`` (:class:`~lstmkit.report.history.RunHistory`, one or more); ``data``: a dev
    data file for the pictures that need the model (attention maps, forecasts), ``examples`` how many attention
    maps per run."""
    if not histories:
        raise ValueError("render_report_html: give one run's history or more")
    columns = "".join(run_column(h, COLORS[k % len(COLORS)], data, examples) for k, h in enumerate(histories))
    names = ", ".join(h.run for h in histories)
    return f"""<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>lstmkit report: {_esc(names)}</title>
<style>
body {{ font-family: {FONT}; margin: 24px; color: #222; }}
h1 {{ font-size: 22px; }} h2 {{ font-size: 17px; margin: 6px 0; word-break: break-all; }} h3 {{ font-size: 15px; }}
.charts, .runs, .maps {{ display: flex; flex-wrap: wrap; gap: 18px; align-items: flex-start; }}
.run {{ flex: 1 1 440px; min-width: 440px; max-width: 960px; padding-top: 6px; }}
.run svg.chart, .run svg.confusion {{ max-width: 100%; height: auto; }}
.note {{ color: #555; font-size: 13px; }} .example {{ margin-bottom: 14px; }}
.swatch {{ display: inline-block; width: 12px; height: 12px; margin-right: 6px; vertical-align: middle; }}
table {{ border-collapse: collapse; margin: 6px 0; }}
th, td {{ border: 1px solid #ccc; padding: 3px 8px; font-size: 13px; text-align: left; }}
</style></head><body>
<h1>lstmkit report: {len(histories)} run(s)</h1>
{_overview(histories)}
<h2>curves per epoch</h2>
<div class="charts">{"".join(curves(histories))}</div>
<div class="runs">{columns}</div>
</body></html>
"""
