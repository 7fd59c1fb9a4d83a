"""The HTML report: self-contained, the pictures there, and (in headless Chromium) not blank."""
import re

import numpy as np
import pytest
from chromium import needs_chromium, screenshot

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


@needs_chromium
def test_screenshot_in_headless_chromium(page, tmp_path):
    img = screenshot(page, tmp_path)
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
