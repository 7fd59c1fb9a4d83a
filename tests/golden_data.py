"""Where the golden data from real TensorFlow/Keras lives, and how tests read it."""
import json
import os
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = Path(os.environ.get("LSTMKIT_GOLDEN", ROOT.parent / "shared" / "golden"))


def golden_manifest(kind: str) -> dict:
    path = GOLDEN / kind / "manifest.json"
    if not path.is_file():  # the suite's ground truth: its absence is a failure, never a silent skip
        raise FileNotFoundError(f"golden data missing: {path} (set LSTMKIT_GOLDEN to ../shared/golden)")
    return json.loads(path.read_text(encoding="utf-8"))["cases"]


def golden_case(kind: str, name: str) -> dict:
    with np.load(GOLDEN / kind / f"{name}.npz") as data:
        return {k: data[k] for k in data.files}
