"""The step loop's fast path (one autograd node, hand-written backward) against the plain loop it replaces: every
cell and option, with and without lengths, zoneout in training and evaluation, outputs, final states and every
gradient equal to 1e-12 in float64; gradcheck through it; the paths the LSTM reports."""
import pytest
import torch

from lstmkit.nn import LSTM, BasicLSTMCell, LSTMStateTuple, dynamic_rnn
from lstmkit.nn.fast import fast_blocker
from lstmkit.nn.rnn import loop_stack

F64 = torch.float64
CELLS = [
    {"cell": "basic"},
    {"cell": "basic", "activation": "relu"},
    {"cell": "basic", "activation": "sigmoid"},
    {"cell": "lstm", "use_peepholes": True},
    {"cell": "lstm", "use_peepholes": True, "cell_clip": 0.3, "num_proj": 3, "proj_clip": 0.2},
    {"cell": "lstm", "num_proj": 3, "activation": "relu"},
    {"cell": "layernorm"},
    {"cell": "layernorm", "zoneout_c": 0.3, "zoneout_h": 0.4},
    {"cell": "basic", "zoneout_c": 0.5, "zoneout_h": 0.2},
    {"cell": "lstm", "use_peepholes": True, "cell_clip": 0.5, "num_proj": 3, "zoneout_c": 0.5, "zoneout_h": 0.2},
]


def _lstm(opts, gen, seed=0):
    torch.manual_seed(seed)
    lstm = LSTM(3, 4, num_layers=2, bidirectional=True, dtype=F64, generator=gen, forget_bias=0.3, **opts)
    with torch.no_grad():
        for p in lstm.parameters():
            p.add_(torch.rand(p.shape, dtype=F64) - 0.5)
    return lstm


@pytest.mark.parametrize("opts", CELLS, ids=lambda o: ",".join(f"{k}={v}" for k, v in o.items()))
@pytest.mark.parametrize("training", [False, True])
@pytest.mark.parametrize("lengths", [None, [5, 2, 4]])
def test_fast_path_equals_the_plain_loop(opts, training, lengths):
    gen = torch.Generator()
    lstm = _lstm(opts, gen).train(training)
    x = torch.randn(3, 5, 3, dtype=F64, requires_grad=True)
    lens = None if lengths is None else torch.tensor(lengths)
    init = [[LSTMStateTuple(torch.randn(3, 4, dtype=F64), torch.randn(3, c.proj_size, dtype=F64)) for c in layer]
            for layer in lstm.layers]
    weights = torch.randn(3, 5, 2 * lstm.cell(0).proj_size, dtype=F64)
    results = []
    for fast in (True, False):
        gen.manual_seed(0)                                   # the same zoneout masks on both paths
        out, final = loop_stack(lstm.layers, x, lens, init, fast=fast)
        states = torch.cat([torch.cat([s.c, s.h], 1) for layer in final for s in layer], 1)
        loss = (out * weights).sum() + states.square().sum()
        results.append((out, states, torch.autograd.grad(loss, [x, *lstm.parameters()])))
    (out_f, st_f, g_f), (out_p, st_p, g_p) = results
    torch.testing.assert_close(out_f, out_p, atol=1e-12, rtol=0)
    torch.testing.assert_close(st_f, st_p, atol=1e-12, rtol=0)
    for (name, _), a, b in zip([("x", None), *lstm.named_parameters()], g_f, g_p):
        torch.testing.assert_close(a, b, atol=1e-12, rtol=0, msg=name)
    if lens is not None:
        assert not out_f[1, 2:].any(), "outputs past each length are zero"


@pytest.mark.parametrize("opts", [CELLS[4], CELLS[7]], ids=["lstm-everything", "layernorm-zoneout"])
def test_gradcheck_through_the_fast_path(opts):
    gen = torch.Generator()
    torch.manual_seed(1)
    lstm = LSTM(2, 3, dtype=F64, generator=gen, **opts).train()
    cell = lstm.cell(0)
    params = dict(cell.named_parameters())

    def run(x, c0, h0, *values):
        gen.manual_seed(3)                                   # the same zoneout masks at every call
        out, st = _functional_rnn(cell, dict(zip(params, values)), x, c0, h0)
        return out, st.c, st.h

    args = [torch.randn(*s, dtype=F64, requires_grad=True) for s in ((3, 4, 2), (3, 3), (3, cell.proj_size))]
    values = [p.detach().clone().requires_grad_(True) for p in params.values()]
    assert torch.autograd.gradcheck(run, (*args, *values))


def _functional_rnn(cell, values, x, c0, h0):
    """dynamic_rnn with the cell's parameters replaced by ``values`` (so gradcheck reaches them)."""
    saved = {name: getattr(cell, name) for name in values}
    try:
        for name, value in values.items():
            cell._parameters[name] = value
        return dynamic_rnn(cell, x, [4, 2, 3], LSTMStateTuple(c0, h0))
    finally:
        for name, value in saved.items():
            cell._parameters[name] = value


def test_the_lstm_says_which_path_ran():
    x = torch.randn(2, 4, 3)
    lstm = LSTM(3, 4, cell="lstm", use_peepholes=True)
    lstm(x)
    assert lstm.last_path == "fast"
    lstm.use_fast = False
    lstm(x)
    assert lstm.last_path == "loop"
    fused = LSTM(3, 4)
    fused(x)
    assert fused.last_path == "fused"
    odd = LSTM(3, 4, activation=torch.nn.functional.softsign)
    odd(x)
    assert odd.last_path == "loop"
    assert fast_blocker(odd.cell(0)).startswith("a callable activation")
    assert fast_blocker(BasicLSTMCell(3, 4)) is None


def test_inference_takes_no_graph_and_autocast_takes_the_plain_loop():
    lstm = LSTM(3, 4, cell="layernorm")
    x = torch.randn(2, 4, 3)
    with torch.no_grad():
        out, _ = lstm(x)
    assert out.grad_fn is None
    out, _ = lstm(x)
    assert type(out.grad_fn).__name__ == "_FastLoopBackward"
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out, _ = lstm(x)
    assert out.grad_fn is None or type(out.grad_fn).__name__ != "_FastLoopBackward"


@pytest.mark.parametrize("opts", CELLS, ids=lambda o: ",".join(f"{k}={v}" for k, v in o.items()))
@pytest.mark.parametrize("batch", [1, 3])
def test_inference_equals_the_plain_loop(opts, batch):
    """Without a graph the fast path takes its inference loops (B=1 included): the same numbers."""
    lstm = _lstm(opts, torch.Generator()).eval()
    x = torch.randn(batch, 5, 3, dtype=F64)
    for lens in (None, torch.tensor([5, 2, 4][:batch])):
        with torch.no_grad():
            out_f, fin_f = loop_stack(lstm.layers, x, lens, None, fast=True)
            out_p, fin_p = loop_stack(lstm.layers, x, lens, None, fast=False)
        torch.testing.assert_close(out_f, out_p, atol=1e-12, rtol=0)
        for a, b in zip(fin_f, fin_p):
            torch.testing.assert_close(a[1].c, b[1].c, atol=1e-12, rtol=0)


@pytest.mark.parametrize("opts", CELLS, ids=lambda o: ",".join(f"{k}={v}" for k, v in o.items()))
def test_float32_agrees_with_the_plain_loop(opts):
    """float32, what training runs in: the same kernels (some take other paths than float64's)."""
    gen = torch.Generator()
    lstm = _lstm(opts, gen).float().train()
    x = torch.randn(3, 5, 3, requires_grad=True)
    results = []
    for fast in (True, False):
        gen.manual_seed(0)
        out, _ = loop_stack(lstm.layers, x, torch.tensor([5, 2, 4]), None, fast=fast)
        results.append((out, torch.autograd.grad(out.square().sum(), [x, *lstm.parameters()])))
    torch.testing.assert_close(results[0][0], results[1][0], atol=1e-5, rtol=1e-5)
    for a, b in zip(results[0][1], results[1][1]):
        torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("opts", CELLS, ids=lambda o: ",".join(f"{k}={v}" for k, v in o.items()))
def test_the_scripted_inference_loop_equals_the_python_one(opts, monkeypatch):
    """Inference runs :func:`_infer_steps` through TorchScript where it can, a compiled copy per kind of cell: the
    same numbers as the function run as Python (what ``LSTMKIT_TORCHSCRIPT=0`` and a PyTorch without TorchScript
    get)."""
    from lstmkit.nn import fast, fast_infer

    cell = _lstm(opts, torch.Generator()).eval().cell(0)
    spec, params = fast._spec_and_params(cell)
    x_proj = torch.randn(2, 6, 4 * spec.H, dtype=F64)
    c, h = torch.randn(2, spec.H, dtype=F64), torch.randn(2, spec.P, dtype=F64)
    zc, zh = cell.zoneout_c, cell.zoneout_h
    for b in (1, 2):
        script = fast_infer.infer(x_proj[:b], c[:b], h[:b], params, spec, zc, zh)
        with monkeypatch.context() as m:
            m.setattr(fast_infer, "_SCRIPTED", {})
            m.setenv("LSTMKIT_TORCHSCRIPT", "0")
            plain = fast_infer.infer(x_proj[:b], c[:b], h[:b], params, spec, zc, zh)
            assert all(fn is fast_infer._infer_steps for fn in fast_infer._SCRIPTED.values())
        for a, b_ in zip(script, plain):
            torch.testing.assert_close(a, b_, atol=1e-12, rtol=0)
    assert isinstance(next(iter(fast_infer._SCRIPTED.values())), torch.jit.ScriptFunction)
    assert len({id(f) for f in fast_infer._SCRIPTED.values()}) == len(fast_infer._SCRIPTED), "a compiled copy per kind"
