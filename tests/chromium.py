"""Screenshots of HTML pages in headless Chromium (Debian's; `make test` installs it with a CJK font where
apt-get can), for the tests that look at what lstmkit draws."""
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


needs_chromium = pytest.mark.skipif(not chromium(), reason="Debian's chromium is not installed (make test installs "
                                                           "it where apt-get can; this machine could not)")


def screenshot(page: str, folder: Path, size: str = "1400,1400") -> np.ndarray:
    """``page`` (HTML) rendered at ``size`` pixels: the picture as an ``(height, width, 3)`` int32 array."""
    from PIL import Image

    html, png = folder / "page.html", folder / "shot.png"
    html.write_text(page, encoding="utf-8")
    cmd = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           f"--user-data-dir={folder / 'profile'}", "--hide-scrollbars", f"--window-size={size}",
           f"--screenshot={png}", html.as_uri()]
    subprocess.run(cmd, capture_output=True, timeout=120, check=False)
    assert png.is_file(), "chromium wrote no screenshot"
    return np.asarray(Image.open(png).convert("RGB")).astype(np.int32)
