"""``lstmkit serve``: trained runs behind HTTP, requests dynamically batched (issue 27).

Needs the ``serve`` extra (``pip install 'lstmkit[serve]'``: Starlette and uvicorn). See docs/serving.md.

    >>> from lstmkit.serve import serve
    >>> serve({"runs": [["sentiment", "runs/demo-sentiment"]], "max_batch": 64, "max_wait_ms": 5})  # blocks

Layout: :mod:`.models` (a run as served: its inputs and options from a request), :mod:`.batcher` (the queue
and worker per model), :mod:`.metrics` (Prometheus text), :mod:`.app` (the routes and the server).
"""
from .app import Service, build_app, load_service, serve
from .models import Limits, RequestError, ServedModel, parse_run_argument

__all__ = [
           "Limits",
           "RequestError",
           "ServedModel",
           "Service",
           "build_app",
           "load_service",
           "parse_run_argument",
           "serve",
]
