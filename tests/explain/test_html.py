"""The HTML report: self-contained, the pictures there, and (in headless Chromium) not blank."""
import re
import shutil
import subprocess

import numpy as np
import pytest

from lstmkit.explain import trace
from lstmkit.explain.html import render_html

TEXTS = ["接触LSTM模型不久，简单看了一些相关的论文，还没有动手实现过。", "我爱北京天安门"]


@pytest.fixture(scope="module")
def page():
    return render_html(trace(TEXTS, embedding_dim=16, units=32))


def test_page_is_self_contained_and_has_every_picture(page):
    assert not re.search(r"(src|href)\s*=\s*[\"']?(https?:)?//", page), "nothing is fetched from a network"
    assert "<script" not in page
    assert page.count('class="heatmap"') == 5 * len(TEXTS)
    assert page.count('class="diagram"') == 1
    assert "(2, 21, 16)" in page or "(2, " in page            # real shapes on the diagram's arrows
    assert "接触" in page and "input gate" in page and "forget gate" in page and "hidden state h" in page
    assert page.count('class="bar"') == 2 * len(TEXTS)


def _chromium():
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(not _chromium(), reason="Debian's chromium is not installed (make test installs it where "
                                            "apt-get can; this machine could not)")
def test_screenshot_in_headless_chromium(page, tmp_path):
    from PIL import Image

    html = tmp_path / "explain.html"
    html.write_text(page, encoding="utf-8")
    png = tmp_path / "shot.png"
    cmd = [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           f"--user-data-dir={tmp_path / 'profile'}", "--hide-scrollbars", "--window-size=1400,1400",
           f"--screenshot={png}", html.as_uri()]
    subprocess.run(cmd, capture_output=True, timeout=120, check=False)
    assert png.is_file(), "chromium wrote no screenshot"
    img = np.asarray(Image.open(png).convert("RGB")).astype(np.int32)
    assert img.shape[0] >= 1000 and img.shape[1] >= 1000
    # not blank: many distinct colours (heatmaps), and the blue of the gates and the red of the states
    colours = np.unique(img.reshape(-1, 3), axis=0)
    assert len(colours) > 200
    blue = (img[..., 2] > 150) & (img[..., 0] < 120)
    red = (img[..., 0] > 200) & (img[..., 1] < 150) & (img[..., 2] < 150)
    assert blue.sum() > 2000 and red.sum() > 200


def test_diagram_shows_the_pooled_width_the_head_reads():
    from lstmkit.explain.html import diagram

    t = trace(TEXTS[:1], embedding_dim=8, units=6, bidirectional=True)
    assert t.config["pooled"] == 12 and t.config["pooling"] == "max"
    assert "12 -&gt; 2" in diagram(t)
    t.config["pooled"] = 24                                   # max+mean concatenates two D*P vectors
    assert "24 -&gt; 2" in diagram(t)
