"""The tasks (classify, tag, seq2seq, lm, regress), their registry, and run folders loaded back into them.

Importing this package registers the ``run`` tokenizer (a segmentation run, :mod:`.segmenter`); the task modules
themselves are imported when first used (:class:`~.registry.TaskSpec`).
"""
from . import segmenter  # noqa: F401  (registers the "run" tokenizer)
from .loading import ensemble_kinds, evaluate_run, load_run, load_task, predict_run
from .registry import TaskSpec, register_task, task_spec, task_specs, tasks_for_data, unregister_task

__all__ = ["TaskSpec", "register_task", "unregister_task", "task_spec", "task_specs", "tasks_for_data",
           "load_run", "load_task", "evaluate_run", "predict_run", "ensemble_kinds"]
