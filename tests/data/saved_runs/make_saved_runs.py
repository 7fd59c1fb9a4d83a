"""Writes the run folders beside this file and ``expected.json``, each model's outputs on fixed inputs.

They were written by lstmkit at commit b1af8cd (before ``CellConfig``), so that
``tests/tasks/test_saved_runs.py`` holds later code to loading them as they are and predicting the same:
    PYTHONPATH=<that checkout>/src python tests/data/saved_runs/make_saved_runs.py
Tiny models with random weights: what matters is that the numbers come back, not that they are good.
"""
import json
import shutil
from pathlib import Path

import torch

from lstmkit.data import TextDataset
from lstmkit.data.pairs import PairDataset
from lstmkit.data.tagged import TaggedDataset
from lstmkit.tasks.classify import ClassifyConfig, ClassifyTask
from lstmkit.tasks.seq2seq import Seq2SeqConfig, Seq2SeqTask
from lstmkit.tasks.tag import TagConfig, TagTask
from lstmkit.train.checkpoint import save_run

HERE = Path(__file__).parent
TEXTS = ["真好", "太差了", "好", "差"]
INPUTS = {"ids": [[2, 3, 4], [4, 2, 0]], "lengths": [3, 2]}


def outputs(model, ids, lengths, *more):
    with torch.no_grad():
        return model.eval()(torch.tensor(ids), torch.tensor(lengths), *more).tolist()


def main():
    expected = {}
    torch.manual_seed(0)
    data = TextDataset(TEXTS, ["1", "0", "1", "0"], "toy")
    runs = {
        "classify_lstm": ClassifyConfig(embedding_dim=4, units=4, bigrams=False, cell="lstm",
                                        cell_options={"num_proj": 3, "use_peepholes": True, "cell_clip": 2.0,
                                                      "forget_bias": 0.5}),
        "classify_basic": ClassifyConfig(embedding_dim=4, units=4, bigrams=False, bidirectional=False),
    }
    for name, config in runs.items():
        task = ClassifyTask.from_data(config, data)
        save_run(HERE / name, task)
        expected[name] = outputs(task.model, INPUTS["ids"], INPUTS["lengths"])
    tagged = TaggedDataset([list("张三在北京"), list("李四去上海")],
                           [["B-PER", "E-PER", "O", "B-LOC", "E-LOC"]] * 2, "toy")
    task = TagTask.from_data(TagConfig(scheme="BIOES", embedding_dim=4, units=4, bigrams=False), tagged)
    save_run(HERE / "tag_basic", task)
    expected["tag_basic"] = outputs(task.model, INPUTS["ids"], INPUTS["lengths"])
    pairs = PairDataset(["cat", "dog"], ["K AE T", "D AO G"], "toy")
    task = Seq2SeqTask.from_data(Seq2SeqConfig(embedding_dim=4, units=4), pairs)
    save_run(HERE / "seq2seq_basic", task)
    expected["seq2seq_basic"] = outputs(task.model, INPUTS["ids"], INPUTS["lengths"], torch.tensor([[2, 4], [2, 5]]))
    (HERE / "expected.json").write_text(json.dumps({"inputs": INPUTS, "outputs": expected}, indent=1) + "\n")


if __name__ == "__main__":
    for old in HERE.iterdir():
        if old.is_dir():
            shutil.rmtree(old)
    main()
