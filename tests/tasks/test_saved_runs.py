"""Run folders saved by older lstmkit (tests/data/saved_runs, written at commit b1af8cd, before CellConfig) load
as they are and give the same outputs; their cells keep the options config.json names."""
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from lstmkit.nn import CellConfig
from lstmkit.tasks import load_run

SAVED = Path(__file__).parents[1] / "data" / "saved_runs"
EXPECTED = json.loads((SAVED / "expected.json").read_text())


@pytest.mark.parametrize("name", sorted(EXPECTED["outputs"]))
def test_an_old_run_loads_and_predicts_as_it_did(name):
    task = load_run(SAVED / name)
    ids, lengths = (torch.tensor(EXPECTED["inputs"][k]) for k in ("ids", "lengths"))
    more = (torch.tensor([[2, 4], [2, 5]]),) if task.name == "seq2seq" else ()
    with torch.no_grad():
        got = task.model.eval()(ids, lengths, *more)
    np.testing.assert_allclose(got.numpy(), np.array(EXPECTED["outputs"][name]), atol=1e-6, rtol=0)


def test_an_old_runs_cell_options_reach_every_cell():
    task = load_run(SAVED / "classify_lstm")
    assert CellConfig.of(task.config) == CellConfig(cell="lstm", forget_bias=0.5, use_peepholes=True, cell_clip=2.0,
                                                    num_proj=3)
    for cell in task.model.lstm.cells:
        assert (type(cell).__name__, cell.num_proj, cell.cell_clip, cell.forget_bias) == ("LSTMCell", 3, 2.0, 0.5)
        assert cell.w_f_diag.shape == (4,)
    assert task.model.head.in_features == 2 * 3                 # D*P: the head reads the projected outputs


def test_an_old_run_without_cell_fields_gets_the_basic_cell():
    for name in ("tag_basic", "seq2seq_basic"):
        assert "cell" not in json.loads((SAVED / name / "config.json").read_text())["model"]
        task = load_run(SAVED / name)
        assert CellConfig.of(task.config) == CellConfig()
        lstm = task.model.lstm if name == "tag_basic" else task.model.encoder
        assert {type(c).__name__ for c in lstm.cells} == {"BasicLSTMCell"}
