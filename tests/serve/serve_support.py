"""A real ``lstmkit serve`` process on a free loopback port, tiny runs of every task to serve, and an HTTP client
(urllib): what the serve tests share."""
import contextlib
import io
import json
import math
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import torch

from lstmkit.cli import main

TINY = ["--epochs", "1", "--units", "4", "--embedding-dim", "4", "--quiet"]
TRAIN = "label\ttext\n" + "".join(f"1\t这个真好{k}\n0\t那个太差了{k}\n" for k in range(12))
CONLL = "".join("张 B-PER\n三 E-PER\n去 O\n北 B-LOC\n京 E-LOC\n\n李 B-PER\n四 E-PER\n好 O\n\n" for _ in range(4))
PAIRS = "ab\tA B\nba\tB A\nabc\tA B C\n" * 6
LINES = "今天天气很好\n明天也好\n" * 6
SERIES = "y\n" + "".join(f"{(k % 16) / 4:.2f}\n" for k in range(96))


@pytest.fixture(scope="session")
def runs(tmp_path_factory):
    """One tiny run per task: {name: folder}, and the data files beside them."""
    d = tmp_path_factory.mktemp("serve-runs")
    for name, text in (("train.tsv", TRAIN), ("ner.conll", CONLL), ("pairs.tsv", PAIRS), ("lines.txt", LINES),
                       ("series.csv", SERIES)):
        (d / name).write_text(text, encoding="utf-8")
    trainings = {
        "cls": ["classify", "--train", d / "train.tsv", "--dev", d / "train.tsv", *TINY],
        "ner": ["tag", "--train", d / "ner.conll", "--dev", d / "ner.conll", "--format", "conll",
                "--word-features", "none", *TINY],
        "s2s": ["seq2seq", "--train", d / "pairs.tsv", "--dev", d / "pairs.tsv", *TINY],
        "lm": ["lm", "--train", d / "lines.txt", "--dev", d / "lines.txt", *TINY],
        "fc": ["regress", "--train", d / "series.csv", "--window", "8", "--units", "4", "--epochs", "1", "--quiet"],
    }
    threads = torch.get_num_threads()
    torch.set_num_threads(1)                     # tiny LSTMs train faster on one thread than on contended ones
    try:
        for name, argv in trainings.items():
            assert main(["train", *map(str, argv), "--out", str(d / name)]) == 0, name
    finally:
        torch.set_num_threads(threads)
    return d


def predict_json(run, texts, *options) -> list[dict]:
    """What ``lstmkit predict RUN TEXT... --json`` prints, one record per text (in this process)."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["predict", str(run), *texts, "--json", "--quiet", "--device", "cpu", *options]) == 0
    return [json.loads(line) for line in out.getvalue().splitlines()]


def same(a, b, tol=1e-5) -> bool:
    """Equal JSON values, numbers to ``tol``."""
    if isinstance(a, float) or isinstance(b, float):
        return isinstance(a, (int, float)) and isinstance(b, (int, float)) and math.isclose(a, b, abs_tol=tol)
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(same(a[k], b[k], tol) for k in a)
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(same(x, y, tol) for x, y in zip(a, b))
    return a == b


class Client:
    """An HTTP client (urllib) of the server at ``url``."""

    def __init__(self, url: str):
        self.url = url

    def request(self, method: str, path: str, body=None, raw: bytes | None = None, timeout: float = 30):
        """(status, parsed JSON or text) of one request."""
        return self.exchange(method, path, body, raw, timeout)[:2]

    def exchange(self, method: str, path: str, body=None, raw: bytes | None = None, timeout: float = 30):
        """(status, parsed JSON or text, the response's headers) of one request."""
        data = raw if raw is not None else (None if body is None else json.dumps(body).encode("utf-8"))
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                status, text, headers = resp.status, resp.read().decode("utf-8"), resp.headers
        except urllib.error.HTTPError as e:
            status, text, headers = e.code, e.read().decode("utf-8"), e.headers
        try:
            return status, json.loads(text), headers
        except ValueError:
            return status, text, headers

    def get(self, path: str):
        return self.request("GET", path)

    def post(self, body=None, raw: bytes | None = None, path: str = "/v1/predict", timeout: float = 30):
        return self.request("POST", path, body, raw, timeout)

    def metric(self, line_start: str) -> float:
        """The value of the first /metrics line that starts with ``line_start``."""
        _, text = self.get("/metrics")
        for line in text.splitlines():
            if line.startswith(line_start):
                return float(line.rsplit(" ", 1)[1])
        raise AssertionError(f"no metric line {line_start!r} in:\n{text}")


def concurrently(client, n: int, seconds: float = 60) -> None:
    """``client(k)`` for k in 0..n-1, each in its own thread, released together; returns when all are done."""
    start = threading.Barrier(n)

    def released(k):
        start.wait(10)
        client(k)

    threads = [threading.Thread(target=released, args=(k,)) for k in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(seconds)
    assert not any(t.is_alive() for t in threads), f"clients still waiting after {seconds} s"


class Server(Client):
    """``python -m lstmkit.cli serve ARGS --port 0`` (loopback only), its URL read from its stderr."""

    def __init__(self, *args, tmp: Path):
        self.log = (tmp / f"serve-{time.monotonic_ns()}.log").open("w+", encoding="utf-8")
        env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen([sys.executable, "-m", "lstmkit.cli", "serve", *map(str, args), "--host",
                                      "127.0.0.1", "--port", "0", "--device", "cpu"], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=self.log, env=env)
        self.url = self._wait_for_url(60)
        status, answer = self.get("/ready")
        assert status == 200, (answer, self.stderr())

    def _wait_for_url(self, seconds: float) -> str:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.log.seek(0)
            found = re.search(r"on (http://127\.0\.0\.1:\d+)", self.log.read())
            if found:
                return found.group(1)
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        self.stop()
        raise AssertionError(f"the server did not start: {self.stderr()}")

    def stderr(self) -> str:
        self.log.seek(0)
        return self.log.read()

    def stop(self, sig=signal.SIGTERM, timeout: float = 20) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.log.close() if not self.log.closed else None
        return self.proc.returncode


@contextlib.contextmanager
def in_process(settings: dict):
    """The app of ``settings`` on uvicorn in a thread of this process, on a free loopback port: a Client."""
    import uvicorn

    from lstmkit.serve import build_app, load_service

    config = uvicorn.Config(build_app(load_service({"device": "cpu", **settings})), host="127.0.0.1", port=0,
                            log_level="warning", lifespan="on")
    server, sock = uvicorn.Server(config), config.bind_socket()
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]})
    thread.start()
    try:
        end = time.monotonic() + 20
        while not server.started and thread.is_alive() and time.monotonic() < end:
            time.sleep(0.02)
        assert server.started, "uvicorn did not start"
        yield Client(f"http://127.0.0.1:{sock.getsockname()[1]}")
    finally:
        server.should_exit = True
        thread.join(20)
    assert not thread.is_alive()


@pytest.fixture(scope="session")
def server(runs, tmp_path_factory):
    """Every tiny run behind one server with small limits and a 20 ms batching window."""
    s = Server(*(runs / n for n in ("cls", "ner", "s2s", "lm", "fc")), "--max-wait-ms", "20", "--max-batch", "32",
               "--max-texts", "8", "--max-chars", "2000", "--max-body", "8192", tmp=tmp_path_factory.mktemp("log"))
    yield s
    s.stop()
