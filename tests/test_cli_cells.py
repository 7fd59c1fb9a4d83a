"""The cell options on every train command (--cell, --forget-bias, --peepholes, --cell-clip, --num-proj,
--proj-clip): they reach every cell, config.json keeps them, predict/explain/export use the run's own cells, and
what cannot be done is a one-line error naming the option."""
import json

import numpy as np
import pytest
import torch

from lstmkit.cli import main
from lstmkit.nn import CellConfig
from lstmkit.tasks import load_run

CELL = ["--cell", "lstm", "--peepholes", "--num-proj", "4", "--cell-clip", "3", "--forget-bias", "0.5"]
SAVED = {"forget_bias": 0.5, "use_peepholes": True, "cell_clip": 3.0, "num_proj": 4}
QUICK = ["--epochs", "1", "--units", "6", "--quiet"]
TEXTS = ["这个真好", "那个太差了"]


def _write(d):
    (d / "cls.tsv").write_text("label\ttext\n" + "".join(f"1\t真好{k}\n0\t太差{k}\n" for k in range(8)),
                               encoding="utf-8")
    (d / "tag.txt").write_text("\n\n".join("张 B-PER\n三 E-PER\n在 O\n北 B-LOC\n京 E-LOC" for _ in range(8)) + "\n",
                               encoding="utf-8")
    (d / "lm.txt").write_text("春眠不觉晓\n处处闻啼鸟\n" * 4, encoding="utf-8")
    (d / "pairs.tsv").write_text("ab\tA B\nba\tB A\n" * 4, encoding="utf-8")
    (d / "series.csv").write_text("y\n" + "".join(f"{np.sin(k / 3):.5f}\n" for k in range(40)), encoding="utf-8")


def _train(d, task: str, out: str, cell: list) -> list:
    data = {"classify": ["--train", str(d / "cls.tsv"), "--embedding-dim", "4"],
            "tag": ["--train", str(d / "tag.txt"), "--format", "conll", "--embedding-dim", "4"],
            "lm": ["--train", str(d / "lm.txt"), "--embedding-dim", "4", "--bptt", "4"],
            "seq2seq": ["--train", str(d / "pairs.tsv"), "--embedding-dim", "4"],
            "regress": ["--train", str(d / "series.csv"), "--window", "6"]}[task]
    return ["train", task, *data, "--dev", data[1], "--out", str(d / out), *QUICK, *cell]


TASKS = ["classify", "tag", "lm", "seq2seq", "regress"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    d = tmp_path_factory.mktemp("cells")
    _write(d)
    for task in TASKS:
        assert main(_train(d, task, task, CELL)) == 0, task
    assert main(_train(d, "classify", "forget_bias", ["--forget-bias", "0.3"])) == 0
    assert main(_train(d, "tag", "tag_forget_bias", ["--forget-bias", "0.3", "--cell", "lstm", "--peepholes"])) == 0
    return d


def _lstm(task):
    return task.model.encoder if task.name == "seq2seq" else task.model.lstm


@pytest.mark.parametrize("task", TASKS)
def test_the_options_reach_every_cell_and_config_json(runs, task):
    model = json.loads((runs / task / "config.json").read_text(encoding="utf-8"))["model"]
    assert model["cell"] == "lstm" and model["cell_options"] == SAVED
    loaded = load_run(runs / task)
    lstms = [loaded.model.encoder, loaded.model.decoder] if task == "seq2seq" else [loaded.model.lstm]
    for lstm in lstms:
        for cell in lstm.cells:
            assert type(cell).__name__ == "LSTMCell"
            assert (cell.num_proj, cell.use_peepholes, cell.cell_clip, cell.forget_bias) == (4, True, 3.0, 0.5)
            assert cell.w_f_diag.shape == cell.w_i_diag.shape == cell.w_o_diag.shape == (6,)
            assert cell.projection_kernel.shape == (6, 4)
    assert _lstm(loaded).output_size == _lstm(loaded).num_directions * 4


def _outputs(task, texts, model=None):
    """``model``'s (default: the task's) raw outputs on ``texts``: logits (B, K), emissions at the valid steps
    (N, K), or an LM's logits (1, T, V)."""
    from lstmkit.data import TextDataset
    from lstmkit.data.tagged import TaggedDataset
    from lstmkit.tasks.tag import FEATURES

    model = model or task.model.eval()
    with torch.no_grad():
        if task.name == "lm":
            return model(torch.tensor([task.vocab.encode(list("".join(texts)))]))[0]
        if task.name == "classify":
            batch = next(iter(task.batches(task.encode(TextDataset(texts, None, "x")), 8)))
            return model(batch["ids"], batch["lengths"], batch.get("bigrams"))
        batch = next(iter(task.batches(task.encode(TaggedDataset([list(t) for t in texts], None, "x")), 8)))
        emissions = model(batch["ids"], batch["lengths"], **{k: batch.get(k) for k in FEATURES})
        return emissions[torch.arange(emissions.shape[1]) < batch["lengths"].unsqueeze(1)]


@pytest.mark.parametrize("task", ["classify", "tag", "lm"])
def test_a_reloaded_run_predicts_identically(runs, task, capsys):
    from lstmkit.tasks import evaluate_run

    torch.testing.assert_close(_outputs(load_run(runs / task), TEXTS), _outputs(load_run(runs / task), TEXTS),
                               atol=1e-6, rtol=0)
    best = json.loads((runs / task / "metrics.jsonl").read_text().splitlines()[-1])["dev"]
    if "loss" in best:          # the reloaded model is the trained one: its dev loss, to the last digits
        from lstmkit.data import read_labelled
        from lstmkit.data.plain import read_text

        dev = read_labelled(runs / "cls.tsv", "text", "label") if task == "classify" else read_text(runs / "lm.txt")
        assert evaluate_run(runs / task, dev)["loss"] == pytest.approx(best["loss"], abs=1e-6)
    capsys.readouterr()
    assert main(["predict", str(runs / task), "--json", *TEXTS]) == 0
    printed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    again = load_run(runs / task).predict_records(TEXTS)
    assert len(printed) == len(again) == 2
    for p, q in zip(printed, again):
        for key in ("probability", "perplexity"):
            if key in p:
                assert abs(p[key] - q[key]) < 1e-6
        assert p.get("label") == q.get("label") and p.get("tags") == q.get("tags")


@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize("given,flag", [(["--num-proj", "4"], "--num-proj"), (["--peepholes"], "--peepholes"),
                                        (["--cell-clip", "2"], "--cell-clip"), (["--proj-clip", "2"], "--proj-clip")])
def test_an_lstm_only_option_with_the_basic_cell_is_one_line(tmp_path, capsys, task, given, flag):
    _write(tmp_path)
    assert main(_train(tmp_path, task, "run", ["--cell", "basic", *given])) == 2
    err = capsys.readouterr().err.strip()
    assert err == (f"lstmkit train {task}: error: {flag} is an option of --cell lstm (TensorFlow's LSTMCell); "
                   f"--cell basic has none: add --cell lstm")
    assert not (tmp_path / "run").exists()


def test_proj_clip_needs_num_proj(tmp_path, capsys):
    _write(tmp_path)
    assert main(_train(tmp_path, "classify", "run", ["--cell", "lstm", "--proj-clip", "2"])) == 2
    assert capsys.readouterr().err.strip().endswith("--proj-clip clips the projection: give --num-proj P too")


def test_bad_values_are_usage_errors(tmp_path, capsys):
    _write(tmp_path)
    with pytest.raises(SystemExit) as exit_:
        main(_train(tmp_path, "lm", "run", ["--cell", "lstm", "--num-proj", "0"]))
    assert exit_.value.code == 2 and "--num-proj: expected a positive integer, got 0" in capsys.readouterr().err


@pytest.mark.parametrize("task,flag", [("classify", "--num-proj"), ("tag", "--num-proj"), ("seq2seq", "--num-proj")])
def test_export_names_what_onnx_cannot_hold(runs, capsys, task, flag):
    assert main(["export", str(runs / task), "--onnx", str(runs / f"{task}.onnx")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("lstmkit export: error: no ONNX form for num_proj=4")
    assert f"({flag})" in err and not (runs / f"{task}.onnx").exists()


def test_export_names_the_cell_clip(tmp_path, capsys):
    _write(tmp_path)
    assert main(_train(tmp_path, "classify", "run", ["--cell", "lstm", "--cell-clip", "2"])) == 0
    capsys.readouterr()
    assert main(["export", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "no ONNX form for cell_clip=2 (--cell-clip)" in err


@pytest.mark.parametrize("run", ["forget_bias", "tag_forget_bias"])
def test_forget_bias_and_peepholes_export_and_onnxruntime_agrees(runs, capsys, run):
    pytest.importorskip("onnxruntime")
    texts = ["张三在北京", "李四去上海玩了", "好"] if run.startswith("tag") else ["真好", "太差了", "好"]
    assert main(["export", str(runs / run)]) == 0 and (runs / run / "model.onnx").is_file()
    capsys.readouterr()
    assert main(["predict", str(runs / run), "--json", *texts]) == 0
    torch_out = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert main(["predict", str(runs / run), "--json", "--backend", "onnx", *texts]) == 0
    onnx_out = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert len(onnx_out) == len(texts)
    for a, b in zip(torch_out, onnx_out):
        assert a.get("tags") == b.get("tags") and a.get("label") == b.get("label")
        if "probability" in a:
            assert abs(a["probability"] - b["probability"]) < 1e-5
    # and the logits or emissions themselves
    from lstmkit.export.onnx import OnnxRunner

    task = load_run(runs / run)
    np.testing.assert_allclose(_outputs(task, texts, OnnxRunner(runs / run / "model.onnx")).numpy(),
                               _outputs(task, texts).numpy(), atol=1e-5, rtol=0)
    assert CellConfig.of(task.config).forget_bias == 0.3


def test_explain_walks_the_runs_own_cells(runs, capsys):
    from lstmkit.explain import trace
    from lstmkit.explain.models import explain_run, render_model_text

    tr = trace(TEXTS, run=runs / "classify")
    assert tr.config["cell"] == "LSTMCell" and tr.config["P"] == 4 and tr.config["H"] == 6
    assert tr.config["cell_options"] == SAVED
    step6 = next(s for s in tr.steps if s.number == 6)
    assert any(line.startswith("peepholes") for line in step6.lines)
    assert "c_t is clipped to [-3, 3] (cell_clip)" in step6.lines
    outputs = next(t for s in tr.steps for t in s.tensors if t.name == "outputs").values
    for row in tr.time_steps:                # the hand-stepped h_t is the engine's output: the same cell
        h = next(t for t in row["tensors"] if t.name == "h_t").values
        assert h.shape == (2, 4)
        for b, valid in enumerate(row["valid"]):
            if valid:
                np.testing.assert_allclose(h[b], outputs[b, row["t"], :4], atol=1e-6)
        c = next(t for t in row["tensors"] if t.name == "c_t").values
        assert np.abs(c).max() <= 3.0
    for task in ("tag", "seq2seq", "lm"):
        text = render_model_text(explain_run(runs / task, TEXTS[:1]))
        assert "use_peepholes=True, cell_clip=3.0, num_proj=4, forget_bias=0.5" in text
    assert main(["explain", "--run", str(runs / "tag"), "张三在北京"]) == 0
    out = capsys.readouterr().out
    assert "outputs (B, T, D*P)" in out and "LSTMCell(" in out


@pytest.mark.parametrize("task", ["classify", "tag"])
def test_layernorm_and_zoneout_train_and_reload(tmp_path, capsys, task):
    _write(tmp_path)
    assert main(_train(tmp_path, task, "run", ["--cell", "layernorm", "--zoneout", "0.1,0.2"])) == 0
    model = json.loads((tmp_path / "run" / "config.json").read_text(encoding="utf-8"))["model"]
    assert model["cell"] == "layernorm" and model["cell_options"] == {"zoneout_c": 0.1, "zoneout_h": 0.2}
    loaded = load_run(tmp_path / "run")
    for cell in _lstm(loaded).cells:
        assert type(cell).__name__ == "LayerNormLSTMCell" and (cell.zoneout_c, cell.zoneout_h) == (0.1, 0.2)
    # evaluation takes zoneout's expectation: no randomness, a reloaded run predicts the same
    torch.testing.assert_close(_outputs(loaded, TEXTS), _outputs(load_run(tmp_path / "run"), TEXTS), atol=0, rtol=0)
    capsys.readouterr()
    assert main(["predict", str(tmp_path / "run"), "--json", *TEXTS]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 2
    # ONNX's LSTM holds neither: the export names the first it meets, and writes nothing
    assert main(["export", str(tmp_path / "run"), "--onnx", str(tmp_path / "m.onnx")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "no ONNX form for layer_norm_epsilon=1e-05 (--cell layernorm)" in err
    assert not (tmp_path / "m.onnx").exists()


def test_export_names_zoneout(tmp_path, capsys):
    _write(tmp_path)
    assert main(_train(tmp_path, "classify", "run", ["--zoneout", "0.1,0"])) == 0
    capsys.readouterr()
    assert main(["export", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "no ONNX form for zoneout_c=0.1 (--zoneout): ONNX's LSTM has no zoneout" in err


def test_zoneout_flag_errors_are_one_line(tmp_path, capsys):
    _write(tmp_path)
    assert main(_train(tmp_path, "classify", "run", ["--cell", "layernorm", "--peepholes"])) == 2
    assert capsys.readouterr().err.strip() == ("lstmkit train classify: error: --peepholes is an option of --cell "
                                               "lstm (TensorFlow's LSTMCell); --cell layernorm has none: add --cell "
                                               "lstm")
    with pytest.raises(SystemExit) as exit_:
        main(_train(tmp_path, "classify", "run", ["--zoneout", "0.1,1"]))
    assert exit_.value.code == 2
    assert "--zoneout: expected C,H: two numbers in [0, 1) (or one for both), got '0.1,1'" in capsys.readouterr().err
    assert main(_train(tmp_path, "regress", "z", ["--zoneout", "0.3"])) == 0      # one number: both
    assert json.loads((tmp_path / "z" / "config.json").read_text())["model"]["cell_options"] == {
        "zoneout_c": 0.3, "zoneout_h": 0.3}
