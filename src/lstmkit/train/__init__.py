"""Training: the task contract (``task.py``), the trainer, run folders (``checkpoint.py``), metrics.

``lstmkit.train`` is also the front door's ``train()``: the package is callable, so ``lstmkit.train("classify",
train=..., dev=..., out=...)`` trains a run as ``lstmkit train classify`` does (see :func:`lstmkit.api.train`).
The call is the one place this layer reaches the API above it; nothing here imports it otherwise.
"""
import sys
import types


class _CallablePackage(types.ModuleType):
    def __call__(self, task, train=None, dev=None, out=None, **options):
        from ..api import train as front_door

        return front_door(task, train, dev, out, **options)


sys.modules[__name__].__class__ = _CallablePackage
