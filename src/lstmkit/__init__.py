"""lstmkit: LSTM sequence models from raw text to predictions, every tensor shape made visible.

The front door (imported on first use, so ``import lstmkit`` stays light)::

    lstmkit.train(TASK, train=..., dev=..., out=..., **options) -> lstmkit.Model
    lstmkit.load(RUN) -> lstmkit.Model          # .predict(texts), .evaluate(data), .task, .config
    lstmkit.register_task(lstmkit.TaskSpec(...)) # a task of your own; lstmkit.Task is the contract
"""
from ._version import __version__

_API = {"train": ".train", "load": ".api", "Model": ".api", "Task": ".train.task", "TaskSpec": ".tasks.registry",
        "register_task": ".tasks.registry", "task_specs": ".tasks.registry"}

__all__ = ["__version__", *_API]


def __getattr__(name: str):
    import importlib

    if name == "train":           # the training package, callable: lstmkit.train(TASK, ...) (see train/__init__.py)
        return importlib.import_module(".train", __name__)
    if name in _API:
        return getattr(importlib.import_module(_API[name], __name__), name)
    raise AttributeError(f"module 'lstmkit' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_API))
