"""LayerNormLSTMCell: one step and whole sequences against the NumPy oracle (written from Ba et al. 2016), gradcheck,
lengths and directions, the LSTM, its parameter count, and what it refuses."""
import numpy as np
import pytest
import torch

from lstmkit.nn import (LSTM, CellConfig, LayerNormLSTMCell, LSTMStateTuple, MultiRNNCell, bidirectional_dynamic_rnn,
                        dynamic_rnn)
from lstmkit.nn import reference as ref

F64 = torch.float64


def _np(t):
    return t.detach().numpy()


def _cell(I=3, H=4, seed=0, **kw):
    torch.manual_seed(seed)
    cell = LayerNormLSTMCell(I, H, dtype=F64, **kw)
    with torch.no_grad():
        for p in cell.parameters():        # gains and shifts away from 1 and 0: each one is seen
            p.add_(torch.rand(p.shape, dtype=F64) - 0.5)
    return cell


def _ref_step(cell, activation="tanh"):
    def step(x, c, h):
        return ref.layer_norm_lstm_step(x, c, h, _np(cell.kernel), _np(cell.bias), _np(cell.gamma_x),
                                        _np(cell.gamma_h), _np(cell.gamma_c), _np(cell.beta_c), cell.forget_bias,
                                        activation)
    return step


@pytest.mark.parametrize("activation", ["tanh", "relu", "sigmoid"])
def test_one_step_matches_the_reference(activation):
    cell = _cell(forget_bias=0.7, activation=activation)
    x, c, h = (torch.randn(2, n, dtype=F64) for n in (3, 4, 4))
    out, st = cell(x, LSTMStateTuple(c, h))
    for b in range(2):
        rc, rh = _ref_step(cell, activation)(_np(x[b]), _np(c[b]), _np(h[b]))
        np.testing.assert_allclose(_np(st.c[b]), rc, atol=1e-12)
        np.testing.assert_allclose(_np(st.h[b]), rh, atol=1e-12)
    assert torch.equal(out, st.h)


def test_the_state_keeps_the_unnormalised_c():
    """haste's and the paper's choice (TF Addons carries LN(c) instead): c_t is the plain LSTM update."""
    cell = LayerNormLSTMCell(3, 4, forget_bias=0.0, dtype=F64)
    x, c, h = (torch.randn(2, n, dtype=F64) for n in (3, 4, 4))
    _, st = cell(x, LSTMStateTuple(c, h))
    g = cell.gates(x, h)
    i, j, f, _ = g.chunk(4, dim=1)
    torch.testing.assert_close(st.c, torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(j), atol=1e-12, rtol=0)
    assert not torch.allclose(st.c.mean(1), torch.zeros(2, dtype=F64), atol=1e-3)


@pytest.mark.parametrize("lengths", [None, [5, 2, 4]])
def test_dynamic_rnn_matches_the_reference(lengths):
    cell = _cell(forget_bias=0.5)
    x = torch.randn(3, 5, 3, dtype=F64)
    c0, h0 = torch.randn(3, 4, dtype=F64), torch.randn(3, 4, dtype=F64)
    out, st = dynamic_rnn(cell, x, lengths, LSTMStateTuple(c0, h0))
    r_out, (r_c, r_h) = ref.dynamic_rnn(_ref_step(cell), _np(x), lengths, _np(c0), _np(h0))
    np.testing.assert_allclose(_np(out), r_out, atol=1e-12)
    np.testing.assert_allclose(_np(st.c), r_c, atol=1e-12)
    np.testing.assert_allclose(_np(st.h), r_h, atol=1e-12)


def test_bidirectional_matches_the_reference():
    fw, bw = _cell(seed=1), _cell(seed=2)
    x = torch.randn(3, 6, 3, dtype=F64)
    lengths = [6, 1, 4]
    (o_fw, o_bw), (s_fw, s_bw) = bidirectional_dynamic_rnn(fw, bw, x, lengths)
    (r_fw, r_bw), (rs_fw, rs_bw) = ref.bidirectional_dynamic_rnn(_ref_step(fw), _ref_step(bw), _np(x), lengths,
                                                                num_units=4, out_size=4)
    np.testing.assert_allclose(_np(o_fw), r_fw, atol=1e-12)
    np.testing.assert_allclose(_np(o_bw), r_bw, atol=1e-12)
    np.testing.assert_allclose(_np(s_bw.c), rs_bw[0], atol=1e-12)
    np.testing.assert_allclose(_np(s_fw.h), rs_fw[1], atol=1e-12)


def test_lstm_layernorm_stacks_the_cell_and_multi_rnn_cell_agrees():
    torch.manual_seed(0)
    lstm = LSTM(3, 4, num_layers=2, cell="layernorm", dtype=F64)
    assert not lstm.fused and lstm.fused_blocker == "layer normalisation (LayerNormLSTMCell)"
    assert all(isinstance(c, LayerNormLSTMCell) for c in lstm.cells)
    x = torch.randn(2, 5, 3, dtype=F64)
    out, states = lstm(x, [5, 3])
    multi = MultiRNNCell([lstm.cell(0), lstm.cell(1)])
    out_m, st_m = dynamic_rnn(multi, x, [5, 3])
    torch.testing.assert_close(out, out_m, atol=1e-12, rtol=0)
    torch.testing.assert_close(states[1].c, st_m[1].c, atol=1e-12, rtol=0)
    assert not out[1, 3:].any()


def test_gradcheck_one_step_every_parameter():
    cell = _cell(I=2, H=3)
    x = torch.randn(2, 2, dtype=F64, requires_grad=True)
    c = torch.randn(2, 3, dtype=F64, requires_grad=True)
    h = torch.randn(2, 3, dtype=F64, requires_grad=True)
    names = [n for n, _ in cell.named_parameters()]
    assert names == ["kernel", "bias", "gamma_x", "gamma_h", "gamma_c", "beta_c"]

    def step(x, c, h, *params):
        out, st = torch.func.functional_call(cell, dict(zip(names, params)), (x, LSTMStateTuple(c, h)))
        return out, st.c

    params = [p.detach().clone().requires_grad_(True) for p in cell.parameters()]
    assert torch.autograd.gradcheck(step, (x, c, h, *params))


def test_gradcheck_through_a_sequence_with_lengths():
    cell = _cell(I=2, H=3)

    def run(x, c0, h0):
        out, st = dynamic_rnn(cell, x, [4, 2, 3], LSTMStateTuple(c0, h0))
        return out, st.c

    args = [torch.randn(*s, dtype=F64, requires_grad=True) for s in ((3, 4, 2), (3, 3), (3, 3))]
    assert torch.autograd.gradcheck(run, args)


def test_param_count_formula_and_init():
    cell = LayerNormLSTMCell(28, 128)
    pc = cell.param_count()
    assert pc.total == sum(p.numel() for p in cell.parameters()) == 156 * 512 + 512 + 1024 + 256
    assert pc.symbolic == "(I + H) * 4H + 4H + 8H + 2H"
    assert pc.formula == "(28 + 128) * 4*128 + 4*128 + 8*128 + 2*128 = 81,664"
    assert torch.equal(cell.gamma_x, torch.ones(512)) and not cell.beta_c.any() and not cell.bias.any()
    lstm = LSTM(28, 128, num_layers=2, bidirectional=True, cell="layernorm")
    assert lstm.param_count().total == sum(p.numel() for p in lstm.parameters())


def test_params_report_counts_the_layernorm_cell():
    from lstmkit.explain.params import params_report, params_table

    t = params_table(28, 128, cell="layernorm")
    assert t["tensorflow"]["total"] == 81_664 and t["pytorch"] is None and t["cell"] == "layernorm"
    text = params_report(28, 128, cell="layernorm")
    assert "(28 + 128) * 4*128 + 4*128 + 8*128 + 2*128 = 81,664" in text and "no layer normalisation" in text
    with pytest.raises(ValueError, match="num_proj and peepholes are options of cell 'lstm'"):
        params_table(28, 128, num_proj=4, cell="layernorm")


def test_cell_config_and_its_errors():
    cc = CellConfig.from_dict({"cell": "layernorm", "forget_bias": 0.0})
    assert cc.to_options() == {"cell": "layernorm", "forget_bias": 0.0}
    assert type(LSTM(3, 4, **cc.to_options()).cell(0)) is LayerNormLSTMCell
    with pytest.raises(ValueError, match=r"num_proj is an option of cell 'lstm' \(LSTMCell\); cell 'layernorm' "
                                         r"\(LayerNormLSTMCell\) has no num_proj"):
        CellConfig.from_dict({"cell": "layernorm", "num_proj": 2})
    with pytest.raises(ValueError, match="fused=True but the fused kernel cannot run this: layer normalisation"):
        LSTM(3, 4, cell="layernorm", fused=True)
    with pytest.raises(TypeError, match="unexpected keyword argument 'use_peepholes'"):
        LayerNormLSTMCell(3, 4, use_peepholes=True)
