"""A server's life: a request that waits past --timeout is a 504 and the server lives on; SIGTERM stops accepting,
finishes the request in flight, and exits 0; a run that cannot be served is a one-line error before binding."""
import os
import shutil
import signal
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")

from serve_support import Server, concurrently, in_process, predict_json, same

from lstmkit.cli import main
from lstmkit.serve import load_service
from lstmkit.serve.app import model_threads


def test_a_request_past_the_timeout_is_a_504(runs):
    # a lone text waits 2 s for company (max_wait_ms), past the 0.3 s timeout; a full batch of two runs at once
    settings = {"runs": [["cls", str(runs / "cls")]], "max_batch": 2, "max_wait_ms": 2000, "limits": {"timeout": 0.3}}
    with in_process(settings) as s:
        status, answer = s.post({"texts": ["好"]})
        assert status == 504 and "no answer within 0.3 s" in answer["error"], answer
        status, answer = s.post({"texts": ["好", "差"]})
        assert status == 200 and [p["input"] for p in answer["predictions"]] == ["好", "差"]
        assert s.metric('lstmkit_errors_total{status="504"}') == 1


def test_the_onnx_backend_answers_as_predict_backend_onnx(runs, tmp_path):
    pytest.importorskip("onnxruntime")
    for name in ("cls", "ner"):
        assert main(["export", str(runs / name), "--onnx", str(tmp_path / f"{name}.onnx")]) == 0
    texts = {"cls": ["这个真好", "那个太差了", "好"], "ner": ["张三去北京", "李四好"]}
    for name in ("cls", "ner"):
        run = tmp_path / name
        shutil.copytree(runs / name, run)
        shutil.copy(tmp_path / f"{name}.onnx", run / "model.onnx")
    with in_process({"runs": [[n, str(tmp_path / n)] for n in texts], "backend": "onnx"}) as s:
        for name, batch in texts.items():
            status, answer = s.post({"model": name, "texts": batch})
            assert status == 200, answer
            assert same(answer["predictions"], predict_json(tmp_path / name, batch, "--backend", "onnx"))
        assert {m["backend"] for m in s.get("/v1/models")[1]["models"]} == {"onnx"}
    served = [["cls", str(tmp_path / "cls")], ["lm", str(runs / "lm")], ["bare", str(runs / "ner")]]
    auto = load_service({"runs": served, "backend": "auto"})     # onnx where the task can and RUN/model.onnx is
    assert {n: m.backend for n, m in auto.models.items()} == {"cls": "onnx", "lm": "torch", "bare": "torch"}
    assert auto.models["cls"].task.runner is not None and auto.models["bare"].task.runner is None
    with pytest.raises(ValueError, match="--backend onnx runs classify and tag runs"):
        load_service({"runs": [["lm", str(runs / "lm")]], "backend": "onnx"})
    with pytest.raises(FileNotFoundError, match="lstmkit export"):
        load_service({"runs": [["cls", str(runs / "cls")]], "backend": "onnx"})


def test_sigterm_finishes_the_request_in_flight_and_exits_0(runs, tmp_path):
    s = Server(runs / "cls", "--max-wait-ms", "1500", tmp=tmp_path)    # a lone request waits 1.5 s in its batch
    answers = []
    client = threading.Thread(target=lambda: answers.append(s.post({"texts": ["这个真好"]})))
    client.start()
    time.sleep(0.5)                                   # the request is in the batcher's queue now
    began = time.monotonic()
    s.proc.send_signal(signal.SIGTERM)
    time.sleep(0.3)
    with pytest.raises((urllib.error.URLError, ConnectionError)):   # no new connection is accepted
        urllib.request.urlopen(s.url + "/health", timeout=5)
    client.join(20)
    assert s.proc.wait(20) == 0
    assert time.monotonic() - began < 10
    status, answer = answers[0]
    assert status == 200 and answer["predictions"] == predict_json(runs / "cls", ["这个真好"])
    assert "Traceback" not in s.stderr()
    s.stop()


def _workers(pid: int) -> list[int]:
    """The worker processes (multiprocessing's spawned children, not its resource tracker) of ``pid``: /proc."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            command = (stat.parent / "cmdline").read_bytes()
        except OSError:                                   # gone meanwhile
            continue
        if parent == pid and b"spawn_main" in command:
            found.append(int(stat.parent.name))
    return found


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads the process tree from /proc")
def test_two_workers_answer_and_sigterm_stops_both(runs, tmp_path):
    s = Server(runs / "cls", "--workers", "2", tmp=tmp_path)
    end = time.monotonic() + 30
    while len(_workers(s.proc.pid)) < 2 and time.monotonic() < end:
        time.sleep(0.1)
    workers = _workers(s.proc.pid)
    expected = predict_json(runs / "cls", ["这个真好"])
    answers = []
    concurrently(lambda k: answers.append(s.post({"texts": ["这个真好"]}, timeout=20)), 8, seconds=30)
    log = s.stderr()
    assert s.stop(signal.SIGTERM, timeout=30) == 0, log
    assert "(2 workers" in log and "Traceback" not in log, log
    assert len(workers) == 2, (workers, log)
    assert answers == [(200, {"model": "cls", "predictions": expected})] * 8
    end = time.monotonic() + 10
    while any(Path(f"/proc/{pid}").exists() for pid in workers) and time.monotonic() < end:
        time.sleep(0.1)
    assert not any(Path(f"/proc/{pid}").exists() for pid in workers), "a worker outlived SIGTERM"


def test_a_model_call_gets_half_the_cpus_of_a_worker_unless_omp_num_threads_says(monkeypatch):
    monkeypatch.setattr(os, "cpu_count", lambda: 16)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    assert [model_threads(w) for w in (1, 2, 4, 8, 32)] == [8, 4, 2, 1, 1]
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    assert model_threads() == 1                       # the other core reads and answers HTTP
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert model_threads(4) == 3


@pytest.mark.parametrize("argv,message", [
    (["serve", "/nonexistent/run"], "/nonexistent/run"),
    (["serve", "bad name=/nonexistent/run"], "a model's name is"),
    (["serve", "RUN", "RUN"], "distinct names"),
    (["serve", "RUN", "--max-batch", "0"], "expected a positive integer"),
    (["serve", "RUN", "--port", "70000"], "a port in 0..65535"),
])
def test_what_cannot_be_served_is_one_line_before_binding(runs, capsys, argv, message):
    try:
        code = main([str(runs / "cls") if a == "RUN" else a for a in argv])
    except SystemExit as e:                         # argparse's own errors
        code = e.code
    err = capsys.readouterr().err
    assert code == 2 and message in err and "Traceback" not in err, err
