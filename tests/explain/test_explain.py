"""The walkthrough as data: real shapes, real values that agree with the engine, and its renderings."""
import json

import numpy as np
import pytest

from lstmkit.cli import main
from lstmkit.explain import render_json, render_text, trace

TEXTS = ["接触LSTM模型不久，简单看了一些相关的论文，还没有动手实现过。", "我爱北京"]


@pytest.fixture(scope="module")
def tr():
    return trace(TEXTS, embedding_dim=28, units=128)


def _tensor(step, name):
    return next(t for t in step.tensors if t.name == name)


def test_shapes_follow_the_walkthrough(tr):
    steps = {s.number: s for s in tr.steps}
    assert sorted(steps) == list(range(1, 9))
    B, T = 2, len(tr.tokens[0])
    assert _tensor(steps[4], "padded ids").shape == (B, T)
    assert _tensor(steps[4], "lengths").values.tolist() == [len(tr.tokens[0]), len(tr.tokens[1])]
    assert _tensor(steps[5], "embedded batch").shape == (B, T, 28)
    assert _tensor(steps[6], "kernel").shape == (156, 512)
    row = {t.name: t for t in tr.time_steps[0]["tensors"]}
    assert row["[x_t, h_(t-1)]"].shape == (2, 156) and row["i"].shape == (2, 128)
    assert _tensor(steps[7], "outputs").shape == (B, T, 128)
    assert _tensor(steps[8], "softmax").shape == (B, 2)


def test_values_agree_with_the_engine(tr):
    steps = {s.number: s for s in tr.steps}
    outputs = _tensor(steps[7], "outputs").values
    lengths = _tensor(steps[4], "lengths").values
    # the hand-stepped h_t of layer 0 equals the engine's outputs at every valid step, and padding is zero
    for row in tr.time_steps:
        h = next(t for t in row["tensors"] if t.name == "h_t").values
        for b, valid in enumerate(row["valid"]):
            if valid:
                np.testing.assert_allclose(h[b], outputs[b, row["t"]], atol=1e-6)
            else:
                assert not outputs[b, row["t"]].any()
    final_h = _tensor(steps[7], "final h, layer 0").values
    for b, n in enumerate(lengths):
        np.testing.assert_allclose(final_h[b], outputs[b, n - 1], atol=1e-6)
    # gates at t=0 by hand: [x_0, 0] @ kernel + bias
    kernel, bias = _tensor(steps[6], "kernel").values, _tensor(steps[6], "bias").values
    x0 = _tensor(steps[5], "embedded batch").values[:, 0]
    gates = np.concatenate([x0, np.zeros((2, 128), np.float32)], 1) @ kernel + bias
    row = {t.name: t.values for t in tr.time_steps[0]["tensors"]}
    np.testing.assert_allclose(row["f"], gates[:, 256:384], atol=1e-5)
    probs = _tensor(steps[8], "softmax").values
    np.testing.assert_allclose(probs.sum(1), 1.0, atol=1e-6)


def test_params_count_the_whole_model(tr):
    totals = {p["name"]: p["total"] for p in tr.params}
    assert totals["layer 0 BasicLSTMCell"] == 80_384
    assert any("(28 + 128) * 4*128 + 4*128 = 80,384" == p["formula"] for p in tr.params)


def test_text_and_json_renderings(tr):
    text = render_text(tr, max_time_steps=4)
    assert "kernel (E + P, 4H) = (28 + 128, 4*128) = (156, 512)" in text
    assert "more steps" in text and "(padding: state carried, output 0)" in text
    doc = json.loads(render_json(tr))
    assert [s["step"] for s in doc["steps"]] == list(range(1, 9))
    kernel = next(t for s in doc["steps"] for t in s["tensors"] if t["name"] == "kernel")
    assert kernel["shape"] == [156, 512] and len(kernel["first"]) == 8 and "values" not in kernel
    full = json.loads(render_json(tr, full=True))
    kernel = next(t for s in full["steps"] for t in s["tensors"] if t["name"] == "kernel")
    assert np.asarray(kernel["values"]).shape == (156, 512)


def test_options_projection_bidirectional_and_errors():
    t = trace(["今天天气很好"], tokenizer="char", embedding_dim=8, units=6, num_proj=3, bidirectional=True)
    assert t.config["cell"] == "LSTMCell" and t.config["P"] == 3 and t.config["D"] == 2
    kernel = next(x for s in t.steps for x in s.tensors if x.name == "kernel")
    assert kernel.shape == (8 + 3, 24)
    with pytest.raises(ValueError, match="at least one text"):
        trace([])


def test_explain_a_trained_run(tmp_path, capsys):
    rows = ["label\ttext"] + [f"1\t真好{k}" for k in range(20)] + [f"0\t太差{k}" for k in range(20)]
    (tmp_path / "t.tsv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    assert main(["train", "classify", "--train", str(tmp_path / "t.tsv"), "--out", str(tmp_path / "run"),
                 "--epochs", "1", "--units", "4", "--embedding-dim", "4", "--quiet"]) == 0
    capsys.readouterr()
    assert main(["explain", "--run", str(tmp_path / "run"), "真好", "太差", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["config"]["run"] == str(tmp_path / "run") and doc["config"]["V"] > 4
    assert main(["predict", str(tmp_path / "run"), "真好", "--json"]) == 0
    pred = json.loads(capsys.readouterr().out.splitlines()[0])
    assert doc["prediction"][0]["label"] == pred["label"]
    assert abs(doc["prediction"][0]["probability"] - pred["probability"]) < 1e-5
    assert main(["explain"]) == 2
    assert "give one or more TEXT" in capsys.readouterr().err
    assert main(["explain", "x", "--run", str(tmp_path / "nope")]) == 2
    assert "run folder not found" in capsys.readouterr().err


def test_a_layernorm_walkthrough_shows_the_normalised_gates():
    """Step 6 with LayerNormLSTMCell: its gates are the cell's own (LN of each half), the hand-stepped loop agrees
    with the model (trace checks it, and raises otherwise), and the forget gate row is sigmoid(f + forget_bias)."""
    import torch

    tr = trace(["我爱北京", "好"], embedding_dim=6, units=5, cell="layernorm")
    assert tr.config["cell"] == "LayerNormLSTMCell"
    step6 = next(s for s in tr.steps if s.number == 6)
    assert any(line.startswith("layer normalisation (LayerNormLSTMCell)") for line in step6.lines)
    row = {t.name: t.values for t in tr.time_steps[0]["tensors"]}
    x_t = torch.from_numpy(row["x_t"])
    from lstmkit.nn import reference as ref

    emb = next(t for s in tr.steps for t in s.tensors if t.name == "embedded batch").values
    np.testing.assert_allclose(row["x_t"], emb[:, 0], atol=0)
    # at t = 0, h = 0: LN(0 @ W_h) = 0, so the gates are LN(x_t W_x) * gamma_x + bias (gains 1, bias 0 at init)
    gates = np.concatenate([row["i"], row["j"], row["f"], row["o"]], axis=1)
    kernel = next(t for t in step6.tensors if t.name == "kernel").values
    want = ref.layer_norm(x_t.numpy() @ kernel[:6], np.ones(20))
    np.testing.assert_allclose(gates, want, atol=1e-5)
    np.testing.assert_allclose(row["sigmoid(f + forget_bias)"], 1 / (1 + np.exp(-(row["f"] + 1.0))), atol=1e-6)
