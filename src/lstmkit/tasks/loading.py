"""Run folders back into tasks: load one, join several (ensembles, rescoring), evaluate and predict with them.

Only tasks of the registry (:mod:`lstmkit.tasks.registry`) are rebuilt; a run folder holds data only.
"""
from __future__ import annotations

from ..train import checkpoint
from .registry import task_spec


def _task_class(name: str, where: str) -> type:
    return task_spec(name, where).task_class


def load_run(run_dir, device: str = "cpu"):
    """Rebuild the task (tokenizer, vocabularies, model with its weights) saved in ``run_dir``, its model on
    ``device`` ("cpu", "cuda", "cuda:N" or "auto": CUDA when there is one)."""
    return checkpoint.restore_run(run_dir, _task_class, device)


def load_task(run, ensemble=(), device: str = "cpu", rescore=(), inverse=()):
    """The run's task, its model on ``device``; with ``ensemble`` (more run folders of the same kind), one that
    predicts with all of them (the task's ``ensemble``: a seq2seq ensemble decodes with the next-token
    probabilities averaged, a classifier ensemble averages the class probabilities); with ``rescore`` (more
    seq2seq runs, e.g. right-to-left ones) and ``inverse`` (runs trained target -> source), one whose candidates
    every model re-ranks (``Seq2SeqTask.rescored``)."""
    task = load_run(run, device)
    kind = task.name
    joins = (("--ensemble", ensemble, lambda t, o: t.ensemble(o)),
             ("--rescore", rescore, lambda t, o: t.rescored(o)),
             ("--rescore-inverse", inverse, lambda t, o: t.rescored(inverse=o)))
    for option, more, join in joins:
        if not more:
            continue
        if option == "--ensemble" and not type(task).can_ensemble():
            raise ValueError(f"--ensemble joins {' or '.join(ensemble_kinds())} runs; {run} is a {kind} run")
        if option != "--ensemble" and not hasattr(task, "rescored"):
            raise ValueError(f"{option} joins runs that rescore a beam; {run} is a {kind} run")
        others = [load_run(r, device) for r in more]
        for r, t in zip(more, others):
            if t.name != kind:
                raise ValueError(f"{option} joins runs of one kind: {run} is a {kind} run, {r} a {t.name} run")
        try:
            task = join(task, others)         # the ensemble first, so its beam is what gets rescored
        except ValueError as e:
            raise ValueError(f"{option} {' '.join(map(str, more))} with {run}: {e}") from None
    return task


def ensemble_kinds() -> list[str]:
    """The registered tasks whose runs join into an ensemble."""
    from .registry import task_specs

    return [name for name, spec in task_specs().items() if spec.task_class.can_ensemble()]


def evaluate_run(run, data, ensemble=(), device: str = "cpu", rescore=(), inverse=(), **options) -> dict:
    """The run's metrics on ``data``, computed on ``device``; ``options`` go to the task's ``evaluate`` (seq2seq:
    ``beam_size``); ``ensemble``: more runs of its kind predicting with it, ``rescore`` and ``inverse``: more
    re-ranking its candidates (see :func:`load_task`)."""
    task = load_task(run, ensemble, device, rescore, inverse)
    metrics = task.evaluate(task.encode(data), **options)
    if ensemble:
        metrics["members"] = 1 + len(ensemble)
    if rescore:
        metrics["rescorers"] = len(rescore)
    if inverse:
        metrics["inverse_rescorers"] = len(inverse)
    return metrics


def predict_run(run, texts: list[str], device: str = "cpu", ensemble=()) -> list[dict]:
    """One record per text, the task's natural fields (see each task's ``predict_records``), computed on
    ``device``; ``ensemble``: more runs predicting with it (see :func:`load_task`)."""
    return load_task(run, ensemble, device).predict_records(list(texts))
