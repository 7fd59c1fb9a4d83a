"""A run folder as the server holds it: its name, its task, how a request's JSON becomes the task's inputs.

A request names its inputs by the kind of data the task reads (its registry entry's ``data_kind``): ``texts``,
a list of strings, for every task that reads text; ``series``, a list of CSV texts (a header row naming the
run's columns, then rows; the last ``window`` rows are the input), for a task that reads series (a forecaster).
Options are the keyword parameters of the task's ``predict_records`` (seq2seq: ``beam_size``, ``n_best``), so
the server never lists a task's name or options itself.
"""
from __future__ import annotations

import inspect
import re
from dataclasses import dataclass
from pathlib import Path

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class RequestError(Exception):
    """A request the server refuses: ``status`` (400, 404, 413, 422, 504) and a message for the client."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


@dataclass(frozen=True)
class Limits:
    """What one request may hold: ``max_texts`` inputs, each at most ``max_chars`` characters, in a body of at
    most ``max_body`` bytes; answered within ``timeout`` seconds."""

    max_texts: int = 256
    max_chars: int = 100_000
    max_body: int = 1 << 20
    timeout: float = 30.0


def parse_run_argument(value: str) -> tuple[str, str]:
    """``RUN`` -> (its folder's name, RUN); ``NAME=RUN`` -> (NAME, RUN) (an existing folder is always a RUN)."""
    name, sep, run = value.partition("=")
    if not sep or Path(value).is_dir():
        name, run = Path(value).resolve().name, value
    if not NAME.match(name):
        raise ValueError(f"serve: a model's name is 1-64 letters, digits, '.', '_' or '-' (first a letter or "
                         f"digit), got {name!r} from {value!r}; name it: NAME=RUN")
    return name, run


class ServedModel:
    """One loaded run: ``name``, ``run`` (its folder), ``task`` (the rebuilt task), ``kind`` (its data kind),
    ``backend``: "torch", or "onnx" (the graph ``lstmkit export RUN`` wrote to RUN/model.onnx, on onnxruntime
    with ``threads`` threads, for the tasks that can predict through it), or "auto": onnx where the task can and
    RUN/model.onnx exists (and onnxruntime is installed), else torch; ``backend`` then says which."""

    def __init__(self, name: str, run: str, device: str = "auto", backend: str = "torch", threads: int | None = None):
        from ..tasks import load_run, task_spec, task_specs
        from ..train.checkpoint import read_config

        config = read_config(run)                  # a clear error for a folder that is not a run
        spec = task_spec(config["task"], f"{run}/config.json")
        if backend not in ("auto", "torch", "onnx"):
            raise ValueError(f"serve: --backend is auto, torch or onnx, got {backend!r}")
        onnx = Path(run) / "model.onnx"
        if backend == "auto":
            backend = "onnx" if spec.task_class.onnx_backend and onnx.is_file() and _has("onnxruntime") else "torch"
        self.name, self.run, self.kind, self.backend = name, run, spec.data_kind, backend
        if backend == "onnx" and not spec.task_class.onnx_backend:
            able = " and ".join(n for n, s in task_specs().items() if s.task_class.onnx_backend)
            raise ValueError(f"serve --backend onnx runs {able} runs; {run} is a {config['task']!r} run")
        if backend == "onnx" and not onnx.is_file():
            raise FileNotFoundError(f"{onnx} not found: run 'lstmkit export {run}' first")
        self.task = load_run(run, device)
        if backend == "onnx":
            from ..export.onnx import OnnxRunner

            self.task.runner = OnnxRunner(onnx, threads=threads)
        params = inspect.signature(self.task.predict_records).parameters
        self.defaults = {k: p.default for k, p in list(params.items())[1:]
                         if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.default is not p.empty}

    @property
    def input_field(self) -> str:
        return "series" if self.kind == "series" else "texts"

    def info(self) -> dict:
        """What ``GET /v1/models`` says of the model."""
        task = self.task
        return {"name": self.name, "task": task.name, "run": str(self.run), "backend": self.backend,
                "inputs": self.input_field, "options": dict(self.defaults),
                "labels": list(getattr(task, "labels", []) or []),
                "parameters": sum(p.numel() for p in task.model.parameters()),
                "vocabularies": {role: len(v) for role, v in task.vocabs().items()}, "config": task.config_dict()}

    def inputs(self, payload: dict, limits: Limits) -> list:
        """The request's inputs as the task reads them (texts, or :class:`SeriesDataset` for series)."""
        field = self.input_field
        other = "texts" if field == "series" else "series"
        if field not in payload:
            hint = f" (this {self.task.name!r} model reads {field!r}, not {other!r})" if other in payload else ""
            raise RequestError(422, f"missing field {field!r}: a list of strings{hint}")
        values = payload[field]
        if isinstance(values, str) and field == "series":
            values = [values]
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise RequestError(422, f"{field!r} must be a list of strings, got {_type(values)}")
        if not values:
            raise RequestError(422, f"{field!r} is empty: nothing to predict")
        if len(values) > limits.max_texts:
            raise RequestError(413, f"{len(values):,} {field}, over the limit of {limits.max_texts:,} per request "
                                    f"(--max-texts); split the request")
        for k, v in enumerate(values):
            if len(v) > limits.max_chars:
                raise RequestError(413, f"{field}[{k}] has {len(v):,} characters, over the limit of "
                                        f"{limits.max_chars:,} (--max-chars)")
        return self._series(values) if field == "series" else values

    def _series(self, texts: list[str]) -> list:
        from ..data.series import read_series

        c = self.task.config
        try:
            return [read_series(f"series[{k}]", list(c.columns), min_rows=c.window, text=t,
                                why=f"the run reads the last {c.window} rows") for k, t in enumerate(texts)]
        except ValueError as e:
            raise RequestError(422, str(e)) from None

    def options(self, given) -> tuple:
        """The request's ``options`` checked against ``predict_records``'s keyword parameters: a sorted tuple of
        (name, value) pairs (hashable: requests with equal options share a batch)."""
        if given is None:
            return ()
        if not isinstance(given, dict):
            raise RequestError(422, f"'options' must be an object, got {_type(given)}")
        unknown = sorted(set(given) - set(self.defaults))
        if unknown:
            known = ", ".join(self.defaults) or "none"
            raise RequestError(422, f"unknown option(s) {unknown} for a {self.task.name!r} model (known: {known})")
        checked = {}
        for key, value in given.items():
            default = self.defaults[key]
            want = int if default is None else type(default)
            if want is int and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise RequestError(422, f"option {key!r} must be a positive integer, got {value!r}")
            if want is float and isinstance(value, int) and not isinstance(value, bool):
                value = float(value)                   # JSON's 1 for a float option
            if want is not int and not isinstance(value, want):
                raise RequestError(422, f"option {key!r} must be a {want.__name__}, got {_type(value)}")
            checked[key] = value
        return tuple(sorted(checked.items()))

    def predict(self, inputs: list, options: tuple) -> list[dict]:
        """``predict_records`` on one batch of inputs: one record per input (called in an executor thread)."""
        return self.task.predict_records(inputs, **dict(options))


def _has(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def _type(value) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), f"a number ({value!r})" if isinstance(value, (int, float)) else type(value).__name__)
