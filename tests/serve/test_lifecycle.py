"""A server's life: a request that waits past --timeout is a 504 and the server lives on; SIGTERM stops accepting,
finishes the request in flight, and exits 0; a run that cannot be served is a one-line error before binding."""
import signal
import threading
import time
import urllib.error
import urllib.request

import pytest

pytest.importorskip("starlette")
uvicorn = pytest.importorskip("uvicorn")

from conftest import Client, Server, predict_json

from lstmkit.cli import main
from lstmkit.serve import build_app, load_service


def test_a_request_past_the_timeout_is_a_504(runs):
    # in this process (uvicorn in a thread): a lone text waits 2 s for company (max_wait_ms), past the 0.3 s
    # timeout; a full batch of two runs at once
    settings = {"runs": [["cls", str(runs / "cls")]], "device": "cpu", "max_batch": 2, "max_wait_ms": 2000,
                "limits": {"timeout": 0.3}}
    config = uvicorn.Config(build_app(load_service(settings)), host="127.0.0.1", port=0, log_level="warning",
                            lifespan="on")
    server, sock = uvicorn.Server(config), config.bind_socket()
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]})
    thread.start()
    try:
        end = time.monotonic() + 20
        while not server.started and thread.is_alive() and time.monotonic() < end:
            time.sleep(0.02)
        s = Client(f"http://127.0.0.1:{sock.getsockname()[1]}")
        status, answer = s.post({"texts": ["好"]})
        assert status == 504 and "no answer within 0.3 s" in answer["error"], answer
        status, answer = s.post({"texts": ["好", "差"]})
        assert status == 200 and [p["input"] for p in answer["predictions"]] == ["好", "差"]
        assert s.metric('lstmkit_errors_total{status="504"}') == 1
    finally:
        server.should_exit = True
        thread.join(20)
    assert not thread.is_alive()


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
