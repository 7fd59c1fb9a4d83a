"""The task contract: what every task provides, and all that the trainer, the run folder and the generic commands
know of a task.

A task owns a model, its configuration (a dataclass of plain values, stored in ``config.json``), its
vocabularies, and the way its data becomes batches, a loss, predictions and metrics. The trainer knows only
``loss = task.step(batch)``; a run folder is rebuilt with ``from_saved``; the generic ``evaluate`` and ``predict``
call ``encode`` + ``evaluate`` and ``predict_records``. Generic code asks the object; it never branches on a name.

A new task subclasses :class:`Task`, fills in the abstract methods, and is registered once
(:func:`lstmkit.tasks.registry.register_task`); nothing else in lstmkit lists task names.

Example (a minimal task, the shape of the one in ``tests/tasks/test_registry.py``)::

    class CountTask(Task):
        name, primary_metric, config_class = "count", "mae", CountConfig
        greater_is_better = False
        def __init__(self, config): self.config, self.model = config, torch.nn.Linear(1, 1)
        @classmethod
        def from_data(cls, config, train): return cls(config)
        @classmethod
        def from_saved(cls, config, vocabs): return cls(config)
        def encode(self, data): ...
        def batches(self, enc, batch_size, shuffle=False, seed=0): ...
        def step(self, batch): ...
        def evaluate(self, enc): ...
        def predict_records(self, inputs): ...
"""
from __future__ import annotations

import abc
from dataclasses import asdict, is_dataclass
from typing import Any, ClassVar, Iterable

import torch


class Task(abc.ABC):
    """One kind of model and its data: the contract every lstmkit task fulfils.

    Class attributes:
        name: the task's registry name (``"classify"``); also the ``task`` key of a run's ``config.json``.
        config_class: the dataclass of its options, with ``from_dict(dict)`` (unknown keys ignored) and ``check()``.
        primary_metric: the dev metric that early stopping and model selection follow (may be a property).
        greater_is_better: False for errors, perplexity, ...
        unit: what the trainer's throughput counts (``"sentences"``; a language model counts ``"tokens"``).
        onnx_backend: True where ``task.runner = OnnxRunner(path)`` makes prediction run the exported graph.
        carries_state: True where each training batch starts from the state the previous one left (a language
            model's): such batches are not cut into micro-batches, and a checkpoint keeps that state
            (:meth:`carried_state`, :meth:`restore_carried`).

    Instance attributes: ``config`` (a ``config_class``), ``model`` (a ``torch.nn.Module``).
    """

    name: ClassVar[str]
    config_class: ClassVar[type]
    primary_metric: str
    greater_is_better: ClassVar[bool] = True
    unit: ClassVar[str] = "sentences"
    onnx_backend: ClassVar[bool] = False     # predicts through an exported graph when ``runner`` is set
    carries_state: ClassVar[bool] = False    # the model's state runs on from one training batch to the next

    config: Any
    model: torch.nn.Module

    # -- building ------------------------------------------------------------------------------------------------
    @classmethod
    @abc.abstractmethod
    def from_data(cls, config, train) -> "Task":
        """A new task whose vocabularies, labels and statistics come from the training data ``train``."""

    @classmethod
    @abc.abstractmethod
    def from_saved(cls, config, vocabs: dict) -> "Task":
        """The task as a run folder rebuilds it: ``config`` (a ``config_class``), ``vocabs`` (role -> Vocab)."""

    # -- data ----------------------------------------------------------------------------------------------------
    @abc.abstractmethod
    def encode(self, data):
        """A dataset (the task's reader's) as ids or arrays, ready for :meth:`batches` and :meth:`evaluate`."""

    def encode_training(self, data):
        """:meth:`encode` for training data, where a task needs more there (a classifier's teacher)."""
        return self.encode(data)

    @abc.abstractmethod
    def batches(self, enc, batch_size: int, shuffle: bool = False, seed: int = 0) -> Iterable[dict]:
        """Batches of ``enc`` (an iterable with ``len()``), on the model's device; order fixed by ``seed``."""

    def count(self, batch: dict) -> int:
        """How many ``unit`` a batch holds (its examples, ``batch["index"]``, unless the task says otherwise)."""
        return len(batch["index"])

    # -- training and inference ----------------------------------------------------------------------------------
    @abc.abstractmethod
    def step(self, batch: dict) -> torch.Tensor:
        """The training loss of one batch: a scalar tensor with its graph."""

    @abc.abstractmethod
    def evaluate(self, enc, **options) -> dict:
        """The metrics of encoded labelled data: the stable keys of ``lstmkit evaluate --json``."""

    @abc.abstractmethod
    def predict_records(self, inputs) -> list[dict]:
        """One JSON-ready record per input, the objects ``lstmkit predict --json`` prints."""

    def carried_state(self) -> list[torch.Tensor] | None:
        """A ``carries_state`` task's state for the next training batch: tensors whose first dimension is the
        batch's rows (under torchrun, this rank's rows), or None before the first batch."""
        return None

    def restore_carried(self, tensors: list[torch.Tensor]) -> None:
        """Put back what :meth:`carried_state` gave (this rank's rows), for a training resumed mid-epoch."""
        raise NotImplementedError(f"{self.name} carries no state between training batches")

    # -- what a run folder keeps ---------------------------------------------------------------------------------
    def config_dict(self) -> dict:
        """The configuration as JSON-ready data (``config.json``'s ``model``)."""
        return asdict(self.config) if is_dataclass(self.config) else dict(self.config)

    def vocabs(self) -> dict:
        """The vocabularies a run folder keeps, by role (``tokens`` -> ``vocab.json``); none by default."""
        return {}

    def describe(self) -> str:
        """One line on what the task learns from: its vocabularies' sizes and its labels."""
        parts = [f"vocabulary {len(v):,}" if role == "tokens" else f"{role} vocabulary {len(v):,}"
                 for role, v in self.vocabs().items()]
        if getattr(self, "labels", None):
            parts.append(f"labels {self.labels}")
        return ", ".join(parts) or self.name

    # -- joining runs --------------------------------------------------------------------------------------------
    def ensemble(self, others: list) -> Any:
        """This task and ``others`` (of the same kind) predicting together; not every task can."""
        raise ValueError(f"--ensemble: a {self.name} run cannot predict together with others")

    @classmethod
    def can_ensemble(cls) -> bool:
        """Whether runs of this task join into an ensemble (:meth:`ensemble` is overridden)."""
        return cls.ensemble is not Task.ensemble
