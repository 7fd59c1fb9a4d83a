"""``lstmkit serve`` under load on loopback: requests/s and latency percentiles, dynamic batching on vs off.

For each setting (wait-5ms: ``--max-batch 64 --max-wait-ms 5``, the default; wait-0: ``--max-wait-ms 0``, a batch
of whatever is queued when the model is free; none: ``--max-batch 1``) a server process serves RUN on a free
loopback port; then for each C in ``--clients`` (1, 8, 32) C threads share a fixed number of requests
(``--requests`` of ``--texts`` texts each, drawn from ``--file`` or a built-in list), each client sending its next
request when the last is answered. "batch" is the mean inputs per model call. Latency is per request, send to answer; requests/s is requests over the
wall time of the whole round. A warm-up round runs first. The client threads share the machine with the server,
so on a small machine the numbers are the pair's, not the server's alone.

    python benchmarks/bench_serve.py RUN                         # a classifier run
    python benchmarks/bench_serve.py RUN --requests 2000 --clients 1 8 32 64
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

TEXTS = ["这本书写得真好，值得一读。", "质量太差了，用了两天就坏了，再也不买了。", "物流很快，包装也不错",
         "接触LSTM模型不久，简单看了一些相关的论文，还没有动手实现过。", "还行吧", "客服态度很差，不会再来了",
         "性价比很高，推荐购买！", "一般般，没有想象中好"]


def start(run: str, *options: str):
    """A server on a free loopback port: (process, URL)."""
    log = tempfile.TemporaryFile("w+", encoding="utf-8")
    proc = subprocess.Popen([sys.executable, "-m", "lstmkit.cli", "serve", run, "--host", "127.0.0.1", "--port",
                             "0", *options], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log)
    end = time.monotonic() + 120
    while time.monotonic() < end and proc.poll() is None:
        log.seek(0)
        found = re.search(r"on (http://127\.0\.0\.1:\d+)", log.read())
        if found:
            return proc, found.group(1)
        time.sleep(0.1)
    proc.kill()
    log.seek(0)
    raise SystemExit(f"bench_serve: the server did not start:\n{log.read()}")


def post(url: str, texts: list[str]) -> None:
    req = urllib.request.Request(url + "/v1/predict", json.dumps({"texts": texts}).encode("utf-8"),
                                 headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(req, timeout=60) as resp:
        if resp.status != 200:
            raise RuntimeError(f"status {resp.status}")
        json.loads(resp.read())


def load(url: str, texts: list[str], requests: int, clients: int, per_request: int = 1) -> dict:
    """``requests`` requests from ``clients`` threads; requests/s and latency percentiles (ms)."""
    latencies, failures, lock = [], [], threading.Lock()
    counter = iter(range(requests))

    def client():
        while True:
            with lock:
                k = next(counter, None)
            if k is None:
                return
            began = time.perf_counter()
            try:
                post(url, [texts[(k + j) % len(texts)] for j in range(per_request)])
            except Exception as e:            # noqa: BLE001  (counted and reported, never hidden)
                failures.append(str(e))
                continue
            with lock:
                latencies.append(time.perf_counter() - began)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    began = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - began
    latencies.sort()

    def pct(p):
        return 1000 * latencies[min(len(latencies) - 1, int(p / 100 * len(latencies)))] if latencies else float("nan")

    return {"rps": len(latencies) / wall, "p50": pct(50), "p95": pct(95), "p99": pct(99), "failed": len(failures)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run", help="a trained classifier run folder")
    p.add_argument("--requests", type=int, default=600, help="requests per round (default 600)")
    p.add_argument("--clients", type=int, nargs="+", default=[1, 8, 32], help="concurrent clients (default 1 8 32)")
    p.add_argument("--texts", type=int, default=1, help="texts per request (default 1)")
    p.add_argument("--file", help="texts to send, one per line (default: eight built-in reviews)")
    args = p.parse_args()
    texts = [t for t in Path(args.file).read_text(encoding="utf-8").splitlines() if t.strip()] if args.file else TEXTS
    settings = [("wait-5ms", ["--max-batch", "64", "--max-wait-ms", "5"]),
                ("wait-0", ["--max-batch", "64", "--max-wait-ms", "0"]), ("none", ["--max-batch", "1"])]
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs; {args.requests} requests of "
          f"{args.texts} text(s) per round; run {args.run}")
    print(f"{'batching':<10}{'clients':>8}{'req/s':>9}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'batch':>7}"
          f"{'failed':>8}")
    for name, options in settings:
        proc, url = start(args.run, *options)
        try:
            load(url, texts, min(100, args.requests), max(args.clients), args.texts)            # warm-up
            for clients in args.clients:
                before = _calls(url)
                r = load(url, texts, args.requests, clients, args.texts)
                calls = _calls(url) - before
                mean = args.requests * args.texts / calls if calls else float("nan")
                print(f"{name:<10}{clients:>8}{r['rps']:>9.1f}{r['p50']:>9.1f}{r['p95']:>9.1f}{r['p99']:>9.1f}"
                      f"{mean:>7.1f}{r['failed']:>8}", flush=True)
        finally:
            proc.terminate()
            proc.wait(30)


def _calls(url: str) -> float:
    """Model calls so far (all models)."""
    with urllib.request.urlopen(url + "/metrics", timeout=10) as resp:
        text = resp.read().decode("utf-8")
    return sum(float(v) for v in re.findall(r"^lstmkit_batch_size_count\{[^}]*\} (\S+)$", text, re.MULTILINE))


if __name__ == "__main__":
    main()
