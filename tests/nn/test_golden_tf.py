"""Every TensorFlow golden case, on both paths (step loop and fused kernel), float64 and float32.

On ``tests/device.py``'s device: CPU here; cuDNN with ``LSTMKIT_TEST_DEVICE=cuda`` on a GPU machine.

The loss is the golden one, L = sum_k sum(out_k * dloss_k), so its gradients can be held to TensorFlow's.
"""
import numpy as np
import pytest
import torch

from device import DEVICE, FLOAT32_ATOL
from golden_data import golden_case, golden_manifest
from lstmkit.nn import (LSTM, BasicLSTMCell, LSTMCell, LSTMStateTuple, MultiRNNCell, bidirectional_dynamic_rnn,
                        dynamic_rnn, fuse_blocker)
from lstmkit.nn import reference as ref

CASES = golden_manifest("tf_cells")


def _cell(cfg, input_size, dtype, suffix=""):
    if cfg["kind"].startswith("LSTMCell"):
        return LSTMCell(input_size, cfg["num_units"], use_peepholes=cfg["use_peepholes"], cell_clip=cfg["cell_clip"],
                        num_proj=cfg["num_proj"], proj_clip=cfg["proj_clip"], forget_bias=cfg["forget_bias"],
                        dtype=dtype, device=DEVICE)
    return BasicLSTMCell(input_size, cfg["num_units"], forget_bias=cfg["forget_bias"],
                         state_is_tuple=cfg.get("state_is_tuple", True), activation=cfg.get("activation", "tanh"),
                         dtype=dtype, device=DEVICE)


def _load(cell, data, suffix, dtype):
    with torch.no_grad():
        for name, p in cell.named_parameters():
            p.copy_(torch.as_tensor(data[f"w_{name}{suffix}"], dtype=dtype, device=DEVICE))


def _run_case(name, path, dtype, via_module=False):
    """Build the case's model, run it, and return ({golden output name: tensor}, {golden grad name: tensor})."""
    cfg, data = CASES[name], golden_case("tf_cells", name)
    x = torch.tensor(data["x"], dtype=dtype, device=DEVICE, requires_grad=True)
    lengths = torch.as_tensor(data["lengths"], device=DEVICE)
    fused = path == "fused"
    leaves = {"x": x}
    if cfg["kind"].startswith("bidirectional"):
        I = cfg["input_size"]
        if via_module:
            lstm = LSTM(I, cfg["num_units"], bidirectional=True, fused=fused, dtype=dtype, device=DEVICE)
            fw, bw = lstm.cell(0, 0), lstm.cell(0, 1)
        else:
            fw, bw = _cell(cfg, I, dtype), _cell(cfg, I, dtype)
        _load(fw, data, "_fw", dtype)
        _load(bw, data, "_bw", dtype)
        if via_module:
            out, ((st_fw, st_bw),) = lstm(x, lengths)
            out_fw, out_bw = out.split(cfg["num_units"], dim=2)
        else:
            (out_fw, out_bw), (st_fw, st_bw) = bidirectional_dynamic_rnn(fw, bw, x, lengths, fused=fused)
        outs = {"out_fw": out_fw, "out_bw": out_bw, "c_fw": st_fw.c, "h_fw": st_fw.h, "c_bw": st_bw.c,
                "h_bw": st_bw.h}
        leaves.update({f"{n}_fw": p for n, p in fw.named_parameters()})
        leaves.update({f"{n}_bw": p for n, p in bw.named_parameters()})
    elif cfg["kind"].startswith("MultiRNNCell"):
        L, I, H = cfg["layers"], cfg["input_size"], cfg["num_units"]
        if via_module:
            lstm = LSTM(I, H, num_layers=L, fused=fused, dtype=dtype, device=DEVICE)
            cells = [lstm.cell(k) for k in range(L)]
        else:
            cells = [_cell(cfg, I if k == 0 else H, dtype) for k in range(L)]
        for k, c in enumerate(cells):
            _load(c, data, f"_l{k}", dtype)
            leaves.update({f"{n}_l{k}": p for n, p in c.named_parameters()})
        out, states = lstm(x, lengths) if via_module else dynamic_rnn(MultiRNNCell(cells), x, lengths, fused=fused)
        outs = {"outputs": out}
        for k, st in enumerate(states):
            outs.update({f"c_l{k}": st.c, f"h_l{k}": st.h})
    else:
        cell = _cell(cfg, cfg["input_size"], dtype)
        _load(cell, data, "", dtype)
        leaves.update(dict(cell.named_parameters()))
        init = None
        if "x_c0" in data:
            c0 = torch.tensor(data["x_c0"], dtype=dtype, device=DEVICE, requires_grad=True)
            h0 = torch.tensor(data["x_h0"], dtype=dtype, device=DEVICE, requires_grad=True)
            leaves.update({"x_c0": c0, "x_h0": h0})
            init = LSTMStateTuple(c0, h0) if cell.state_is_tuple else torch.cat([c0, h0], dim=1)
        out, state = dynamic_rnn(cell, x, lengths, init, fused=fused)
        outs = {"outputs": out}
        if cell.state_is_tuple:
            outs.update({"c": state.c, "h": state.h})
        else:
            outs["state_concat"] = state
    loss = sum((o * torch.as_tensor(data[f"dloss_{k}"], dtype=dtype, device=DEVICE)).sum() for k, o in outs.items())
    names = [k[len("grad_"):] for k in data if k.startswith("grad_")]
    grads = torch.autograd.grad(loss, [leaves[n] for n in names])
    return data, {k: o.detach().cpu() for k, o in outs.items()}, {n: g.cpu() for n, g in zip(names, grads)}


def _fusable(name):
    cfg = CASES[name]
    if cfg["kind"].startswith("LSTMCell"):
        cell = _cell(cfg, cfg["input_size"], torch.float64)
    else:
        cell = BasicLSTMCell(2, 2, activation=cfg.get("activation", "tanh"))
    return fuse_blocker(cell) is None


PARAMS = [(n, p) for n in sorted(CASES) for p in ("loop", "fused") if p == "loop" or _fusable(n)]


@pytest.mark.parametrize("name,path", PARAMS)
def test_float64_matches_tensorflow(name, path):
    data, outs, grads = _run_case(name, path, torch.float64)
    assert set(outs) == {k[len("out_"):] for k in data if k.startswith("out_")}
    for k, o in outs.items():
        np.testing.assert_allclose(o.numpy(), data[f"out_{k}"], rtol=0, atol=1e-9, err_msg=k)
    assert grads, "every case stores gradients"
    for k, g in grads.items():
        np.testing.assert_allclose(g.numpy(), data[f"grad_{k}"], rtol=0, atol=1e-8, err_msg=f"grad {k}")


@pytest.mark.parametrize("name,path", PARAMS)
def test_float32_matches_tensorflow(name, path):
    data, outs, grads = _run_case(name, path, torch.float32)
    for k, o in outs.items():
        assert o.dtype == torch.float32
        np.testing.assert_allclose(o.numpy(), data[f"out_{k}"], rtol=0, atol=FLOAT32_ATOL, err_msg=k)
    for k, g in grads.items():
        np.testing.assert_allclose(g.numpy(), data[f"grad_{k}"], rtol=1e-4, atol=1e-4, err_msg=f"grad {k}")


@pytest.mark.parametrize("name", ["multi_2layer", "bidi_varlen"])
@pytest.mark.parametrize("path", ["loop", "fused"])
def test_lstm_module_matches_tensorflow(name, path):
    """The same stacks through the LSTM module (one fused call for every layer and direction)."""
    data, outs, grads = _run_case(name, path, torch.float64, via_module=True)
    for k, o in outs.items():
        np.testing.assert_allclose(o.numpy(), data[f"out_{k}"], rtol=0, atol=1e-9, err_msg=k)
    for k, g in grads.items():
        np.testing.assert_allclose(g.numpy(), data[f"grad_{k}"], rtol=0, atol=1e-8, err_msg=f"grad {k}")


def _reference_step(cfg, data, suffix=""):
    w = {k[2:-len(suffix)] if suffix else k[2:]: v for k, v in data.items()
         if k.startswith("w_") and k.endswith(suffix)}
    extra = {}
    if cfg.get("use_peepholes"):
        extra.update(w_f_diag=w["w_f_diag"], w_i_diag=w["w_i_diag"], w_o_diag=w["w_o_diag"])
    if cfg.get("num_proj"):
        extra.update(projection_kernel=w["projection_kernel"], proj_clip=cfg.get("proj_clip"))
    return lambda x, c, h: ref.lstm_step(x, c, h, w["kernel"], w["bias"], cfg["forget_bias"],
                                         cfg.get("activation", "tanh"), cell_clip=cfg.get("cell_clip"), **extra)


@pytest.mark.parametrize("name", sorted(CASES))
def test_numpy_reference_matches_tensorflow(name):
    """The oracle itself is held to TensorFlow, so agreeing with it means something."""
    cfg, data = CASES[name], golden_case("tf_cells", name)
    x, lengths, H = data["x"], data["lengths"], cfg["num_units"]
    P = cfg.get("num_proj") or H
    if cfg["kind"].startswith("bidirectional"):
        (o_fw, o_bw), ((c_fw, h_fw), (c_bw, h_bw)) = ref.bidirectional_dynamic_rnn(
            _reference_step(cfg, data, "_fw"), _reference_step(cfg, data, "_bw"), x, lengths,
            num_units=H, out_size=P)
        got = {"out_fw": o_fw, "out_bw": o_bw, "c_fw": c_fw, "h_fw": h_fw, "c_bw": c_bw, "h_bw": h_bw}
    elif cfg["kind"].startswith("MultiRNNCell"):
        got, inp = {}, x
        for k in range(cfg["layers"]):
            inp, (c, h) = ref.dynamic_rnn(_reference_step(cfg, data, f"_l{k}"), inp, lengths, num_units=H, out_size=P)
            got.update({f"c_l{k}": c, f"h_l{k}": h})
        got["outputs"] = inp
    else:
        out, (c, h) = ref.dynamic_rnn(_reference_step(cfg, data), x, lengths, data.get("x_c0"), data.get("x_h0"),
                                      num_units=H, out_size=P)
        got = {"outputs": out}
        if cfg.get("state_is_tuple", True):
            got.update(c=c, h=h)
        else:
            got["state_concat"] = np.concatenate([c, h], axis=1)
    for k, v in got.items():
        np.testing.assert_allclose(v, data[f"out_{k}"], rtol=0, atol=1e-9, err_msg=k)
