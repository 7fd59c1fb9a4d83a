"""What one task adds to the command line: the ``TaskCommands`` half of a registry entry.

The generic commands (``train``, ``evaluate``, ``predict``) ask the task's commands object for its options and
its ways of reading and showing data; they never branch on a task's name. Subclass and override what differs;
the defaults fit a task whose inputs are plain texts, one per line.
"""
from __future__ import annotations

import json

from .common import argument_texts, input_texts


class TaskCommands:
    """A task's command-line half. ``task`` is its registry name. Override the hooks in a subclass, or give them
    as functions: ``TaskCommands("tag", add_train_parser=add_parser, read_test=read_test, ...)``."""

    task: str = ""
    HOOKS = ("add_train_parser", "add_evaluate_args", "add_predict_args", "add_commands", "read_test",
             "evaluate_options", "joined_runs", "predict", "print_metrics", "plain", "explain_inputs")

    def __init__(self, task: str = "", **hooks):
        unknown = sorted(set(hooks) - set(self.HOOKS))
        if unknown:
            raise TypeError(f"TaskCommands: unknown hooks {unknown} (known: {', '.join(self.HOOKS)})")
        self.task = task or self.task
        for name, hook in hooks.items():
            setattr(self, name, hook)

    def add_train_parser(self, sub) -> None:
        """Add ``train TASK`` to ``sub`` (argparse sub-parsers), its ``func`` set to the training command."""
        raise NotImplementedError(f"{type(self).__name__}.add_train_parser")

    def add_evaluate_args(self, p) -> None:
        """The task's own ``evaluate`` options (``--test`` and ``--corpus`` are everyone's)."""

    def add_predict_args(self, p) -> None:
        """The task's own ``predict`` options (TEXT, ``--file``, ``--json``, ``--device`` are everyone's)."""

    def add_commands(self, sub) -> None:
        """Top-level commands of the task's own (``generate`` for language models)."""

    def read_test(self, args, config: dict):
        """``evaluate --test F``: the labelled data in the run's format."""
        raise NotImplementedError(f"{type(self).__name__}.read_test")

    def evaluate_options(self, args) -> dict:
        """Keyword options for the task's ``evaluate`` from its own flags (seq2seq: ``beam_size``)."""
        return {}

    def joined_runs(self, args) -> dict:
        """Runs that join RUN (``ensemble``, ``rescore``, ``inverse``: lists of run folders), from the flags."""
        return {}

    def predict(self, args, config: dict) -> list[dict]:
        """``predict``: one record per input. By default the inputs are texts (arguments, ``--file``, stdin)."""
        from ..tasks import load_task

        texts = input_texts(args)
        if not texts:
            raise ValueError("nothing to predict: give TEXT arguments, --file F, or lines on standard input")
        return load_task(args.run, device=args.device, **self.joined_runs(args)).predict_records(texts)

    def explain_inputs(self, args) -> list:
        """``explain RUN ...``: what the walkthrough reads (texts, from TEXT arguments and ``--file`` lines)."""
        return argument_texts(args)

    def print_metrics(self, metrics: dict, data) -> None:
        """``evaluate`` without ``--json``: the metrics for a person."""
        print(f"{data.source}:")
        for key, value in metrics.items():
            if isinstance(value, float):
                print(f"{key:<16}{value:.4f}")

    def plain(self, rec: dict) -> str:
        """``predict`` without ``--json``: one record for a person."""
        return json.dumps(rec, ensure_ascii=False)
