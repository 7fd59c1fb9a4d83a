"""The Python front door: ``lstmkit.train(...)`` does what ``lstmkit train`` does, ``lstmkit.load(RUN)`` gives a
trained run as an object whose ``predict`` and ``evaluate`` return what ``predict --json`` and ``evaluate --json``
print.

Example::

    import lstmkit

    model = lstmkit.train("classify", train="train.tsv", dev="dev.tsv", out="runs/demo", epochs=2, quiet=True)
    model.predict(["这本书写得真好", "质量太差了"])   # [{"input": ..., "label": "1", "probability": ...}]
    model.evaluate("test.tsv")["accuracy"]
    lstmkit.load("runs/demo").task                     # "classify"
"""
from __future__ import annotations

import argparse
from pathlib import Path

from .cli import build_parser
from .cli.options import checked_options, options_from_file
from .tasks import load_run, task_spec, task_specs
from .train.checkpoint import read_config


def _subparser(parser: argparse.ArgumentParser, *names: str) -> argparse.ArgumentParser:
    for name in names:
        action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        parser = action.choices[name]
    return parser


def _plain(value):
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


class Model:
    """A trained run: ``task`` (its name), ``config`` (its ``config.json``), ``run`` (the folder), and ``core``,
    the task object itself (its ``model`` is the ``torch.nn.Module``)."""

    def __init__(self, run, device: str = "cpu"):
        self.run = Path(run)
        self.config = read_config(self.run)
        self.core = load_run(self.run, device)
        self.task = self.core.name
        self.device = device

    def __repr__(self) -> str:
        return f"lstmkit.Model({str(self.run)!r}, task={self.task!r})"

    def predict(self, inputs, **options) -> list[dict]:
        """One record per input, the objects ``lstmkit predict --json`` prints: texts for most tasks (a single
        string is one text), ``SeriesDataset`` tails for a forecaster. ``options`` go to the task's
        ``predict_records`` (seq2seq: ``beam_size``, ``n_best``)."""
        if isinstance(inputs, (str, bytes)) or not hasattr(inputs, "__iter__"):
            inputs = [inputs]
        inputs = list(inputs)
        if self.task != "regress":       # a forecaster's inputs are series; everyone else's are texts
            for k, text in enumerate(inputs):
                if not isinstance(text, str):
                    raise TypeError(f"Model.predict: inputs must be str texts, got {type(text).__name__} at {k}")
        return self.core.predict_records(inputs, **options)

    def evaluate(self, data=None, *, corpus: str | None = None, **options) -> dict:
        """The metrics ``lstmkit evaluate --json`` prints, on ``data``: a file in the run's format (read as
        ``evaluate --test`` reads it; reader options such as ``text_column`` or ``format`` as keywords), a dataset
        object of the task's reader, or ``corpus`` (a built-in corpus's test split). Other ``options`` are the
        task's evaluate options (seq2seq: ``beam_size``)."""
        commands = task_spec(self.task).cli
        parser = _subparser(build_parser(commands), "evaluate")
        args = parser.parse_args([str(self.run)])
        values = checked_options({k: _plain(v) for k, v in options.items()}, parser, "Model.evaluate",
                                 "evaluate")
        vars(args).update(values)
        if (data is None) == (corpus is None):
            raise ValueError("Model.evaluate: give data (a file or a dataset) or corpus=NAME, one of them")
        if corpus is not None:
            from .data import load_corpus
            from .data.corpora import corpus_kind

            if corpus_kind(corpus) != task_spec(self.task).data_kind:
                raise ValueError(f"Model.evaluate: corpus {corpus!r} does not fit a {self.task!r} run")
            data = load_corpus(corpus)["test"]
        elif isinstance(data, (str, Path)):
            args.test = str(data)
            data = commands.read_test(args, self.config)
        return self.core.evaluate(self.core.encode(data), **commands.evaluate_options(args))


def load(run, device: str = "cpu") -> Model:
    """The trained run in folder ``run``, its model on ``device`` ("cpu", "cuda", "auto", ...)."""
    return Model(run, device)


def train(task: str, train=None, dev=None, out=None, *, corpus: str | None = None, config=None,
          **options) -> Model:
    """Train a ``task`` run into ``out``, as ``lstmkit train TASK`` does, and return it loaded.

    ``train``/``dev``: data files (or ``corpus``, a built-in corpus); ``config``: a JSON/TOML file of options or a
    run's ``config.json``; ``options``: every option of ``lstmkit train TASK`` by its name with underscores
    (``epochs=3``, ``batch_size=32``, ``bidirectional=False``), checked as the command line checks them.
    """
    specs = task_specs()
    if task not in specs or specs[task].cli is None:
        raise ValueError(f"lstmkit.train: task must be one of {', '.join(specs)}, got {task!r}")
    if out is None:
        raise ValueError("lstmkit.train: out (the run folder to create) is required")
    parser = _subparser(build_parser(), "train", task)
    args = parser.parse_args(["--out", str(out)])
    values = {}
    if config is not None:
        values.update(options_from_file(str(config), parser, task))
    given = {"train": train, "dev": dev, "corpus": corpus, **options}
    values.update(checked_options({k: _plain(v) for k, v in given.items() if v is not None}, parser,
                                  "lstmkit.train", f"train {task}"))
    vars(args).update(values, command="train", task=task)
    args.func(args)
    return Model(out)
