"""The report page: self-contained, every picture drawn from the run's own numbers (checked against the numbers
the runs were written with, not against the drawing code), and (in headless Chromium) not blank."""
import math
import re

import numpy as np
import pytest
from chromium import needs_chromium, screenshot
from report_support import ACCURACY, CONFUSION, LABELS, LM_LOSS, PER_TYPE

from lstmkit.report import read_history
from lstmkit.report.html import render_report_html


@pytest.fixture
def page(written):
    return render_report_html([read_history(written[k]) for k in ("clf", "tag", "lm")])


def _polylines(page: str) -> dict:
    """title -> [(x, y), ...] of every curve."""
    found = re.findall(r'<polyline class="curve" points="([^"]*)"[^>]*><title>([^<]*)</title>', page)
    return {title: [tuple(map(float, p.split(","))) for p in pts.split()] for pts, title in found}


def test_page_is_self_contained_with_every_picture(page, written):
    assert not re.search(r"(src|href)\s*=\s*[\"']?(https?:)?//", page), "nothing is fetched from a network"
    assert "<script" not in page and "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert page.count('class="chart"') == 5          # loss, accuracy, f1, perplexity, learning rate
    assert page.count('class="confusion"') == 1 and page.count('class="chart bars"') == 1
    assert page.count('<section class="run"') == 3
    assert all(name in page for name in LABELS) and "人名" in page


def test_curves_are_the_metrics_mapped_linearly(page, written):
    curves = _polylines(page)
    acc = curves[f"{written['clf']}: dev accuracy"]
    xs, ys = [p[0] for p in acc], [p[1] for p in acc]
    assert xs[1] - xs[0] == pytest.approx(xs[2] - xs[1], abs=0.2)            # one epoch, one step
    # pixels are an affine map of the values: the ratios of differences are the values' (y grows downwards)
    ratio = (ys[2] - ys[0]) / (ys[1] - ys[0])
    assert ratio == pytest.approx((ACCURACY[2] - ACCURACY[0]) / (ACCURACY[1] - ACCURACY[0]), abs=0.02)
    assert ys[1] < ys[2] < ys[0]
    ring = re.search(r'<circle class="best" cx="([\d.]+)" cy="([\d.]+)"', page)
    assert (float(ring.group(1)), float(ring.group(2))) == (xs[1], ys[1])   # the best epoch, 2, not the last
    train = curves[f"{written['clf']}: train loss"]
    assert [round(y, 1) for _, y in train] == sorted(round(y, 1) for _, y in train)   # 2/epoch falls: y grows


def test_perplexity_falling_far_is_drawn_on_a_log_axis(page, written):
    ppl = _polylines(page)[f"{written['lm']}: dev perplexity"]
    ys = [y for _, y in ppl]
    logs = [math.log10(math.exp(v)) for v in LM_LOSS]          # on a log axis, pixel steps follow log10(ppl)
    assert (ys[2] - ys[0]) / (ys[1] - ys[0]) == pytest.approx((logs[2] - logs[0]) / (logs[1] - logs[0]), abs=0.02)
    assert "perplexity (log)" in page
    bits = LM_LOSS[2] / math.log(2)
    assert f"<td>bits per token</td><td>{bits:.4f}</td>" in page


def test_confusion_matrix_holds_the_best_epochs_counts(page):
    best = CONFUSION[1]                                          # epoch 2 improved last
    svg = re.search(r'<svg class="confusion".*?</svg>', page).group(0)
    counts = [int(n) for n in re.findall(r'font-size="11">(\d+)</text>', svg)]
    assert counts == [n for row in best for n in row]
    assert f"gold {LABELS[1]}, predicted {LABELS[0]}: 2 ({2 / 6:.1%} of the row)" in svg
    assert "confusion at epoch 2" in svg


def test_per_type_bars_are_proportional_to_the_scores(page):
    bars = re.findall(r'<rect class="bar" [^>]*height="([\d.]+)"[^>]*><title>(\S+) (\w+): ([\d.]+)</title>', page)
    assert len(bars) == 3 * len(PER_TYPE)
    scale = [float(h) / float(v) for h, _, _, v in bars if float(v) > 0]
    assert max(scale) - min(scale) < 0.5                         # one pixels-per-unit for every bar
    shown = {(t, k): float(v) for _, t, k, v in bars}
    assert shown[("人名", "recall")] == 0.5 and shown[("LOC", "F1")] == pytest.approx(0.4)


def test_pictures_on_dev_data_need_data_and_say_so(trained):
    page = render_report_html([read_history(trained / "s2s"), read_history(trained / "reg")])
    assert page.count("give --data FILE") == 2 and 'class="heatmap"' not in page


def test_attention_maps_of_a_few_dev_examples(trained):
    page = render_report_html([read_history(trained / "s2s")], data=str(trained / "pairs.tsv"), examples=2)
    maps = re.findall(r'<svg class="heatmap".*?</svg>', page)
    assert len(maps) == 2 and "<b>gold</b> K AE T" in page and "<b>source</b> cat" in page
    for svg in maps:                     # every output step's weights over the source sum to 1
        rows = {}
        for row, value in re.findall(r"<title>(.*?) / .*?: ([\d.]+)</title>", svg):
            rows[row] = rows.get(row, 0.0) + float(value)
        assert rows and all(s == pytest.approx(1.0, abs=2e-3) for s in rows.values())


def test_forecasts_are_the_models_own(trained):
    import lstmkit
    from lstmkit.data.series import SeriesDataset, read_series

    page = render_report_html([read_history(trained / "reg")], data=str(trained / "short.csv"))
    drawn = {int(x): float(v) for x, v in re.findall(r"forecast 1 step ahead, step \(row of [^)]*\) (\d+): ([-\d.e]+)",
                                                     page)}
    assert sorted(drawn) == list(range(12, 38))                  # 40 rows, window 12, horizon 3: 26 windows
    series = read_series(trained / "short.csv", ["value"])
    model = lstmkit.load(trained / "reg")
    for t in (12, 25, 37):                                       # the forecast after rows 0..t-1, by predict
        rec = model.predict([SeriesDataset(series.values[:t], ["value"])])[0]
        assert drawn[t] == pytest.approx(rec["forecast"][0], rel=1e-5)
    truth = _polylines(page)["truth (value)"]
    assert len(truth) == 40


def test_a_run_on_a_built_in_corpus_draws_from_its_dev_split(trained):
    page = render_report_html([read_history(trained / "co2")])
    assert "windows of the dev split of the built-in corpus co2" in page and "give --data" not in page
    truth = _polylines(page)["truth (co2)"]
    forecast = _polylines(page)["forecast 1 step ahead"]
    assert truth[-1][0] > forecast[0][0] > truth[0][0]            # the dev steps, after a window of context


@needs_chromium
def test_screenshot_in_headless_chromium(written, trained, tmp_path):
    histories = [read_history(written["clf"]), read_history(trained / "reg")]
    img = screenshot(render_report_html(histories, data=str(trained / "short.csv")), tmp_path)
    assert img.shape[0] >= 1000 and img.shape[1] >= 1000
    colours = np.unique(img.reshape(-1, 3), axis=0)
    assert len(colours) > 200                                     # not blank: curves, text, the heatmap
    blue = (abs(img[..., 0] - 0x1f) < 40) & (abs(img[..., 1] - 0x77) < 40) & (abs(img[..., 2] - 0xb4) < 40)
    red = (img[..., 0] > 180) & (img[..., 1] < 90) & (img[..., 2] < 90)
    dark_cells = (img[..., 2] > 150) & (img[..., 0] < 100) & (img[..., 1] < 150)     # the confusion's diagonal
    assert blue.sum() > 500 and red.sum() > 300 and dark_cells.sum() > 2000
