"""Zoneout on every cell (Krueger et al. 2017): evaluation is the expectation, training keeps each unit's previous
value where its mask says so, a seeded generator reproduces the masks, probabilities 0 are the plain cell."""
import numpy as np
import pytest
import torch

from lstmkit.nn import LSTM, BasicLSTMCell, LayerNormLSTMCell, LSTMCell, LSTMStateTuple, dynamic_rnn
from lstmkit.nn import reference as ref

F64 = torch.float64
B, T, I, H = 3, 6, 3, 4
LENGTHS = [6, 2, 4]


def _np(t):
    return t.detach().numpy()


def _make(kind, **kw):
    torch.manual_seed(0)
    cell = {"basic": lambda: BasicLSTMCell(I, H, forget_bias=0.5, dtype=F64, **kw),
            "peep": lambda: LSTMCell(I, H, use_peepholes=True, cell_clip=2.0, num_proj=2, dtype=F64, **kw),
            "layernorm": lambda: LayerNormLSTMCell(I, H, dtype=F64, **kw)}[kind]()
    with torch.no_grad():
        for p in cell.parameters():
            p.add_(torch.rand(p.shape, dtype=F64) - 0.5)
    return cell


def _ref_step(cell):
    p = {n: _np(v) for n, v in cell.named_parameters()}
    if isinstance(cell, LayerNormLSTMCell):
        return lambda x, c, h: ref.layer_norm_lstm_step(x, c, h, p["kernel"], p["bias"], p["gamma_x"], p["gamma_h"],
                                                        p["gamma_c"], p["beta_c"], cell.forget_bias)
    if isinstance(cell, LSTMCell):
        return lambda x, c, h: ref.lstm_step(x, c, h, p["kernel"], p["bias"], cell.forget_bias, "tanh",
                                             p["w_f_diag"], p["w_i_diag"], p["w_o_diag"], cell.cell_clip,
                                             p["projection_kernel"])
    return lambda x, c, h: ref.lstm_step(x, c, h, p["kernel"], p["bias"], cell.forget_bias)


KINDS = ["basic", "peep", "layernorm"]


@pytest.mark.parametrize("kind", KINDS)
def test_evaluation_is_the_expectation(kind):
    cell = _make(kind, zoneout_c=0.3, zoneout_h=0.6).eval()
    x = torch.randn(B, T, I, dtype=F64)
    out, st = dynamic_rnn(cell, x, LENGTHS)
    step = ref.zoneout(_ref_step(cell), 0.3, 0.6)
    r_out, (r_c, r_h) = ref.dynamic_rnn(step, _np(x), LENGTHS, num_units=H, out_size=cell.proj_size)
    np.testing.assert_allclose(_np(out), r_out, atol=1e-12)
    np.testing.assert_allclose(_np(st.c), r_c, atol=1e-12)
    np.testing.assert_allclose(_np(st.h), r_h, atol=1e-12)


@pytest.mark.parametrize("kind", KINDS)
def test_training_keeps_the_masked_units_and_matches_the_reference(kind):
    gen = torch.Generator().manual_seed(7)
    cell = _make(kind, zoneout_c=0.4, zoneout_h=0.3, generator=gen).train()
    x = torch.randn(B, T, I, dtype=F64)
    keep_c, keep_h = cell.zoneout_masks(B, T, x)                 # what the loop will draw, from the same seed
    assert keep_c.shape == (B, T, H) and keep_h.shape == (B, T, cell.proj_size) and keep_c.dtype == torch.bool
    assert 0 < keep_c.float().mean() < 1
    gen.manual_seed(7)
    out, st = dynamic_rnn(cell, x, LENGTHS)
    order = [(b, t) for b, n in enumerate(LENGTHS) for t in range(n)]    # the oracle's order: b, then t
    step = ref.zoneout(_ref_step(cell), keep=lambda k: (_np(keep_c[order[k]]), _np(keep_h[order[k]])))
    r_out, (r_c, r_h) = ref.dynamic_rnn(step, _np(x), LENGTHS, num_units=H, out_size=cell.proj_size)
    np.testing.assert_allclose(_np(out), r_out, atol=1e-12)
    np.testing.assert_allclose(_np(st.c), r_c, atol=1e-12)
    np.testing.assert_allclose(_np(st.h), r_h, atol=1e-12)
    # a kept unit of h is exactly its previous value
    for t in range(1, 6):
        kept = keep_h[0, t]
        assert torch.equal(out[0, t][kept], out[0, t - 1][kept])


@pytest.mark.parametrize("kind", KINDS)
def test_a_seed_reproduces_the_masks_and_another_seed_differs(kind):
    x = torch.randn(B, T, I, dtype=F64)

    def run(seed):
        cell = _make(kind, zoneout_c=0.5, zoneout_h=0.5, generator=torch.Generator().manual_seed(seed)).train()
        return dynamic_rnn(cell, x, LENGTHS)[0]

    assert torch.equal(run(1), run(1))
    assert not torch.equal(run(1), run(2))
    # without a generator of its own, PyTorch's default one: torch.manual_seed reproduces them
    cell = _make(kind, zoneout_c=0.5).train()
    torch.manual_seed(3)
    a = dynamic_rnn(cell, x)[0]
    torch.manual_seed(3)
    assert torch.equal(a, dynamic_rnn(cell, x)[0])


@pytest.mark.parametrize("kind", KINDS)
def test_probabilities_zero_are_the_plain_cell(kind):
    plain, zero = _make(kind), _make(kind, zoneout_c=0.0, zoneout_h=0.0)
    x = torch.randn(B, T, I, dtype=F64)
    for mode in ("train", "eval"):
        getattr(zero, mode)()
        assert torch.equal(dynamic_rnn(plain, x, LENGTHS)[0], dynamic_rnn(zero, x, LENGTHS)[0])
    assert not zero.zoneout and zero.zoneout_masks(B, T, x) is None


def test_gradcheck_in_training_with_fixed_masks():
    gen = torch.Generator()
    cell = _make("layernorm", zoneout_c=0.4, zoneout_h=0.4, generator=gen).train()

    def run(x, c0, h0):
        gen.manual_seed(5)                                           # the same masks at every call
        out, st = dynamic_rnn(cell, x, [4, 2, 3], LSTMStateTuple(c0, h0))
        return out, st.c

    args = [torch.randn(*s, dtype=F64, requires_grad=True) for s in ((3, 4, I), (3, H), (3, H))]
    assert torch.autograd.gradcheck(run, args)


def test_one_step_calls_draw_their_own_masks_in_training():
    cell = _make("basic", zoneout_c=0.5, generator=torch.Generator().manual_seed(0)).train()
    x, st = torch.randn(5, I, dtype=F64), LSTMStateTuple(torch.randn(5, H, dtype=F64), torch.randn(5, H, dtype=F64))
    _, new = cell(x, st)
    kept = new.c == st.c
    assert kept.any() and not kept.all()


def test_zoneout_takes_the_step_loop_and_bad_values_are_errors():
    lstm = LSTM(3, 4, zoneout_c=0.1, zoneout_h=0.1)
    assert not lstm.fused and lstm.fused_blocker == "zoneout"
    assert LSTM(3, 4, zoneout_c=0.0).fused
    with pytest.raises(ValueError, match="fused=True but the fused kernel cannot run this: zoneout"):
        LSTM(3, 4, zoneout_h=0.2, fused=True)
    with pytest.raises(ValueError, match=r"BasicLSTMCell: zoneout_c must be a number in \[0, 1\), got 1.0"):
        BasicLSTMCell(3, 4, zoneout_c=1.0)
    with pytest.raises(ValueError, match=r"LSTMCell: zoneout_h must be a number in \[0, 1\), got -0.1"):
        LSTMCell(3, 4, zoneout_h=-0.1)
    with pytest.raises(TypeError, match="generator must be a torch.Generator or None, got int"):
        LayerNormLSTMCell(3, 4, generator=0)
    assert "zoneout_c=0.1, zoneout_h=0.1" in repr(lstm.cell(0))


@pytest.mark.parametrize("p", [0.05, 0.3, 0.7])
def test_the_masks_keep_each_unit_with_its_probability(p):
    """Two 15-bit numbers from each draw of the generator: every unit kept with probability p (to 1/32768), the
    even and the odd units alike (the two halves of a draw), neighbours independent."""
    from lstmkit.nn.zoneout import _bernoulli

    n = 400_000
    keep = _bernoulli((n,), p, torch.Generator().manual_seed(0), "cpu").double()
    se = (p * (1 - p) / n) ** 0.5
    assert abs(keep.mean() - p) < 5 * se
    assert abs(keep[0::2].mean() - p) < 5 * se * 2 ** 0.5 and abs(keep[1::2].mean() - p) < 5 * se * 2 ** 0.5
    both = (keep[0::2] * keep[1::2]).mean()                          # the two units of one draw
    assert abs(both - p * p) < 5 * (p * p * (1 - p * p) / (n // 2)) ** 0.5
    assert _bernoulli((3, 5), 0.0, None, "cpu") is None
    odd = _bernoulli((3, 5, 7), 0.5, torch.Generator().manual_seed(1), "cpu")
    assert odd.shape == (3, 5, 7) and odd.dtype == torch.bool
