"""Cells by hand: one step against the NumPy oracle, state formats, parameter counts, gradcheck, errors."""
import numpy as np
import pytest
import torch

from lstmkit.nn import BasicLSTMCell, LSTMCell, LSTMStateTuple, MultiRNNCell
from lstmkit.nn import reference as ref


def _np(t):
    return t.detach().numpy()


@pytest.mark.parametrize("activation", ["tanh", "relu", "sigmoid"])
def test_basic_cell_step_matches_reference(activation):
    cell = BasicLSTMCell(3, 4, forget_bias=0.7, activation=activation, dtype=torch.float64)
    with torch.no_grad():
        cell.bias.normal_()
    x, c, h = torch.randn(2, 3, dtype=torch.float64), torch.randn(2, 4, dtype=torch.float64), torch.randn(
        2, 4, dtype=torch.float64)
    out, st = cell(x, LSTMStateTuple(c, h))
    for b in range(2):
        rc, rh = ref.lstm_step(_np(x[b]), _np(c[b]), _np(h[b]), _np(cell.kernel), _np(cell.bias), 0.7, activation)
        np.testing.assert_allclose(_np(st.c[b]), rc, atol=1e-12)
        np.testing.assert_allclose(_np(st.h[b]), rh, atol=1e-12)
    assert torch.equal(out, st.h)


def test_lstm_cell_step_with_everything_matches_reference():
    cell = LSTMCell(3, 5, use_peepholes=True, cell_clip=0.3, num_proj=2, proj_clip=0.2, dtype=torch.float64)
    with torch.no_grad():
        cell.bias.normal_()
    x = torch.randn(4, 3, dtype=torch.float64)
    st0 = LSTMStateTuple(torch.randn(4, 5, dtype=torch.float64), torch.randn(4, 2, dtype=torch.float64))
    out, st = cell(x, st0)
    assert out.shape == (4, 2) and st.c.shape == (4, 5)
    assert st.c.detach().abs().max() <= 0.3 and out.detach().abs().max() <= 0.2
    for b in range(4):
        rc, rh = ref.lstm_step(_np(x[b]), _np(st0.c[b]), _np(st0.h[b]), _np(cell.kernel), _np(cell.bias), 1.0,
                               "tanh", _np(cell.w_f_diag), _np(cell.w_i_diag), _np(cell.w_o_diag), 0.3,
                               _np(cell.projection_kernel), 0.2)
        np.testing.assert_allclose(_np(st.c[b]), rc, atol=1e-12)
        np.testing.assert_allclose(_np(out[b]), rh, atol=1e-12)


def test_shapes_and_layout():
    cell = BasicLSTMCell(28, 128)
    assert cell.kernel.shape == (156, 512) and cell.bias.shape == (512,)
    assert torch.count_nonzero(cell.bias) == 0, "bias is zeros at init, as TensorFlow's"
    assert cell.state_size == LSTMStateTuple(128, 128) and cell.output_size == 128
    proj = LSTMCell(10, 8, num_proj=3, use_peepholes=True)
    assert proj.kernel.shape == (13, 32) and proj.projection_kernel.shape == (8, 3)
    assert proj.w_f_diag.shape == (8,) and proj.state_size == (8, 3) and proj.output_size == 3


def test_state_is_tuple_false_is_concat_c_h():
    a = BasicLSTMCell(3, 4, dtype=torch.float64)
    b = BasicLSTMCell(3, 4, state_is_tuple=False, dtype=torch.float64)
    b.load_state_dict(a.state_dict())
    assert b.state_size == 8
    st = b.zero_state(2)
    assert st.shape == (2, 8)
    x = torch.randn(2, 3, dtype=torch.float64)
    h_a, st_a = a(x, a.zero_state(2))
    h_b, st_b = b(x, st)
    assert torch.equal(st_b, torch.cat([st_a.c, st_a.h], dim=1)) and torch.equal(h_a, h_b)


def test_zero_state_follows_arguments_then_parameters():
    cell = BasicLSTMCell(3, 4, dtype=torch.float64)
    st = cell.zero_state(5)
    assert isinstance(st, LSTMStateTuple) and st.c.dtype == torch.float64 and st.c.shape == (5, 4)
    assert cell.zero_state(5, dtype=torch.float32).h.dtype == torch.float32
    assert not torch.any(st.c) and not torch.any(st.h)


def test_param_count_shows_the_formula():
    pc = BasicLSTMCell(28, 128).param_count()
    assert pc.total == 80384 == sum(p.numel() for p in BasicLSTMCell(28, 128).parameters())
    assert pc.formula == "(28 + 128) * 4*128 + 4*128 = 80,384"
    assert pc.symbolic == "(I + H) * 4H + 4H"
    cell = LSTMCell(10, 8, use_peepholes=True, num_proj=3)
    pc = cell.param_count()
    assert pc.total == sum(p.numel() for p in cell.parameters()) == (10 + 3) * 32 + 32 + 24 + 24
    assert pc.formula == "(10 + 3) * 4*8 + 4*8 + 3*8 + 8*3 = 496"
    multi = MultiRNNCell([BasicLSTMCell(28, 128), BasicLSTMCell(128, 64)])
    assert multi.param_count().total == sum(p.numel() for p in multi.parameters())


def test_multi_rnn_cell_step_is_layer_by_layer():
    c0, c1 = BasicLSTMCell(3, 4), BasicLSTMCell(4, 2)
    multi = MultiRNNCell([c0, c1])
    x = torch.randn(5, 3)
    out, (s0, s1) = multi(x, multi.zero_state(5))
    h0, e0 = c0(x, c0.zero_state(5))
    h1, e1 = c1(h0, c1.zero_state(5))
    assert torch.equal(out, h1) and torch.equal(s0.c, e0.c) and torch.equal(s1.h, e1.h)
    assert multi.state_size == (LSTMStateTuple(4, 4), LSTMStateTuple(2, 2))


@pytest.mark.parametrize("make", [
    lambda: BasicLSTMCell(3, 2, forget_bias=0.5, dtype=torch.float64),
    lambda: BasicLSTMCell(3, 2, activation="relu", dtype=torch.float64),
    lambda: LSTMCell(3, 4, use_peepholes=True, cell_clip=5.0, num_proj=2, dtype=torch.float64),
])
def test_gradcheck_one_step(make):
    cell = make()
    with torch.no_grad():
        cell.bias.normal_()
    x = torch.randn(2, 3, dtype=torch.float64, requires_grad=True)
    c = torch.randn(2, cell.num_units, dtype=torch.float64, requires_grad=True)
    h = torch.randn(2, cell.proj_size, dtype=torch.float64, requires_grad=True)

    def step(x, c, h, *params):
        out, st = torch.func.functional_call(cell, dict(zip(names, params)), (x, LSTMStateTuple(c, h)))
        return out, st.c

    names = [n for n, _ in cell.named_parameters()]
    params = [p.detach().clone().requires_grad_(True) for _, p in cell.named_parameters()]
    assert torch.autograd.gradcheck(step, (x, c, h, *params))


def test_custom_callable_activation():
    cell = BasicLSTMCell(3, 4, activation=torch.nn.functional.softsign)
    h, st = cell(torch.randn(2, 3), cell.zero_state(2))
    assert h.shape == (2, 4)


@pytest.mark.parametrize("call,exc,match", [
    (lambda: BasicLSTMCell(0, 4), ValueError, "BasicLSTMCell: input_size must be a positive int, got 0"),
    (lambda: BasicLSTMCell(3, -1), ValueError, "num_units must be a positive int, got -1"),
    (lambda: BasicLSTMCell(3.5, 4), TypeError, "input_size must be a positive int, got float"),
    (lambda: BasicLSTMCell(3, 4, activation="gelu"), ValueError, "activation must be one of"),
    (lambda: LSTMCell(3, 4, proj_clip=1.0), ValueError, "proj_clip needs num_proj"),
    (lambda: LSTMCell(3, 4, cell_clip=-1.0), ValueError, "cell_clip must be a positive number"),
    (lambda: MultiRNNCell([]), ValueError, "at least one cell"),
    (lambda: MultiRNNCell([BasicLSTMCell(3, 4), BasicLSTMCell(5, 4)]), ValueError,
     r"cells\[1\].input_size must be 4"),
])
def test_constructor_errors(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_step_errors_name_expected_and_received():
    cell = BasicLSTMCell(28, 8)
    with pytest.raises(ValueError, match=r"BasicLSTMCell.__call__: inputs must be \(B, 28\).*got \(4, 10, 28\)"):
        cell(torch.randn(4, 10, 28), cell.zero_state(4))
    with pytest.raises(TypeError, match="floating-point"):
        cell(torch.ones(4, 28, dtype=torch.long), cell.zero_state(4))
    with pytest.raises(ValueError, match=r"state must be LSTMStateTuple\(c \(B, 8\), h \(B, 8\)\).*got c \(4, 7\)"):
        cell(torch.randn(4, 28), LSTMStateTuple(torch.zeros(4, 7), torch.zeros(4, 8)))
    with pytest.raises(ValueError, match="state batch size must be 4"):
        cell(torch.randn(4, 28), cell.zero_state(3))
    with pytest.raises(TypeError, match="state must be LSTMStateTuple"):
        cell(torch.randn(4, 28), torch.zeros(4, 16))
    flat = BasicLSTMCell(28, 8, state_is_tuple=False)
    with pytest.raises(ValueError, match=r"one \(B, 16\) tensor = concat\(c, h\)"):
        flat(torch.randn(4, 28), torch.zeros(4, 8))
