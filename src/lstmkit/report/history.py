"""A run folder's training history as data: its config and one record per epoch from ``metrics.jsonl``.

Each record is what the trainer wrote for an epoch: ``epoch``, ``train_loss``, ``lr``, ``seconds``,
``<unit>_per_s``, ``unit``, ``best`` (the dev metric improved) and ``dev`` (the task's dev metrics: a classifier's
``confusion``, a tagger's ``per_type``, a language model's ``perplexity``, a forecaster's ``mae``/``rmse``...).
"""
from __future__ import annotations

import inspect
import json
import math
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

from ..tasks import task_spec
from ..train.checkpoint import METRICS, read_config


@dataclass
class RunHistory:
    """One run: ``run`` (its folder), ``task`` (the registry name), ``config`` (config.json), ``records`` (one dict
    per epoch, in epoch order), ``metric`` (the dev metric that chose the best epoch) and ``greater`` (whether
    higher is better for it)."""

    run: str
    task: str
    config: dict
    records: list
    metric: str
    greater: bool

    @property
    def best(self) -> dict:
        """The epoch whose weights the run holds: the last one that improved the dev metric (the last epoch when
        none says so)."""
        improved = [r for r in self.records if r.get("best")]
        return improved[-1] if improved else self.records[-1]

    @property
    def labels(self) -> list:
        return list(self.config["model"].get("labels") or [])

    def series(self, key: str, dev: bool = True) -> list:
        """``(epoch, value)`` for each epoch whose record holds a finite number under ``key`` (in ``dev``)."""
        out = []
        for r in self.records:
            v = (r.get("dev") or {}).get(key) if dev else r.get(key)
            if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v):
                out.append((r["epoch"], float(v)))
        return out


def _primary_metric(spec, model: dict) -> str | None:
    """The task's primary metric for a run of ``model`` (config.json's): a class attribute, or a property of the
    task's config (a tagger's depends on its kind), read without loading the weights."""
    cls = spec.task_class
    attr = inspect.getattr_static(cls, "primary_metric", None)
    if not isinstance(attr, property):
        return cls.primary_metric
    try:
        return attr.fget(SimpleNamespace(config=cls.config_class.from_dict(model)))
    except (AttributeError, TypeError, ValueError, KeyError):
        return None                      # a property that needs more than the config: the loaded task says


def read_history(run) -> RunHistory:
    """The run folder ``run``'s history; a folder that is not a run, or has no usable ``metrics.jsonl``, is an
    error naming it."""
    config = read_config(run)                 # FileNotFoundError / ValueError naming the folder
    spec = task_spec(config["task"], f"{run}/config.json")
    path = Path(run) / METRICS
    if not path.is_file():
        raise FileNotFoundError(f"{run} has no {METRICS}: nothing was trained into it yet")
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError:
        raise ValueError(f"{path}: not UTF-8") from None
    records = []
    for k, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}:{k}: not valid JSON ({exc.msg})") from None
        if not (isinstance(record, dict) and isinstance(record.get("epoch"), int)
                and isinstance(record.get("dev"), dict)):
            raise ValueError(f"{path}:{k}: expected an epoch's record (an object with 'epoch' and 'dev')")
        records.append(record)
    if not records:
        raise ValueError(f"{path}: no epochs recorded yet")
    records.sort(key=lambda r: r["epoch"])
    metric = _primary_metric(spec, config["model"])
    if metric is None:
        from ..tasks import load_run

        metric = load_run(run).primary_metric
    return RunHistory(str(run), config["task"], config, records, metric, spec.task_class.greater_is_better)


def _number(v, width: int, fmt: str = ".4f") -> str:
    if not isinstance(v, (int, float)) or isinstance(v, bool):
        return f"{'-':>{width}}"
    return f"{v:>{width}{fmt}}"


def summary_text(histories: list) -> str:
    """Each run in a few lines: its best epoch, and per epoch the train loss, dev loss, the primary metric, the
    learning rate and the time it took."""
    out = []
    for h in histories:
        b = h.best
        direction = "higher" if h.greater else "lower"
        out.append(f"{h.run}: {h.task} run, {len(h.records)} epoch(s); best epoch {b['epoch']}: dev {h.metric} "
                   f"{_number(b['dev'].get(h.metric), 0).strip()} ({direction} is better)")
        head = f"  {'epoch':>5} {'train loss':>11} {'dev loss':>11} {'dev ' + h.metric:>16} {'lr':>11} {'seconds':>8}"
        out.append(head)
        for r in h.records:
            mark = "  best" if r is b else ""
            out.append(f"  {r['epoch']:>5} {_number(r.get('train_loss'), 11)} {_number(r['dev'].get('loss'), 11)} "
                       f"{_number(r['dev'].get(h.metric), 16)} {_number(r.get('lr'), 11, '.4g')} "
                       f"{_number(r.get('seconds'), 8, '.2f')}{mark}")
        out.append("")
    return "\n".join(out).rstrip() + "\n"
