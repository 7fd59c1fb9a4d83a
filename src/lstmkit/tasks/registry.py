"""The one registry of tasks: name -> :class:`TaskSpec`. Nothing else in lstmkit lists task names.

A spec names its parts by import path (``"module:attribute"``) or holds them directly, so that listing the
tasks imports none of them; a part is imported on first use. Only registered tasks are ever rebuilt from a run
folder (``config.json`` names the task; the registry says which class that is).

Adding a task: one module with a :class:`~lstmkit.train.task.Task` subclass (and, for the command line, a
:class:`~lstmkit.cli.base.TaskCommands`), then one entry::

    register_task(TaskSpec("count", task="mypkg.count:CountTask", data_kind="series",
                           commands="mypkg.count:COMMANDS", summary="count things"))

Packages may also declare entries in the ``lstmkit.tasks`` entry-point group (each a ``TaskSpec``).
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any

from ..train.task import Task

DATA_KINDS = ("classification", "tagging", "seq2seq", "text", "series")   # what a reader and a corpus yield


@dataclass(frozen=True)
class TaskSpec:
    """One task: its name, its class, the kind of data it trains on, and its command-line half.

    ``task``, ``commands`` and ``onnx`` are classes/objects/functions or ``"module:attribute"`` import paths.
    ``data_kind``: the kind of the built-in corpora it trains on (one of :data:`DATA_KINDS` or a new one).
    ``onnx``: ``build(task) -> onnx.ModelProto``, the task's model as an ONNX graph (None: not exportable).
    ``explain``: ``trace(task, run, inputs)``, the walkthrough of a trained run (None: ``explain`` has none).
    """

    name: str
    task: Any
    data_kind: str
    commands: Any = None
    summary: str = ""
    onnx: Any = None
    explain: Any = None
    _resolved: dict = field(default_factory=dict, repr=False, compare=False)

    def _get(self, part: str):
        if part not in self._resolved:
            ref = getattr(self, part)
            if isinstance(ref, str):
                module, _, attr = ref.partition(":")
                ref = getattr(importlib.import_module(module), attr)
            if part == "commands" and isinstance(ref, type):
                ref = ref()
            self._resolved[part] = ref
        return self._resolved[part]

    @property
    def task_class(self) -> type:
        cls = self._get("task")
        if not (isinstance(cls, type) and issubclass(cls, Task)):
            raise TypeError(f"task {self.name!r}: {cls!r} is not a lstmkit.train.task.Task subclass")
        return cls

    @property
    def config_class(self) -> type:
        return self.task_class.config_class

    @property
    def onnx_builder(self):
        """The function that builds the task's ONNX graph, or None."""
        return None if self.onnx is None else self._get("onnx")

    @property
    def explain_tracer(self):
        """The function that traces inputs through a trained run of the task, or None."""
        return None if self.explain is None else self._get("explain")

    @property
    def cli(self):
        """The task's :class:`~lstmkit.cli.base.TaskCommands` (None: no command line)."""
        return None if self.commands is None else self._get("commands")


_REGISTRY: dict[str, TaskSpec] = {}
_ENTRY_POINTS_READ = False


def register_task(spec: TaskSpec, replace: bool = False) -> TaskSpec:
    """Add ``spec`` to the registry; a second task of the same name is an error unless ``replace``."""
    if not isinstance(spec, TaskSpec):
        raise TypeError(f"register_task: expected a TaskSpec, got {type(spec).__name__}")
    if not spec.name or not spec.name.replace("-", "").replace("_", "").isalnum():
        raise ValueError(f"register_task: a task name is letters, digits, '-' and '_', got {spec.name!r}")
    if spec.name in _REGISTRY and not replace:
        raise ValueError(f"register_task: a task named {spec.name!r} is registered already")
    _REGISTRY[spec.name] = spec
    return spec


def unregister_task(name: str) -> None:
    """Remove a task (tests register toy tasks and remove them again)."""
    _REGISTRY.pop(name, None)


def _entry_points() -> None:
    global _ENTRY_POINTS_READ
    if _ENTRY_POINTS_READ:
        return
    _ENTRY_POINTS_READ = True
    from importlib.metadata import entry_points

    for ep in entry_points(group="lstmkit.tasks"):
        spec = ep.load()
        if isinstance(spec, TaskSpec) and spec.name not in _REGISTRY:
            register_task(spec)


def task_specs() -> dict[str, TaskSpec]:
    """Every registered task, by name, in registration order."""
    _entry_points()
    return dict(_REGISTRY)


def task_spec(name: str, where: str = "") -> TaskSpec:
    """The spec of task ``name``; an unknown name is a ValueError listing the known ones (``where``: who asks)."""
    specs = task_specs()
    if name not in specs:
        prefix = f"{where}: " if where else ""
        raise ValueError(f"{prefix}unknown task {name!r} (known: {', '.join(specs)})")
    return specs[name]


def tasks_for_data(kind: str) -> list[str]:
    """The tasks that train on data of ``kind`` (a corpus's kind)."""
    return [name for name, spec in task_specs().items() if spec.data_kind == kind]


for _spec in (
    TaskSpec("classify", "lstmkit.tasks.classify:ClassifyTask", "classification", "lstmkit.cli.classify:COMMANDS",
             "text classification: embedding -> LSTM -> pooling -> softmax",
             onnx="lstmkit.export.onnx:build_classifier_graph", explain="lstmkit.explain.trace:trace_classifier"),
    TaskSpec("tag", "lstmkit.tasks.tag:TagTask", "tagging", "lstmkit.cli.tag:COMMANDS",
             "sequence labelling: NER, word segmentation, POS (BiLSTM-CRF)",
             onnx="lstmkit.export.onnx:build_tagger_graph", explain="lstmkit.explain.models:trace_tagger"),
    TaskSpec("seq2seq", "lstmkit.tasks.seq2seq:Seq2SeqTask", "seq2seq", "lstmkit.cli.seq2seq:COMMANDS",
             "sequence to sequence: LSTM encoder, attentional LSTM decoder, beam search",
             onnx="lstmkit.export.onnx:build_seq2seq_encoder_graph", explain="lstmkit.explain.models:trace_seq2seq"),
    TaskSpec("lm", "lstmkit.tasks.lm:LMTask", "text", "lstmkit.cli.lm:COMMANDS",
             "language model: embedding -> LSTM -> next-token softmax", explain="lstmkit.explain.models:trace_lm"),
    TaskSpec("regress", "lstmkit.tasks.regress:RegressTask", "series", "lstmkit.cli.regress:COMMANDS",
             "numeric series: a window of the past -> the next values", explain="lstmkit.explain.models:trace_regress"),
):
    register_task(_spec)
