"""The server's counters, gauges and histograms, written in the Prometheus text format (version 0.0.4) by hand.

Every metric is named ``lstmkit_...``; labels are few and bounded (the served models' names, the API's paths,
HTTP statuses), so a scraper never sees a new series per client input.
"""
from __future__ import annotations

import bisect
import threading

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
STAGE_BUCKETS = (0.0001, 0.00025, 0.0005) + LATENCY_BUCKETS      # a request's parts: a queue wait can be 0.1 ms
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)
STAGES = ("http", "queue", "model")


def _escape(value: str) -> str:
    return str(value).replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n")


def _labels(names: tuple, values: tuple, extra: str = "") -> str:
    parts = [f'{n}="{_escape(v)}"' for n, v in zip(names, values)] + ([extra] if extra else [])
    return "{" + ",".join(parts) + "}" if parts else ""


def _number(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else repr(float(v))


class _Metric:
    kind = ""

    def __init__(self, name: str, help: str, labels: tuple = ()):
        self.name, self.help, self.label_names = name, help, tuple(labels)
        self.values: dict = {}

    def header(self) -> list[str]:
        return [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} {self.kind}"]


class Counter(_Metric):
    """A number that only grows: ``inc(labels..., by=1)``."""

    kind = "counter"

    def inc(self, *labels, by: float = 1) -> None:
        self.values[labels] = self.values.get(labels, 0) + by

    def lines(self) -> list[str]:
        return [f"{self.name}{_labels(self.label_names, k)} {_number(v)}" for k, v in sorted(self.values.items())]


class Gauge(Counter):
    """A number that goes up and down: ``inc`` with a negative ``by``, or ``set``."""

    kind = "gauge"

    def set(self, *labels, value: float) -> None:
        self.values[labels] = value


class Histogram(_Metric):
    """Observations counted into cumulative buckets (``le``), with their sum and count."""

    kind = "histogram"

    def __init__(self, name: str, help: str, labels: tuple = (), buckets: tuple = LATENCY_BUCKETS):
        super().__init__(name, help, labels)
        self.buckets = tuple(buckets)

    def zero(self, *labels) -> None:
        """Show the series of ``labels`` (no observation yet) from the first scrape on."""
        self.values.setdefault(labels, ([0] * (len(self.buckets) + 1), 0.0))

    def observe(self, *labels, value: float) -> None:
        counts, total = self.values.get(labels, ([0] * (len(self.buckets) + 1), 0.0))
        counts[bisect.bisect_left(self.buckets, value)] += 1
        self.values[labels] = (counts, total + value)

    def lines(self) -> list[str]:
        out = []
        for key, (counts, total) in sorted(self.values.items()):
            running = 0
            for bound, n in zip(self.buckets + (float("inf"),), counts):
                running += n
                le = 'le="+Inf"' if bound == float("inf") else f'le="{_number(bound)}"'
                out.append(f"{self.name}_bucket{_labels(self.label_names, key, le)} {running}")
            out.append(f"{self.name}_sum{_labels(self.label_names, key)} {_number(total)}")
            out.append(f"{self.name}_count{_labels(self.label_names, key)} {running}")
        return out


class ServerMetrics:
    """What ``GET /metrics`` shows: requests and errors by status, request latency, batch sizes and latency,
    the texts waiting in each model's queue, and where a prediction's time went: ``lstmkit_queue_seconds``
    (waiting for its batch's model call), ``lstmkit_model_seconds`` (that call), ``lstmkit_http_seconds`` (the
    rest of the request in the server: reading and parsing it, checking it, writing the answer)."""

    def __init__(self):
        self._lock = threading.Lock()     # the batchers' executor threads never write; the lock is for scrapes
        self.requests = Counter("lstmkit_requests_total", "HTTP requests by path and status.", ("path", "status"))
        self.errors = Counter("lstmkit_errors_total", "HTTP responses with a 4xx or 5xx status.", ("status",))
        self.latency = Histogram("lstmkit_request_seconds", "Request latency, from the first byte read to the "
                                 "response, by path.", ("path",))
        self.batch_size = Histogram("lstmkit_batch_size", "Inputs per dynamic batch (run in model calls of up to "
                                    "8 inputs of like lengths).", ("model",), BATCH_BUCKETS)
        self.batch_requests = Histogram("lstmkit_batch_requests", "Requests joined in one dynamic batch.",
                                        ("model",), BATCH_BUCKETS)
        self.batch_latency = Histogram("lstmkit_batch_seconds", "Time of one dynamic batch (its model calls).",
                                       ("model",))
        self.stages = {stage: Histogram(f"lstmkit_{stage}_seconds", help, ("model",), STAGE_BUCKETS)
                       for stage, help in zip(STAGES, (
                           "Of a prediction's time in the server, what is neither queue nor model: reading, "
                           "parsing and checking the request, writing the answer.",
                           "Of a prediction's time, the wait for its batch's model call to begin.",
                           "Of a prediction's time, the model call(s) of its batch."))}
        self.queue_depth = Gauge("lstmkit_queue_depth", "Inputs waiting for a model call.", ("model",))
        self.inputs = Counter("lstmkit_inputs_total", "Inputs predicted, by model.", ("model",))

    def add_model(self, model: str) -> None:
        """Every per-model series at zero, so that a scrape shows each served model before its first call."""
        with self._lock:
            for histogram in (self.batch_size, self.batch_requests, self.batch_latency, *self.stages.values()):
                histogram.zero(model)
            self.queue_depth.inc(model, by=0)
            self.inputs.inc(model, by=0)

    def request(self, path: str, status: int, seconds: float) -> None:
        with self._lock:
            self.requests.inc(path, str(status))
            if status >= 400:
                self.errors.inc(str(status))
            self.latency.observe(path, value=seconds)

    def batch(self, model: str, inputs: int, requests: int, seconds: float) -> None:
        with self._lock:
            self.batch_size.observe(model, value=inputs)
            self.batch_requests.observe(model, value=requests)
            self.batch_latency.observe(model, value=seconds)
            self.inputs.inc(model, by=inputs)

    def waited(self, model: str, queue: float, seconds: float) -> None:
        """One prediction's wait for its batch's model call, and that call's time."""
        with self._lock:
            self.stages["queue"].observe(model, value=queue)
            self.stages["model"].observe(model, value=seconds)

    def answered(self, model: str, http: float) -> None:
        """One prediction's time in the server outside its queue and model call."""
        with self._lock:
            self.stages["http"].observe(model, value=http)

    def queued(self, model: str, change: int) -> None:
        with self._lock:
            self.queue_depth.inc(model, by=change)

    def text(self) -> str:
        """Every metric in the Prometheus text format."""
        metrics = (self.requests, self.errors, self.latency, *self.stages.values(), self.batch_size,
                   self.batch_requests, self.batch_latency, self.queue_depth, self.inputs)
        with self._lock:
            lines = [line for m in metrics for line in m.header() + m.lines()]
        return "\n".join(lines) + "\n"
