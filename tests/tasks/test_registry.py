"""Adding a task is one module plus one registry entry: a toy task, registered here, trains, evaluates and predicts
through the real command line, and its run folder loads back through the registry alone."""
import json
from dataclasses import dataclass

import numpy as np
import pytest
import torch

from lstmkit.cli import main
from lstmkit.cli.base import TaskCommands
from lstmkit.cli.common import add_training_args, train_config
from lstmkit.data import TextDataset, read_lines
from lstmkit.tasks import TaskSpec, load_run, register_task, task_spec, task_specs, unregister_task
from lstmkit.train.runs import train_run
from lstmkit.train.task import Task


@dataclass
class LengthConfig:
    scale: float = 10.0           # lengths are divided by this before the model sees them

    def check(self):
        if not self.scale > 0:
            raise ValueError(f"scale must be positive, got {self.scale!r}")
        return self

    @classmethod
    def from_dict(cls, data: dict):
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__}).check()


class LengthTask(Task):
    """Learns a text's length in characters from its length (both / scale): y = w * x + b, as small as a task
    can be."""

    name, primary_metric, config_class, greater_is_better = "toylen", "mae", LengthConfig, False

    def __init__(self, config: LengthConfig):
        self.config = config.check()
        torch.manual_seed(0)
        self.model = torch.nn.Linear(1, 1)

    @classmethod
    def from_data(cls, config, train):
        return cls(config)

    @classmethod
    def from_saved(cls, config, vocabs):
        return cls(config)

    def encode(self, data):
        x = torch.tensor([[len(t) / self.config.scale] for t in data.texts])
        return {"x": x, "y": x.squeeze(1)}          # the model learns length / scale from length / scale

    def batches(self, enc, batch_size, shuffle=False, seed=0):
        n = len(enc["y"])
        order = torch.randperm(n, generator=torch.Generator().manual_seed(seed)) if shuffle else torch.arange(n)
        return [{"index": order[k:k + batch_size], "x": enc["x"][order[k:k + batch_size]],
                 "y": enc["y"][order[k:k + batch_size]]} for k in range(0, n, batch_size)]

    def step(self, batch):
        return torch.nn.functional.mse_loss(self.model(batch["x"]).squeeze(1), batch["y"])

    @torch.no_grad()
    def evaluate(self, enc, **options):
        pred = self.model(enc["x"]).squeeze(1)
        return {"mae": float((pred - enc["y"]).abs().mean()) * self.config.scale, "n": len(enc["y"])}

    @torch.no_grad()
    def predict_records(self, inputs):
        pred = self.model(self.encode(TextDataset(list(inputs), None))["x"]).squeeze(1) * self.config.scale
        return [{"input": t, "length": round(float(p), 4)} for t, p in zip(inputs, pred)]


def _train(args) -> int:
    task = LengthTask(LengthConfig())
    train_run(task, read_lines(args.train), read_lines(args.dev), train_config(args), args.out, log=lambda m: None)
    return 0


class LengthCommands(TaskCommands):
    task = "toylen"

    def add_train_parser(self, sub):
        p = sub.add_parser("toylen", help="learn a text's length")
        p.add_argument("--train", required=True)
        p.add_argument("--dev", required=True)
        p.add_argument("--out", required=True)
        add_training_args(p, epochs=60, batch_size=8, lr=0.1, patience=0, weight_decay=0.0)
        p.set_defaults(func=_train)

    def read_test(self, args, config):
        return read_lines(args.test)


@pytest.fixture
def toy_task():
    register_task(TaskSpec("toylen", LengthTask, "text-lengths", LengthCommands, "a text's length"))
    yield
    unregister_task("toylen")


def test_a_registered_task_trains_evaluates_and_predicts_through_the_cli(toy_task, tmp_path, capsys):
    texts = ["a" * n for n in range(1, 13)] * 4
    (tmp_path / "t.txt").write_text("\n".join(texts) + "\n", encoding="utf-8")
    run = tmp_path / "run"
    assert main(["train", "toylen", "--train", str(tmp_path / "t.txt"), "--dev", str(tmp_path / "t.txt"),
                 "--out", str(run), "--quiet"]) == 0
    assert json.loads((run / "config.json").read_text(encoding="utf-8"))["task"] == "toylen"
    capsys.readouterr()
    assert main(["evaluate", str(run), "--test", str(tmp_path / "t.txt"), "--json"]) == 0
    metrics = json.loads(capsys.readouterr().out)
    assert metrics["n"] == 48 and metrics["mae"] < 0.3        # it learnt: a length is off by < 0.3 characters
    assert main(["predict", str(run), "abcdef", "--json"]) == 0
    rec = json.loads(capsys.readouterr().out)
    assert rec["input"] == "abcdef" and rec["length"] == pytest.approx(6.0, abs=0.3)
    assert isinstance(load_run(run), LengthTask)               # the registry rebuilds it from the folder alone
    assert main(["predict", str(run), "abc", "--beam-size", "2"]) == 2     # another task's option: one line
    assert "--beam-size applies to seq2seq runs" in capsys.readouterr().err


def test_a_run_of_an_unregistered_task_is_a_clear_error(toy_task, tmp_path, capsys):
    (tmp_path / "t.txt").write_text("ab\nabc\n", encoding="utf-8")
    run = tmp_path / "run"
    assert main(["train", "toylen", "--train", str(tmp_path / "t.txt"), "--dev", str(tmp_path / "t.txt"),
                 "--out", str(run), "--epochs", "1", "--quiet"]) == 0
    unregister_task("toylen")
    with pytest.raises(ValueError, match=r"config.json: unknown task 'toylen' \(known: classify, tag, seq2seq"):
        load_run(run)
    assert main(["predict", str(run), "abc"]) == 2
    err = capsys.readouterr().err.strip()
    assert "unknown task 'toylen'" in err and len(err.splitlines()) == 1


def test_the_registry_lists_the_built_in_tasks_and_refuses_duplicates():
    assert list(task_specs())[:5] == ["classify", "tag", "seq2seq", "lm", "regress"]
    spec = task_spec("tag")
    assert spec.task_class.name == "tag" and spec.config_class.__name__ == "TagConfig"
    assert spec.cli.task == "tag" and spec.data_kind == "tagging"
    with pytest.raises(ValueError, match="registered already"):
        register_task(TaskSpec("tag", LengthTask, "tagging"))
    with pytest.raises(TypeError, match="not a lstmkit.train.task.Task subclass"):
        TaskSpec("bad", dict, "x").task_class
    with pytest.raises(ValueError, match="unknown task 'nope'"):
        task_spec("nope")


def test_every_built_in_task_fulfils_the_contract():
    for name, spec in task_specs().items():
        cls = spec.task_class
        assert issubclass(cls, Task) and not getattr(cls, "__abstractmethods__", None), name
        assert cls.name == name
        assert callable(getattr(spec.config_class, "from_dict"))
    assert [n for n, s in task_specs().items() if s.task_class.can_ensemble()] == ["classify", "seq2seq"]


def test_a_task_that_leaves_out_part_of_the_contract_cannot_be_built():
    class Half(Task):
        name = "half"

        def encode(self, data):
            return data

    with pytest.raises(TypeError, match="abstract"):
        Half()
    assert np.isclose(LengthConfig().scale, 10.0)


def test_task_commands_take_their_hooks_as_functions():
    cmds = TaskCommands("toy", read_test=lambda args, config: "read")
    assert cmds.task == "toy" and cmds.read_test(None, None) == "read"
    assert cmds.plain({"a": 1}) == '{"a": 1}'                    # a hook not given keeps its default
    with pytest.raises(TypeError, match=r"unknown hooks \['read'\]"):
        TaskCommands("toy", read=print)


def test_building_a_task_never_changes_the_callers_config():
    from lstmkit.data.tagged import TaggedDataset
    from lstmkit.tasks.classify import ClassifyConfig, ClassifyTask
    from lstmkit.tasks.tag import TagConfig, TagTask

    given = ClassifyConfig(units=4, embedding_dim=4)
    task = ClassifyTask.from_data(given, TextDataset(["好", "差", "好的"], ["1", "0", "1"]))
    assert task.config.labels == ["0", "1"] and given.labels == [] and given == ClassifyConfig(units=4, embedding_dim=4)
    task.with_teacher(ClassifyTask.from_data(given, TextDataset(["好", "差"], ["1", "0"])), 0.3)
    assert task.config.distill == 0.3 and given.distill == 0.0
    tag_config = TagConfig(units=4, embedding_dim=4)
    tagger = TagTask.from_data(tag_config, TaggedDataset([["张", "三"]], [["B-PER", "E-PER"]]))
    assert tagger.config.labels == ["B-PER", "E-PER"] and tag_config.labels == []
