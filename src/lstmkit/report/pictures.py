"""Pictures a run's metrics alone cannot give: its model on dev data. A seq2seq run's attention for a few dev
examples (output steps x source steps, beside the gold target), a forecaster's forecasts against the truth.

The run folder holds no data, so the dev data comes from ``--data FILE`` (in the run's own format), or, for a
run trained on a built-in corpus (``config.json``'s ``data.corpus``), from that corpus's dev split. Each
section says which data it drew.
"""
from __future__ import annotations

import numpy as np
import torch

from ..explain.html import _esc, labelled_heatmap
from ..tasks import load_run, task_spec
from .svg import line_chart


def _read_pairs(path, config: dict):
    from ..data.pairs import read_pairs

    return read_pairs(path)


def _read_series(path, config: dict):
    from ..data.series import read_series

    m = config["model"]
    need = max(m["window"], m.get("season") or 0) + m["horizon"]
    return read_series(path, m["columns"], min_rows=need,
                       why=f"the run reads windows of {m['window']} and forecasts {m['horizon']} step(s)")


def dev_data(history, path=None):
    """``(dataset, where)``: the dev data for ``history``'s run (``path``, or its corpus's dev split), or
    ``(None, why not)``."""
    kind = task_spec(history.task).data_kind
    if kind not in PICTURES:
        return None, ""
    if path:
        try:
            return READERS[kind](path, history.config), str(path)
        except ValueError as exc:
            raise ValueError(f"--data {path} does not fit {history.run} (a {history.task} run): {exc}") from None
    corpus = (history.config.get("data") or {}).get("corpus")
    if corpus:
        from ..data import load_corpus

        return load_corpus(corpus)["dev"], f"the dev split of the built-in corpus {corpus}"
    return None, (f"{PICTURES[kind][0]}: give --data FILE (this run's dev data, in its training format) to draw "
                  f"them; a run folder holds no data")


def attention_maps(history, task, data, where: str, examples: int = 3, color: str = "") -> str:
    """The first ``examples`` sources of ``data``: the run's own output (its beam search), the gold target, and
    the attention weights the decoder gave each source step while writing that output (``color`` is unused: the
    maps have their own scale)."""
    sources = data.sources[:examples]
    tracer = task_spec(history.task).explain_tracer
    task.model.eval()
    with torch.no_grad():
        tr = tracer(task, history.run, sources)
    if not any(tr.heatmaps):
        return '<p class="note">This run has no attention (attention "none"): no maps to draw.</p>'
    parts = [f'<p class="note">The first {len(sources)} example(s) of {_esc(where)}; each row is one output '
             f"step of the run's own output (beam {task.config.beam_size}), each column a source token.</p>"]
    for b, (src, maps, rec) in enumerate(zip(sources, tr.heatmaps, tr.results)):
        gold = data.targets[b] if data.targets is not None else "-"
        parts.append(f'<div class="example"><p><b>source</b> {_esc(src)}<br><b>gold</b> {_esc(gold)}<br>'
                     f'<b>output</b> {_esc(rec.get("output", ""))}</p>'
                     + "".join(labelled_heatmap(h) for h in maps) + "</div>")
    return parts[0] + '<div class="maps">' + "".join(parts[1:]) + "</div>"


def forecasts(history, task, data, where: str, examples: int = 3, color: str = "#1f77b4") -> str:
    """Every window of ``data``: the forecast 1 step ahead (and ``H`` steps ahead) against the true target,
    with the errors of what is drawn (``examples`` is the attention maps' count: a forecast draws every window)."""
    c = task.config
    enc = task.encode(data)                      # a ValueError naming the data when no window fits
    pred, y, t = task.predict(enc), enc["y"], enc["t"]                 # (N, H), (N, H), (N,)
    if not len(t):
        return f'<p class="note">{_esc(where)} holds no window of {c.window} steps with {c.horizon} after it.</p>'
    truth = data.matrix([c.target])[:, 0]                              # (S,)
    first = max(0, int(t[0]) - c.window)                               # from the first window read: no context
    H = c.horizon
    lines = [{"label": f"truth ({c.target})", "points": list(zip(range(first, len(truth)), truth[first:].tolist())),
              "color": "#222"},
             {"label": "forecast 1 step ahead", "points": list(zip(t.tolist(), pred[:, 0].tolist())), "color": color}]
    mae = [f"1 step ahead {float(np.abs(pred[:, 0] - y[:, 0]).mean()):.4f}"]
    if H > 1:
        lines.append({"label": f"forecast {H} steps ahead", "points": list(zip((t + H - 1).tolist(),
                      pred[:, -1].tolist())), "color": color, "dash": True})
        mae.append(f"{H} steps ahead {float(np.abs(pred[:, -1] - y[:, -1]).mean()):.4f}")
    chart = line_chart(f"{c.target}: forecast against the truth", lines, xlabel=f"step (row of {where})",
                       ylabel=c.target, width=880)
    return (f'<p class="note">{len(t):,} windows of {_esc(where)} (window {c.window}, horizon {H}); black: the '
            f"truth, solid: the forecast 1 step ahead{', dashed: ' + str(H) + ' steps ahead' if H > 1 else ''}. "
            f"MAE of what is drawn: {', '.join(mae)}.</p>{chart}")


READERS = {"seq2seq": _read_pairs, "series": _read_series}
PICTURES = {"seq2seq": ("attention maps", attention_maps), "series": ("forecast against the truth", forecasts)}


def dev_pictures(history, data_path=None, examples: int = 3, color: str = "#1f77b4") -> tuple[str, str]:
    """``(title, html)``: the run's pictures on dev data, or a note saying what they need; ``("", "")`` for a
    task that has none."""
    kind = task_spec(history.task).data_kind
    if kind not in PICTURES:
        return "", ""
    title, draw = PICTURES[kind]
    data, where = dev_data(history, data_path)
    if data is None:
        return title, f'<p class="note">{_esc(where)}.</p>'
    try:
        task = load_run(history.run)
    except (ValueError, OSError) as exc:
        return title, f'<p class="note">Not drawn: the model could not be loaded ({_esc(exc)}).</p>'
    return title, draw(history, task, data, where, examples, color)
