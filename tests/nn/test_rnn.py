"""Loops over time: fused kernel vs step loop, torch.nn.LSTM with converted weights, lengths, errors."""
import numpy as np
import pytest
import torch

from lstmkit.nn import (LSTM, BasicLSTMCell, LSTMStateTuple, MultiRNNCell, bidirectional_dynamic_rnn,
                        dynamic_rnn, last_hidden, reverse_within_lengths, tf_to_torch_weights)

F64 = torch.float64


def _rand_lengths(B, T, gen):
    lengths = torch.randint(1, T + 1, (B,), generator=gen)
    lengths[0] = T
    return lengths


def _randomize(module):
    with torch.no_grad():
        for p in module.parameters():
            p.uniform_(-0.5, 0.5)


@pytest.mark.parametrize("seed", range(6))
def test_fused_equals_loop_random_sizes(seed):
    gen = torch.Generator().manual_seed(seed)
    B, T, I, H = (int(v) for v in torch.randint(1, 9, (4,), generator=gen))
    L = 1 + seed % 3
    bidi = seed % 2 == 1
    proj = {"cell": "lstm", "num_proj": max(1, H - 1)} if seed in (2, 5) and H > 1 else {}
    lstm = LSTM(I, H, num_layers=L, bidirectional=bidi, dtype=F64, forget_bias=0.3 * seed, **proj)
    _randomize(lstm)
    x = torch.randn(B, T, I, dtype=F64, generator=gen, requires_grad=True)
    lengths = _rand_lengths(B, T, gen)
    assert lstm.fused
    out_f, st_f = lstm(x, lengths)
    g_f = torch.autograd.grad(out_f.square().sum() + last_hidden(st_f).sum(), [x, *lstm.parameters()])
    lstm.use_fused, lstm.use_fast = False, False     # the plain loop: the reference of the other two paths
    out_l, st_l = lstm(x, lengths)
    assert lstm.last_path == "loop"
    g_l = torch.autograd.grad(out_l.square().sum() + last_hidden(st_l).sum(), [x, *lstm.parameters()])
    torch.testing.assert_close(out_f, out_l, atol=1e-12, rtol=0)
    for a, b in zip(g_f, g_l):
        torch.testing.assert_close(a, b, atol=1e-11, rtol=0)
    assert out_f.shape == (B, T, (2 if bidi else 1) * lstm.cell(0).output_size)
    pad = torch.arange(T) >= lengths.unsqueeze(1)
    assert not out_f[pad].any(), "outputs past each length are zero"


@pytest.mark.parametrize("seed", range(4))
def test_packed_variable_lengths_equal_the_loop(seed):
    """The path CUDA takes for variable lengths (one packed sequence), forced here on CPU."""
    from lstmkit.nn.fused import fused_stack
    from lstmkit.nn.rnn import loop_stack

    gen = torch.Generator().manual_seed(100 + seed)
    B, T, I, H = 6, 7, 5, 4
    L, bidi = 1 + seed % 2, seed >= 2
    proj = {"cell": "lstm", "num_proj": 3} if seed in (1, 2) else {}
    lstm = LSTM(I, H, num_layers=L, bidirectional=bidi, dtype=F64, forget_bias=0.7, **proj)
    _randomize(lstm)
    P = lstm.cell(0).output_size
    x = torch.randn(B, T, I, dtype=F64, generator=gen, requires_grad=True)
    lengths = torch.tensor([3, 7, 1, 7, 5, 2])
    init = [[LSTMStateTuple(torch.randn(B, H, dtype=F64, generator=gen), torch.randn(B, P, dtype=F64, generator=gen))
             for _ in layer] for layer in lstm.layers]
    results = []
    for run in (lambda: fused_stack(lstm.layers, x, lengths, init, packed=True),
                lambda: loop_stack(lstm.layers, x, lengths, init)):
        out, final = run()
        states = torch.cat([torch.cat([st.c, st.h], 1) for layer in final for st in layer], 1)
        results.append((out, states, torch.autograd.grad(out.square().sum() + states.sum(), [x, *lstm.parameters()])))
    (out_p, st_p, g_p), (out_l, st_l, g_l) = results
    torch.testing.assert_close(out_p, out_l, atol=1e-12, rtol=0)
    torch.testing.assert_close(st_p, st_l, atol=1e-12, rtol=0)
    for a, b in zip(g_p, g_l):
        torch.testing.assert_close(a, b, atol=1e-11, rtol=0)


def test_matches_torch_nn_lstm_with_converted_weights():
    B, T, I, H, L = 5, 9, 6, 7, 2
    ours = LSTM(I, H, num_layers=L, bidirectional=True, dtype=F64, forget_bias=1.0)
    _randomize(ours)
    theirs = torch.nn.LSTM(I, H, num_layers=L, bidirectional=True, batch_first=True, dtype=F64)
    with torch.no_grad():
        for k in range(L):
            for d, sfx in enumerate(["", "_reverse"]):
                w_ih, w_hh, b_ih, b_hh = tf_to_torch_weights(ours.cell(k, d))
                getattr(theirs, f"weight_ih_l{k}{sfx}").copy_(w_ih)
                getattr(theirs, f"weight_hh_l{k}{sfx}").copy_(w_hh)
                getattr(theirs, f"bias_ih_l{k}{sfx}").copy_(b_ih)
                getattr(theirs, f"bias_hh_l{k}{sfx}").copy_(b_hh)
    x = torch.randn(B, T, I, dtype=F64)
    lengths = torch.tensor([9, 3, 9, 1, 6])
    packed = torch.nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
    out_t, (h_t, c_t) = theirs(packed)
    out_t, _ = torch.nn.utils.rnn.pad_packed_sequence(out_t, batch_first=True, total_length=T)
    for use_fused in (True, False):
        ours.use_fused = use_fused
        out, states = ours(x, lengths)
        torch.testing.assert_close(out, out_t, atol=1e-12, rtol=0)
        for k in range(L):
            for d in range(2):
                torch.testing.assert_close(states[k][d].h, h_t[2 * k + d], atol=1e-12, rtol=0)
                torch.testing.assert_close(states[k][d].c, c_t[2 * k + d], atol=1e-12, rtol=0)


def test_gradients_reach_every_parameter_the_inputs_and_the_initial_state():
    for use_fused in (True, False):
        lstm = LSTM(3, 4, num_layers=2, dtype=F64, fused=use_fused)
        x = torch.randn(2, 5, 3, dtype=F64, requires_grad=True)
        init = tuple(LSTMStateTuple(torch.randn(2, 4, dtype=F64, requires_grad=True),
                                    torch.randn(2, 4, dtype=F64, requires_grad=True)) for _ in range(2))
        out, _ = lstm(x, [5, 2], init)
        leaves = [x, *lstm.parameters(), *(t for st in init for t in st)]
        grads = torch.autograd.grad(out.sum(), leaves)
        assert all(g is not None and g.abs().sum() > 0 for g in grads)


@pytest.mark.parametrize("fused", [True, False])
def test_gradcheck_inputs_and_initial_state(fused):
    """Weights' gradients are held to TensorFlow's by the golden tests; here: x and the initial state."""
    cell = BasicLSTMCell(2, 3, forget_bias=0.5, dtype=F64)
    _randomize(cell)

    def run(x, c0, h0):
        out, st = dynamic_rnn(cell, x, [4, 2, 3], LSTMStateTuple(c0, h0), fused=fused)
        return out, st.c, st.h

    x = torch.randn(3, 4, 2, dtype=F64, requires_grad=True)
    c0 = torch.randn(3, 3, dtype=F64, requires_grad=True)
    h0 = torch.randn(3, 3, dtype=F64, requires_grad=True)
    assert torch.autograd.gradcheck(run, (x, c0, h0))


def test_copy_through_final_state_is_the_last_valid_step():
    cell = BasicLSTMCell(3, 4, dtype=F64)
    x = torch.randn(3, 6, 3, dtype=F64)
    out, st = dynamic_rnn(cell, x, [6, 2, 4])
    for b, n in enumerate([6, 2, 4]):
        alone, st_b = dynamic_rnn(cell, x[b:b + 1, :n])
        torch.testing.assert_close(out[b, :n], alone[0], atol=1e-12, rtol=0)
        torch.testing.assert_close(st.h[b], st_b.h[0], atol=1e-12, rtol=0)
        torch.testing.assert_close(st.c[b], st_b.c[0], atol=1e-12, rtol=0)
        torch.testing.assert_close(st.h[b], out[b, n - 1], atol=1e-12, rtol=0)


def test_backward_direction_never_reads_padding():
    fw, bw = BasicLSTMCell(3, 4, dtype=F64), BasicLSTMCell(3, 4, dtype=F64)
    x = torch.randn(2, 5, 3, dtype=F64)
    lengths = [5, 3]
    noisy = x.clone()
    noisy[1, 3:] = 1e3  # padding garbage must change nothing
    for fused in (True, False):
        (o_fw, o_bw), (s_fw, s_bw) = bidirectional_dynamic_rnn(fw, bw, x, lengths, fused=fused)
        (n_fw, n_bw), (t_fw, t_bw) = bidirectional_dynamic_rnn(fw, bw, noisy, lengths, fused=fused)
        torch.testing.assert_close(o_bw, n_bw, atol=0, rtol=0)
        torch.testing.assert_close(s_bw.h, t_bw.h, atol=0, rtol=0)
        # out_bw[1, 0] is the backward cell after reading steps 2, 1, 0 of sequence 1
        alone, _ = dynamic_rnn(bw, x[1:2, :3].flip(1))
        torch.testing.assert_close(o_bw[1, 0], alone[0, -1], atol=1e-12, rtol=0)


def test_reverse_within_lengths_is_its_own_inverse():
    x = torch.arange(12.0).view(2, 6, 1)
    r = reverse_within_lengths(x, torch.tensor([6, 4]))
    assert r[1, :, 0].tolist() == [9.0, 8.0, 7.0, 6.0, 10.0, 11.0]
    assert torch.equal(reverse_within_lengths(r, torch.tensor([6, 4])), x)


def test_time_major_and_multi_rnn_cell_and_non_tuple_state():
    cells = [BasicLSTMCell(3, 4, dtype=F64), BasicLSTMCell(4, 4, state_is_tuple=False, dtype=F64)]
    multi = MultiRNNCell(cells)
    x = torch.randn(2, 5, 3, dtype=F64)
    out_b, st_b = dynamic_rnn(multi, x, [5, 3])
    out_t, st_t = dynamic_rnn(multi, x.transpose(0, 1), [5, 3], time_major=True)
    torch.testing.assert_close(out_t.transpose(0, 1), out_b)
    assert isinstance(st_b[0], LSTMStateTuple) and st_b[1].shape == (2, 8)
    out_l, st_l = dynamic_rnn(multi, x, [5, 3], fused=False)
    torch.testing.assert_close(out_l, out_b, atol=1e-12, rtol=0)
    torch.testing.assert_close(st_l[1], st_b[1], atol=1e-12, rtol=0)


def test_unfusable_cells_take_the_loop_and_say_why():
    lstm = LSTM(3, 4, cell="lstm", use_peepholes=True)
    assert not lstm.fused and lstm.fused_blocker == "peepholes"
    lstm(torch.randn(2, 3, 3))
    assert lstm.last_path == "fast"
    with pytest.raises(ValueError, match="fused=True but the fused kernel cannot run this: cell_clip"):
        LSTM(3, 4, cell="lstm", cell_clip=1.0, fused=True)
    with pytest.raises(ValueError, match="activation 'relu'"):
        dynamic_rnn(BasicLSTMCell(3, 4, activation="relu"), torch.randn(1, 2, 3), fused=True)
    assert LSTM(3, 4).fused and LSTM(3, 4, cell="lstm", num_proj=2).fused


def test_inference_cache_follows_parameter_updates():
    lstm = LSTM(3, 4).eval()
    x = torch.randn(2, 5, 3)
    with torch.no_grad():
        a, _ = lstm(x)
        lstm.cell(0).bias.add_(0.5)
        b, _ = lstm(x)
        lstm.use_fused = False
        c, _ = lstm(x)
    assert not torch.allclose(a, b)
    torch.testing.assert_close(b, c, atol=1e-6, rtol=0)


def test_dtype_follows_inputs_and_dropout_only_in_training():
    lstm = LSTM(3, 4, num_layers=3, dropout=0.5, dtype=F64)
    x = torch.randn(2, 5, 3, dtype=F64)
    lstm.eval()
    a, _ = lstm(x)
    assert a.dtype == F64
    b, _ = lstm(x)
    assert torch.equal(a, b)
    lstm.train()
    c, _ = lstm(x)
    assert not torch.allclose(a, c)
    lstm.use_fused = False
    d, _ = lstm(x)
    assert not torch.allclose(a, d)


def test_param_counts_per_layer_and_direction():
    lstm = LSTM(28, 128, num_layers=2, bidirectional=True)
    rows = lstm.param_counts()
    assert [r.name for r in rows] == ["layer 0 fw BasicLSTMCell", "layer 0 bw BasicLSTMCell",
                                      "layer 1 fw BasicLSTMCell", "layer 1 bw BasicLSTMCell"]
    assert rows[0].formula == "(28 + 128) * 4*128 + 4*128 = 80,384"
    assert rows[2].formula == "(256 + 128) * 4*128 + 4*128 = 197,120"
    assert lstm.param_count().total == sum(p.numel() for p in lstm.parameters()) == 555_008


@pytest.mark.parametrize("call,exc,match", [
    (lambda: dynamic_rnn(BasicLSTMCell(28, 8), torch.randn(4, 28)), ValueError,
     r"dynamic_rnn: inputs must be \(B, T, 28\) for BasicLSTMCell\(input_size=28.*got \(4, 28\)"),
    (lambda: dynamic_rnn(BasicLSTMCell(28, 8), torch.randn(4, 3, 27)), ValueError, r"got \(4, 3, 27\)"),
    (lambda: dynamic_rnn(BasicLSTMCell(3, 8), torch.ones(4, 3, 3, dtype=torch.long)), TypeError,
     "inputs must be floating point"),
    (lambda: dynamic_rnn(BasicLSTMCell(3, 8), torch.randn(2, 4, 3), lengths=[4, 5]), ValueError,
     r"lengths must lie in 1..4 \(T\), got values from 4 to 5"),
    (lambda: dynamic_rnn(BasicLSTMCell(3, 8), torch.randn(2, 4, 3), lengths=[0, 4]), ValueError,
     "lengths must lie in 1..4"),
    (lambda: dynamic_rnn(BasicLSTMCell(3, 8), torch.randn(2, 4, 3), lengths=[4, 4, 4]), ValueError,
     r"lengths must be \(2,\) \(one per sequence\), got \(3,\)"),
    (lambda: dynamic_rnn(BasicLSTMCell(3, 8), torch.randn(2, 4, 3), lengths=[1.5, 2.0]), TypeError,
     "lengths must be integers"),
    (lambda: dynamic_rnn(BasicLSTMCell(3, 8), torch.randn(2, 4, 3),
                         initial_state=LSTMStateTuple(torch.zeros(2, 8), torch.zeros(2, 5))), ValueError,
     r"dynamic_rnn: state must be LSTMStateTuple\(c \(B, 8\), h \(B, 8\)\).*got c \(2, 8\), h \(2, 5\)"),
    (lambda: dynamic_rnn(BasicLSTMCell(3, 8), torch.randn(2, 4, 3, dtype=F64)), TypeError,
     "inputs are torch.float64 on cpu but the parameters are torch.float32"),
    (lambda: dynamic_rnn(torch.nn.Linear(3, 3), torch.randn(2, 4, 3)), TypeError,
     "cell must be a BasicLSTMCell, LSTMCell, LayerNormLSTMCell or MultiRNNCell, got Linear"),
    (lambda: bidirectional_dynamic_rnn(BasicLSTMCell(3, 8), BasicLSTMCell(4, 8), torch.randn(2, 4, 3)), ValueError,
     "cell_fw and cell_bw must read the same input size"),
    (lambda: LSTM(3, 4, dropout=1.0), ValueError, r"dropout must be a number in \[0, 1\)"),
    (lambda: LSTM(3, 4, cell="gru"), ValueError, "cell must be one of"),
    (lambda: LSTM(3, 4)(torch.randn(2, 5, 3), initial_state=(1, 2)), TypeError,
     "initial_state must be a tuple of 1 layer states"),
    (lambda: LSTM(3, 4, fused="yes"), ValueError, "fused must be None"),
])
def test_errors_name_function_expected_and_received(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_lengths_accept_lists_arrays_and_tensors():
    cell = BasicLSTMCell(3, 4)
    x = torch.randn(2, 4, 3)
    ref, _ = dynamic_rnn(cell, x, [4, 2])
    for lengths in (np.array([4, 2]), torch.tensor([4, 2], dtype=torch.int32), (4, 2)):
        out, _ = dynamic_rnn(cell, x, lengths)
        assert torch.equal(out, ref)
