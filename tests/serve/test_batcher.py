"""The batcher alone, with a model that records its calls: requests arriving together share one call of at most
--max-batch inputs, only equal options share a call, each request gets its own records back; and the metrics'
text format."""
import asyncio
import threading
import time

import pytest

pytest.importorskip("starlette")

from lstmkit.serve.batcher import Batcher
from lstmkit.serve.metrics import ServerMetrics
from lstmkit.serve.models import RequestError


class Recorder:
    """A model whose records say which call computed them."""

    name = "toy"

    def __init__(self, seconds: float = 0.0):
        self.calls, self.lock, self.seconds = [], threading.Lock(), seconds

    def predict(self, inputs, options):
        if "bad" in inputs:
            raise ValueError("a bad input")
        time.sleep(self.seconds)
        with self.lock:
            self.calls.append((list(inputs), options))
            call = len(self.calls)
        return [{"input": x, "call": call, "options": dict(options)} for x in inputs]


def _serve(requests, max_batch=4, max_wait=0.05, timings=None, seconds=0.0):
    """Submit every (inputs, options) at once; (records per request or the error, the model's calls); each
    request's times into ``timings`` (a list of dicts) when given."""
    model, metrics = Recorder(seconds), ServerMetrics()
    timings = [None] * len(requests) if timings is None else timings

    async def go():
        batcher = Batcher(model, metrics, max_batch, max_wait)
        batcher.start()
        try:
            return await asyncio.gather(*(batcher.submit(i, o, t) for (i, o), t in zip(requests, timings)),
                                        return_exceptions=True)
        finally:
            await batcher.stop()

    return asyncio.run(go()), model.calls, metrics


def test_requests_arriving_together_share_a_call_and_get_their_own_records():
    answers, calls, metrics = _serve([(["a"], ()), (["b", "c"], ()), (["d"], ()), (["e"], ())], max_batch=4)
    assert [[r["input"] for r in a] for a in answers] == [["a"], ["b", "c"], ["d"], ["e"]]
    assert calls == [(["a", "b", "c", "d"], ()), (["e"], ())]     # "e" did not fit: the next call's first
    assert [r["call"] for a in answers for r in a] == [1, 1, 1, 1, 2]
    assert 'lstmkit_batch_size_bucket{model="toy",le="4"} 2' in metrics.text()
    assert 'lstmkit_batch_requests_bucket{model="toy",le="1"} 1' in metrics.text()
    assert 'lstmkit_queue_depth{model="toy"} 0' in metrics.text()


def test_each_request_knows_its_wait_for_the_model_call_and_that_calls_time():
    timings = [{} for _ in range(3)]
    _, calls, metrics = _serve([(["a"], ()), (["b"], ()), (["c"], ())], max_batch=2, max_wait=0.05,
                               timings=timings, seconds=0.1)
    assert [c[0] for c in calls] == [["a", "b"], ["c"]]
    first, second, third = timings
    assert first["queue"] < 0.04 and second["queue"] < 0.04             # a full batch waits for no window
    assert all(0.1 <= t["model"] < 0.15 for t in timings)                 # the sleeping call
    assert third["queue"] >= first["model"] + 0.05     # "c" waited for the first call, then its window alone
    text = metrics.text()
    assert 'lstmkit_model_seconds_count{model="toy"} 3' in text and 'lstmkit_queue_seconds_count{model="toy"} 3' in text
    assert 'lstmkit_model_seconds_bucket{model="toy",le="0.1"} 0' in text
    assert 'lstmkit_http_seconds_count{model="toy"} 0' in text          # the app's part: no HTTP here


def test_only_equal_options_share_a_call():
    wide, narrow = (("beam_size", 4),), (("beam_size", 1),)
    answers, calls, _ = _serve([(["a"], wide), (["b"], narrow), (["c"], wide)], max_batch=8)
    assert sorted(calls) == sorted([(["a", "c"], wide), (["b"], narrow)])
    assert [a[0]["options"] for a in answers] == [{"beam_size": 4}, {"beam_size": 1}, {"beam_size": 4}]


def test_max_batch_1_runs_every_request_alone_and_a_large_one_is_split():
    _, calls, _ = _serve([(["a"], ()), (["b"], ()), (["c"], ())], max_batch=1)
    assert calls == [(["a"], ()), (["b"], ()), (["c"], ())]
    answers, calls, _ = _serve([(list("abcde"), ())], max_batch=2)
    assert [c[0] for c in calls] == [["a", "b"], ["c", "d"], ["e"]]
    assert [r["input"] for r in answers[0]] == list("abcde")


def test_a_batch_runs_in_calls_of_8_inputs_sorted_by_length_and_each_request_gets_its_own_back():
    requests = [(["x" * n for n in (5, 1, 9)], ()), (["x" * n for n in (3, 12, 2, 7, 4)], ()),
                (["x" * n for n in (11, 6, 8, 10)], ())]
    answers, calls, metrics = _serve(requests, max_batch=16)
    assert [[len(x) for x in c[0]] for c in calls] == [[1, 2, 3, 4, 5, 6, 7, 8], [9, 10, 11, 12]]
    assert [[r["input"] for r in a] for a in answers] == [i for i, _ in requests]
    assert 'lstmkit_batch_size_bucket{model="toy",le="8"} 0' in metrics.text()      # one batch of 12 inputs
    assert 'lstmkit_batch_size_count{model="toy"} 1' in metrics.text()


def test_a_failing_call_fails_its_requests_only_and_the_worker_goes_on():
    answers, calls, _ = _serve([(["bad"], (("n", 1),)), (["a"], ())], max_batch=4)
    assert calls == [(["a"], ())]
    assert isinstance(answers[0], RequestError) and answers[0].status == 422 and "a bad input" in answers[0].message
    assert answers[1][0]["input"] == "a"


def test_metrics_text_format():
    metrics = ServerMetrics()
    metrics.request("/v1/predict", 200, 0.004)
    metrics.request("/v1/predict", 413, 0.0005)
    metrics.batch('a "quoted"\nname', 3, 2, 0.01)
    text = metrics.text()
    assert "# TYPE lstmkit_requests_total counter" in text
    assert 'lstmkit_requests_total{path="/v1/predict",status="413"} 1' in text
    assert 'lstmkit_errors_total{status="413"} 1' in text and 'status="200"} 1' in text
    assert 'lstmkit_request_seconds_bucket{path="/v1/predict",le="0.001"} 1' in text
    assert 'lstmkit_request_seconds_bucket{path="/v1/predict",le="0.005"} 2' in text
    assert 'lstmkit_request_seconds_count{path="/v1/predict"} 2' in text
    assert 'lstmkit_batch_size_bucket{model="a \\"quoted\\"\\nname",le="2"} 0' in text
    assert 'lstmkit_batch_size_bucket{model="a \\"quoted\\"\\nname",le="4"} 1' in text
    assert text.endswith("\n") and all(line.startswith("#") or " " in line for line in text.splitlines())
