"""benchmarks/bench_serve.py --quick: it trains its tiny runs, serves them in every setting, stops by itself, and
its table holds what the servers measured (no failure, one input per call without batching, the batching
window in the queue time of a lone client)."""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")
pytest.importorskip("onnxruntime")

from lstmkit.cli import build_parser

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_serve.py"
ROW = re.compile(r"^(sentiment|ner)\s+(\S+, (?:batch 1|batching))( \*)?\s+(\d+)\s+" + r"\s+".join([r"(\S+)"] * 9) + "$")


def test_the_quick_bench_serves_every_setting_and_stops_by_itself():
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, str(BENCH), "--quick"], capture_output=True, text=True, timeout=180,
                          stdin=subprocess.DEVNULL, env=env, cwd=BENCH.parent)
    assert done.returncode == 0, done.stderr[-3000:]
    rows = {}
    for line in done.stdout.splitlines():
        found = ROW.match(line)
        if found:
            model, setting, default, clients = found.group(1, 2, 3, 4)
            values = dict(zip(("rps", "p50", "p95", "p99", "batch", "http", "queue", "model", "failed"),
                              map(float, found.groups()[4:])))
            rows[model, setting, int(clients)] = {**values, "default": bool(default)}
    settings = ("torch, batch 1", "torch, batching", "onnx, batch 1", "onnx, batching")
    assert set(rows) == {(m, s, c) for m in ("sentiment", "ner") for s in settings for c in (1, 4)}, done.stdout
    wait = build_parser().parse_args(["serve", "RUN"]).max_wait_ms
    for (model, setting, clients), r in rows.items():
        assert r["failed"] == 0 and r["rps"] > 0 and r["p50"] <= r["p95"] <= r["p99"], (model, setting, r)
        assert r["model"] > 0 and r["http"] > 0 and r["queue"] >= 0, (model, setting, r)
        if setting.endswith("batch 1"):
            assert r["batch"] == 1.0, (model, setting, r)
        else:
            assert 1.0 <= r["batch"] <= clients, (model, setting, r)
        if clients == 1:               # a lone client: the window is all its queue time, or none without batching
            assert (r["queue"] >= 0.9 * wait) if setting.endswith("batching") else r["queue"] < 1.0, (setting, r)
    assert sum(r["default"] for r in rows.values()) == 4                   # one setting is the CLI's: 2 models x 2 C
    assert len(re.findall(r"^offline .* predict --file: [\d,]+ texts/s", done.stdout, re.MULTILINE)) == 4
    assert len(re.findall(r"^goal ", done.stdout, re.MULTILINE)) == 2
