"""The HTTP API of a real ``lstmkit serve`` process: answers equal ``lstmkit predict --json`` for every task,
concurrent clients share batches without changing an answer, and every bad request is refused with a status and
an error while the server lives on."""
import time

import pytest

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")

from serve_support import concurrently, predict_json, same

TEXTS = ["这个真好", "那个太差了", "好", "这个真好这个真好这个真好", "差差差", "这个那个"]


@pytest.mark.parametrize("name,texts,options,flags", [
    ("cls", TEXTS, None, []),
    ("ner", ["张三去北京", "李四好", "北京"], None, []),
    ("lm", ["今天天气很好", "明天", "今天也好"], None, []),
    ("s2s", ["ab", "abc", "ba"], {"beam_size": 2, "n_best": 2}, ["--beam-size", "2", "--n-best", "2"]),
])
def test_answers_are_what_predict_json_prints(server, runs, name, texts, options, flags):
    body = {"model": name, "texts": texts, **({"options": options} if options else {})}
    status, answer = server.post(body)
    assert status == 200, answer
    assert answer["model"] == name
    expected = predict_json(runs / name, texts, *flags)
    assert len(answer["predictions"]) == len(texts)
    assert same(answer["predictions"], expected), (answer["predictions"], expected)


def test_a_forecaster_reads_csv_text(server, runs):
    csv = (runs / "series.csv").read_text(encoding="utf-8")
    status, answer = server.post({"model": "fc", "series": [csv, csv]})
    assert status == 200, answer
    expected = predict_json(runs / "fc", [], "--file", str(runs / "series.csv"))[0]
    for k, got in enumerate(answer["predictions"]):
        assert got["input"] == f"series[{k}]: rows 89-96 of 96"
        assert same({**got, "input": ""}, {**expected, "input": ""})
    status, answer = server.post({"model": "fc", "series": "y\n1\n2\n"})
    assert status == 422 and "2 data rows, need at least 8" in answer["error"], answer
    status, answer = server.post({"model": "fc", "texts": ["1,2"]})
    assert status == 422 and "reads 'series'" in answer["error"], answer


def test_models_health_ready(server):
    status, listing = server.get("/v1/models")
    assert status == 200
    models = {m["name"]: m for m in listing["models"]}
    assert set(models) == {"cls", "ner", "s2s", "lm", "fc"}
    assert models["cls"]["task"] == "classify" and models["cls"]["labels"] == ["0", "1"]
    assert models["cls"]["inputs"] == "texts" and models["fc"]["inputs"] == "series"
    assert set(models["s2s"]["options"]) == {"beam_size", "n_best"} and models["cls"]["options"] == {}
    assert models["ner"]["parameters"] > 0 and models["cls"]["vocabularies"]["tokens"] > 2
    assert server.get("/health") == (200, {"status": "ok"})
    status, ready = server.get("/ready")
    assert status == 200 and ready["status"] == "ready"


def test_32_concurrent_clients_share_batches_and_get_their_own_answers(server, runs):
    expected = {rec["input"]: rec for rec in predict_json(runs / "cls", TEXTS)}
    joined_before = _joined_batches(server)
    results, errors = {}, []

    def client(k):
        texts = [TEXTS[k % len(TEXTS)], TEXTS[(k * 5 + 1) % len(TEXTS)]][: 1 + k % 2]
        for _ in range(2):
            status, answer = server.post({"model": "cls", "texts": texts})
            if status != 200:
                errors.append((status, answer))
                return
            results[k] = (texts, answer["predictions"])

    concurrently(client, 32)
    assert not errors and len(results) == 32, errors
    for texts, predictions in results.values():
        assert [p["input"] for p in predictions] == texts
        for p in predictions:
            assert same(p, expected[p["input"]]), (p, expected[p["input"]])
    assert _joined_batches(server) > joined_before          # some model call served more than one request
    assert server.metric('lstmkit_batch_size_count{model="cls"}') >= 1


def _joined_batches(server, model: str = "cls") -> float:
    """Model calls of ``model`` that joined two or more requests."""
    total = server.metric(f'lstmkit_batch_requests_count{{model="{model}"}}')
    alone = server.metric(f'lstmkit_batch_requests_bucket{{model="{model}",le="1"}}')
    return total - alone


def _server_timing(headers) -> dict:
    """``Server-Timing: a;dur=1.5, b;dur=2`` -> {"a": 1.5, "b": 2.0} (milliseconds)."""
    parts = [p.strip().split(";dur=") for p in headers["Server-Timing"].split(",")]
    return {name: float(ms) for name, ms in parts}


def test_server_timing_and_histograms_say_where_a_predictions_time_went(server):
    def sums():
        found = {s: (server.metric(f'lstmkit_{s}_seconds_sum{{model="cls"}}'),
                     server.metric(f'lstmkit_{s}_seconds_count{{model="cls"}}')) for s in ("http", "queue", "model")}
        return found, server.metric('lstmkit_batch_seconds_sum{model="cls"}')

    before, batch_before = sums()
    began = time.perf_counter()
    status, answer, headers = server.exchange("POST", "/v1/predict", {"model": "cls", "texts": ["好"]})
    latency = 1000 * (time.perf_counter() - began)
    assert status == 200, answer
    ms = _server_timing(headers)
    assert list(ms) == ["http", "queue", "model", "total"] and all(v > 0 for v in ms.values()), ms
    assert abs(ms["http"] + ms["queue"] + ms["model"] - ms["total"]) < 0.01, ms
    assert 20 <= ms["queue"] and ms["total"] < latency, (ms, latency)    # a lone request waits out the 20 ms window
    after, batch_after = sums()
    for stage, (total, count) in after.items():                           # the histograms saw the header's times
        assert count == before[stage][1] + 1
        assert abs(1000 * (total - before[stage][0]) - ms[stage]) < 0.01, (stage, ms)
    assert 1000 * (batch_after - batch_before) <= ms["model"] + 0.001      # the model call itself, inside its part
    _, refused, headers = server.exchange("POST", "/v1/predict", raw=b"{")
    assert list(_server_timing(headers)) == ["total"], refused
    assert list(_server_timing(server.exchange("GET", "/health")[2])) == ["total"]


MORE = {"ner": ["张三去北京", "李四好", "北京", "张三李四去北京好"], "lm": ["今天天气很好", "明天", "今天也好", "好"],
        "s2s": ["ab", "abc", "ba", "cab"]}


def test_batches_of_a_tagger_a_language_model_and_seq2seq_change_no_answer(server, runs):
    expected = {name: {r["input"]: r for r in predict_json(runs / name, texts)} for name, texts in MORE.items()}
    before = {name: _joined_batches(server, name) for name in MORE}
    names = list(MORE)
    results, errors = [], []

    def client(k):
        name, texts = names[k % 3], MORE[names[k % 3]]
        batch = [texts[k % 4], texts[(k + 1) % 4]][: 1 + k % 2]
        status, answer = server.post({"model": name, "texts": batch})
        (results if status == 200 else errors).append((name, batch, answer))

    concurrently(client, 24)
    assert not errors and len(results) == 24, errors
    for name, batch, answer in results:
        assert [p["input"] for p in answer["predictions"]] == batch
        for p in answer["predictions"]:
            assert same(p, expected[name][p["input"]]), (name, p, expected[name][p["input"]])
    assert sum(_joined_batches(server, name) - before[name] for name in MORE) > 0


BAD = [
    ("invalid JSON", None, b'{"texts": ["a"', 400, "invalid JSON"),
    ("not UTF-8", None, b'{"texts": ["\xff"], "model": "cls"}', 400, "invalid JSON"),
    ("deeply nested", None, b"[" * 8000, 400, "invalid JSON"),
    ("a list body", ["a"], None, 422, "must be a JSON object"),
    ("no model among several", {"texts": ["a"]}, None, 422, "missing field 'model'"),
    ("model not a string", {"texts": ["a"], "model": 3}, None, 422, "'model' must be a string"),
    ("unknown model", {"texts": ["a"], "model": "nope"}, None, 404, "unknown model 'nope'"),
    ("no texts", {"model": "cls"}, None, 422, "missing field 'texts'"),
    ("texts a string", {"model": "cls", "texts": "a"}, None, 422, "must be a list of strings"),
    ("a number among texts", {"model": "cls", "texts": ["a", 1]}, None, 422, "must be a list of strings"),
    ("empty texts", {"model": "cls", "texts": []}, None, 422, "is empty"),
    ("unknown field", {"model": "cls", "texts": ["a"], "text": "a"}, None, 422, "unknown field(s) ['text']"),
    ("options a list", {"model": "cls", "texts": ["a"], "options": [1]}, None, 422, "'options' must be an object"),
    ("unknown option", {"model": "cls", "texts": ["a"], "options": {"beam_size": 2}}, None, 422, "unknown option"),
    ("bad option value", {"model": "s2s", "texts": ["ab"], "options": {"beam_size": 0}}, None, 422,
     "must be a positive integer"),
    ("option of a wrong type", {"model": "s2s", "texts": ["ab"], "options": {"n_best": "2"}}, None, 422,
     "must be a positive integer"),
    ("too many texts", {"model": "cls", "texts": ["a"] * 9}, None, 413, "over the limit of 8"),
    ("a text too long", {"model": "cls", "texts": ["a" * 2001]}, None, 413, "over the limit of 2,000"),
    ("a body too large", {"model": "cls", "texts": ["a" * 1500] * 6}, None, 413, "--max-body"),
]


@pytest.mark.parametrize("why,body,raw,status,message", BAD, ids=[b[0] for b in BAD])
def test_bad_requests_are_refused_and_the_server_lives_on(server, why, body, raw, status, message):
    got, answer = server.post(body, raw)
    assert got == status and set(answer) == {"error"} and message in answer["error"], (got, answer)
    assert server.post({"model": "cls", "texts": ["好"]})[0] == 200


def test_unknown_paths_and_methods(server):
    status, answer = server.get("/v2/predict")
    assert status == 404 and "no such path" in answer["error"]
    status, answer = server.get("/v1/predict")
    assert status == 405 and "error" in answer
    status, answer = server.post({"texts": ["a"]}, path="/v1/models")
    assert status == 405


def test_metrics_count_requests_and_errors_by_status(server):
    server.post(raw=b"{")
    server.post({"model": "cls", "texts": ["好"]})
    assert server.metric('lstmkit_requests_total{path="/v1/predict",status="400"}') >= 1
    assert server.metric('lstmkit_requests_total{path="/v1/predict",status="200"}') >= 1
    assert server.metric('lstmkit_errors_total{status="400"}') >= 1
    assert server.metric('lstmkit_queue_depth{model="cls"}') == 0
    status, text = server.get("/metrics")
    assert status == 200
    assert "# TYPE lstmkit_request_seconds histogram" in text
    assert 'lstmkit_request_seconds_bucket{path="/v1/predict",le="+Inf"}' in text
