"""The HTTP API (Starlette) and the server around it (uvicorn).

    POST /v1/predict   {"texts": [...], "model": NAME, "options": {...}} -> {"model": NAME, "predictions": [...]}
    GET  /v1/models    each model's name, task, inputs, options, labels, sizes
    GET  /health       200 while the process answers
    GET  /ready        200 once every model is loaded and its batcher runs, else 503
    GET  /metrics      Prometheus text

Each prediction is the very record ``lstmkit predict RUN --json`` prints for that input. Every refusal is a
status and ``{"error": "..."}``: invalid JSON 400, an unknown model or path 404, a body or request over the
limits 413, a wrong type or a missing field 422, no answer within the timeout 504.

Every response says where its time went in a ``Server-Timing`` header (milliseconds): ``total`` from the first
byte the app read to the answer's headers; a prediction also ``queue`` (waiting for its batch's model call),
``model`` (that call) and ``http`` (the rest: reading, parsing and checking the request, writing the answer),
which add up to ``total``. The same parts are histograms in ``/metrics`` (``lstmkit_{http,queue,model}_seconds``).
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import time

import torch
import uvicorn
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route

from .batcher import Batcher
from .metrics import ServerMetrics
from .models import Limits, RequestError, ServedModel

PATHS = ("/v1/predict", "/v1/models", "/health", "/ready", "/metrics")
TIMING = "lstmkit.timing"              # the ASGI scope's key of a request's times: the batcher's, and the model's name
ENVIRONMENT = "LSTMKIT_SERVE"          # the settings a worker process (--workers N) builds its app from


def error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


class Service:
    """The served models, their batchers, the limits and the metrics: what the routes answer from."""

    def __init__(self, models: list[ServedModel], limits: Limits | None = None, max_batch: int = 64,
                 max_wait: float = 0.0, threads: int = 1):
        names = [m.name for m in models]
        if not models or len(set(names)) != len(names):
            raise ValueError(f"serve: one or more models with distinct names, got {names} (name them: NAME=RUN)")
        self.models = {m.name: m for m in models}
        self.limits, self.metrics, self.threads = limits or Limits(), ServerMetrics(), threads
        self.batchers = {m.name: Batcher(m, self.metrics, max_batch, max_wait) for m in models}

    def model(self, name) -> ServedModel:
        if name is None:
            if len(self.models) == 1:
                return next(iter(self.models.values()))
            raise RequestError(422, f"missing field 'model': this server holds {len(self.models)} models "
                                    f"({', '.join(self.models)})")
        if not isinstance(name, str):
            raise RequestError(422, f"'model' must be a string, got {type(name).__name__}")
        if name not in self.models:
            raise RequestError(404, f"unknown model {name!r} (served: {', '.join(self.models)})")
        return self.models[name]

    @contextlib.asynccontextmanager
    async def lifespan(self, app):
        for b in self.batchers.values():
            b.start()
        try:
            yield
        finally:
            for b in self.batchers.values():
                await b.stop()

    # -- routes ------------------------------------------------------------------------------------------------
    async def predict(self, request: Request) -> JSONResponse:
        body = await _body(request, self.limits.max_body)
        try:
            payload = json.loads(body)
        except (ValueError, RecursionError) as e:   # UnicodeDecodeError is a ValueError
            raise RequestError(400, f"invalid JSON: {str(e)[:200]}") from None
        if not isinstance(payload, dict):
            raise RequestError(422, f"the body must be a JSON object, got {type(payload).__name__}")
        model = self.model(payload.get("model"))
        inputs = model.inputs(payload, self.limits)
        unknown = sorted(set(payload) - {"model", "options", model.input_field})
        if unknown:
            raise RequestError(422, f"unknown field(s) {unknown} (a request holds {model.input_field!r}, 'model', "
                                    f"'options')")
        options = model.options(payload.get("options"))
        timing = request.scope.get(TIMING, {})
        timing["name"] = model.name
        try:
            records = await asyncio.wait_for(self.batchers[model.name].submit(inputs, options, timing),
                                             self.limits.timeout)
        except asyncio.TimeoutError:
            raise RequestError(504, f"no answer within {self.limits.timeout:g} s (--timeout); the server is busy "
                                    f"or the request too large") from None
        return JSONResponse({"model": model.name, "predictions": records})

    async def list_models(self, request: Request) -> JSONResponse:
        return JSONResponse({"models": [m.info() for m in self.models.values()]})

    async def health(self, request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    async def ready(self, request: Request) -> JSONResponse:
        waiting = [n for n, b in self.batchers.items() if not b.running]
        if waiting:
            return JSONResponse({"status": "not ready", "models": waiting}, status_code=503)
        return JSONResponse({"status": "ready", "models": list(self.models)})

    async def prometheus(self, request: Request) -> PlainTextResponse:
        return PlainTextResponse(self.metrics.text(), media_type="text/plain; version=0.0.4")


async def _body(request: Request, limit: int) -> bytes:
    """The request body, refused (413) as soon as it passes ``limit`` bytes, before reading the rest."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise RequestError(413, f"the body has {int(declared):,} bytes, over the limit of {limit:,} (--max-body)")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise RequestError(413, f"the body passed the limit of {limit:,} bytes (--max-body)")
        chunks.append(chunk)
    return b"".join(chunks)


class _Observed:
    """ASGI middleware: every HTTP response's status and latency into the metrics, by path (unknown paths as
    one label, so a scanner cannot grow the metrics), and its ``Server-Timing`` header."""

    def __init__(self, app, metrics: ServerMetrics):
        self.app, self.metrics = app, metrics

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        began, status, timing = time.perf_counter(), [500], {}
        scope = {**scope, TIMING: timing}

        async def sending(message):
            if message["type"] == "http.response.start":
                status[0] = message["status"]
                header = self._server_timing(timing, time.perf_counter() - began)
                message = {**message, "headers": [*message.get("headers", ()), (b"server-timing", header)]}
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            path = scope["path"] if scope["path"] in PATHS else "other"
            self.metrics.request(path, status[0], time.perf_counter() - began)

    def _server_timing(self, timing: dict, total: float) -> bytes:
        """``http;dur=MS, queue;dur=MS, model;dur=MS, total;dur=MS`` of a prediction, ``total;dur=MS`` of the rest
        (and of a request refused before its model call), its http part into the metrics."""
        parts = {}
        if "model" in timing:
            parts["http"] = max(0.0, total - timing["queue"] - timing["model"])
            parts.update(queue=timing["queue"], model=timing["model"])
            self.metrics.answered(timing["name"], parts["http"])
        parts["total"] = total
        return ", ".join(f"{k};dur={1000 * v:.3f}" for k, v in parts.items()).encode("ascii")


def build_app(service: Service):
    """The ASGI application serving ``service`` (Starlette's, its responses counted into the metrics)."""

    async def refused(request, exc: RequestError):
        return error(exc.status, exc.message)

    async def http_error(request, exc: HTTPException):
        if exc.status_code == 404:
            return error(404, f"no such path: {request.method} {request.url.path} (paths: {', '.join(PATHS)})")
        return error(exc.status_code, f"{exc.detail}: {request.method} {request.url.path}")

    async def crashed(request, exc: Exception):
        return error(500, f"internal error: {type(exc).__name__}: {exc}")

    routes = [Route("/v1/predict", service.predict, methods=["POST"]),
              Route("/v1/models", service.list_models, methods=["GET"]),
              Route("/health", service.health, methods=["GET"]),
              Route("/ready", service.ready, methods=["GET"]),
              Route("/metrics", service.prometheus, methods=["GET"])]
    app = Starlette(routes=routes, lifespan=service.lifespan,
                    exception_handlers={RequestError: refused, HTTPException: http_error, Exception: crashed})
    return _Observed(app, service.metrics)


# -- the server ------------------------------------------------------------------------------------------------
def model_threads(workers: int = 1) -> int:
    """Threads of a model call: $OMP_NUM_THREADS where set, else half the CPUs a worker process has (at least 1).

    The other half serves HTTP: the event loop reads, checks and answers requests while a model call runs, and a
    small LSTM batch gains little from more threads: on 2 busy cores a call on 2 threads took several times as
    long as on 1 (the threads wait for each other and for the event loop's core)."""
    given = os.environ.get("OMP_NUM_THREADS", "")
    if given.isdigit() and int(given) > 0:
        return int(given)
    return max(1, (os.cpu_count() or 1) // (2 * max(1, workers)))


def load_service(settings: dict) -> Service:
    """The service ``settings`` describe: ``runs`` ([name, folder] pairs), ``device``, ``backend`` ("auto",
    "torch", "onnx"), ``max_batch``, ``max_wait_ms``, ``limits`` (:class:`Limits` fields), ``threads`` (of a
    model call; default :func:`model_threads` of ``workers``). Sets this process's torch threads."""
    threads = settings.get("threads") or model_threads(settings.get("workers", 1))
    torch.set_num_threads(threads)
    models = [ServedModel(name, run, settings.get("device", "auto"), settings.get("backend", "auto"), threads)
              for name, run in settings["runs"]]
    return Service(models, Limits(**settings.get("limits", {})), settings.get("max_batch", 64),
                   settings.get("max_wait_ms", 0.0) / 1000, threads)


def app_from_environment():
    """uvicorn's factory in each worker process of ``--workers N``: the app of the settings in $LSTMKIT_SERVE."""
    return build_app(load_service(json.loads(os.environ[ENVIRONMENT])))


def serve(settings: dict, host: str = "127.0.0.1", port: int = 8080, workers: int = 1,
          log_level: str = "warning") -> int:
    """Load the runs, bind ``host:port`` (0: a free port), say where on stderr, and serve until SIGTERM/SIGINT:
    then stop accepting, finish the requests in flight, and return 0."""
    grace = settings.get("limits", {}).get("timeout", Limits.timeout) + 5
    settings = {**settings, "workers": workers}
    service = load_service(settings)            # every run loads (or fails with a clear error) before binding
    if workers > 1:
        os.environ[ENVIRONMENT] = json.dumps(settings)
        config = uvicorn.Config("lstmkit.serve.app:app_from_environment", factory=True, host=host, port=port,
                                workers=workers, log_level=log_level, access_log=False,
                                timeout_graceful_shutdown=grace)
    else:
        config = uvicorn.Config(build_app(service), host=host, port=port, log_level=log_level, access_log=False,
                                timeout_graceful_shutdown=grace, lifespan="on")
    sock = config.bind_socket()
    sock.listen(config.backlog)          # from now on a client's connection waits for the server, never refused
    where = sock.getsockname()
    models = ", ".join(f"{m.name} ({m.backend})" for m in service.models.values())
    print(f"lstmkit serve: {models} on http://{where[0]}:{where[1]} ({workers} worker{'s' if workers > 1 else ''}, "
          f"{service.threads} model thread{'s' if service.threads > 1 else ''} each)", file=sys.stderr, flush=True)
    if workers > 1:
        import inspect

        from uvicorn.supervisors import Multiprocess

        del service                          # each worker loads its own copy
        if "target" in inspect.signature(Multiprocess).parameters:      # uvicorn before its Process class
            Multiprocess(config, target=_Server(config).run, sockets=[sock]).run()
        else:
            Multiprocess(config, sockets=[sock]).run()
        return 0
    server = _Server(config)
    server.run(sockets=[sock])
    return 0 if server.started else 1


class _Server(uvicorn.Server):
    """uvicorn's server, except that SIGTERM ends in a graceful stop and exit status 0 (uvicorn raises the signal
    again after its graceful shutdown, which would end the process as killed by it)."""

    def handle_exit(self, sig, frame):
        super().handle_exit(sig, frame)
        captured = getattr(self, "_captured_signals", None)
        if sig == signal.SIGTERM and captured and captured[-1] == sig:
            captured.pop()
