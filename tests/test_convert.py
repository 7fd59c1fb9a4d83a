"""Weights between TF1, Keras and PyTorch: the Keras golden cases through conversion into lstmkit, the TF golden
cases through every format and back, and features a target cannot hold."""
import numpy as np
import pytest
import torch

from golden_data import golden_case, golden_manifest
from lstmkit.convert import (keras_masked_sequences, keras_to_tf, load_into_cell, tf_to_keras, tf_to_torch,
                             torch_to_tf)
from lstmkit.nn import LSTM, BasicLSTMCell, bidirectional_dynamic_rnn, dynamic_rnn

KERAS = golden_manifest("keras_lstm")
F64 = torch.float64


def _cell(d, prefix, input_size):
    w = keras_to_tf(d[f"w_{prefix}kernel"], d[f"w_{prefix}recurrent_kernel"], d[f"w_{prefix}bias"])
    cell = BasicLSTMCell(input_size, d[f"w_{prefix}recurrent_kernel"].shape[0], dtype=F64)
    load_into_cell(cell, w)
    assert cell.forget_bias == 0.0
    return cell


@pytest.mark.parametrize("fused", [True, False])
@pytest.mark.parametrize("name", sorted(KERAS))
def test_keras_golden_cases_through_conversion(name, fused):
    cfg, d = KERAS[name], golden_case("keras_lstm", name)
    x, lengths = torch.tensor(d["x"]), torch.as_tensor(d["lengths"])
    I = cfg["input_size"]
    if cfg["kind"].startswith("keras.layers.LSTM in Bidirectional"):
        fw, bw = _cell(d, "fw_", I), _cell(d, "bw_", I)
        (o_fw, o_bw), (s_fw, s_bw) = bidirectional_dynamic_rnn(fw, bw, x, lengths, fused=fused)
        # Keras's Bidirectional: zeros at masked steps, the backward outputs re-aligned, "concat" merge
        got = {"sequences": torch.cat([o_fw, o_bw], 2), "h_fw": s_fw.h, "c_fw": s_fw.c, "h_bw": s_bw.h,
               "c_bw": s_bw.c}
    else:
        cell = _cell(d, "", I)
        if cfg["go_backwards"]:
            # go_backwards reverses the whole sequence and keeps the outputs in that reversed order
            out, st = dynamic_rnn(cell, x.flip(1), fused=fused)
        elif cfg["masked"]:
            out, st = dynamic_rnn(cell, x, lengths, fused=fused)
            out = keras_masked_sequences(out, lengths)   # Keras repeats the last valid output when masked
        else:
            out, st = dynamic_rnn(cell, x, fused=fused)
        got = {"sequences": out, "h": st.h, "c": st.c}
    for k, v in got.items():
        np.testing.assert_allclose(v.detach().numpy(), d[f"out_{k}"], rtol=0, atol=1e-9, err_msg=k)


TF = golden_manifest("tf_cells")


@pytest.mark.parametrize("name", ["basic_tuple_varlen", "basic_concat_state_initstate", "lstmcell_plain",
                                  "basic_seed_example"])
def test_tf_golden_through_keras_and_torch_and_back(name):
    cfg, d = TF[name], golden_case("tf_cells", name)
    I, fb = cfg["input_size"], cfg["forget_bias"]
    keras = tf_to_keras(d["w_kernel"], d["w_bias"], I, fb)
    torch_w = tf_to_torch(d["w_kernel"], d["w_bias"], I, fb)
    back_k, back_t = keras_to_tf(**keras), torch_to_tf(**torch_w)
    folded = d["w_bias"].copy()
    H = cfg["num_units"]
    folded[2 * H:3 * H] += fb
    for back in (back_k, back_t):
        np.testing.assert_array_equal(back["kernel"], d["w_kernel"])
        np.testing.assert_allclose(back["bias"], folded, atol=1e-15)
    # the converted PyTorch weights reproduce TensorFlow's outputs in torch.nn.LSTM itself
    lstm = torch.nn.LSTM(I, H, batch_first=True, dtype=F64)
    with torch.no_grad():
        for k, v in torch_w.items():
            getattr(lstm, f"{k}_l0").copy_(torch.as_tensor(v))
    x, lengths = torch.tensor(d["x"]), torch.as_tensor(d["lengths"])
    h0 = (torch.tensor(d["x_h0"]).unsqueeze(0), torch.tensor(d["x_c0"]).unsqueeze(0)) if "x_h0" in d else None
    packed = torch.nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
    out, (h, c) = lstm(packed, h0)
    out, _ = torch.nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=x.shape[1])
    np.testing.assert_allclose(out.detach().numpy(), d["out_outputs"], atol=1e-9)
    # and the converted Keras weights into an lstmkit cell (forget_bias now 0, folded into the bias)
    cell = BasicLSTMCell(I, H, dtype=F64)
    load_into_cell(cell, keras_to_tf(**keras))
    init = None
    if "x_c0" in d:
        from lstmkit.nn import LSTMStateTuple
        init = LSTMStateTuple(torch.tensor(d["x_c0"]), torch.tensor(d["x_h0"]))
    out2, _ = dynamic_rnn(cell, x, lengths, init)
    np.testing.assert_allclose(out2.detach().numpy(), d["out_outputs"], atol=1e-9)


def test_projection_round_trips_through_torch():
    rng = np.random.default_rng(0)
    kernel, bias, proj = rng.normal(size=(5 + 3, 16)), rng.normal(size=16), rng.normal(size=(4, 3))
    t = tf_to_torch(kernel, bias, 5, 1.0, proj)
    assert t["weight_ih"].shape == (16, 5) and t["weight_hh"].shape == (16, 3) and t["weight_hr"].shape == (3, 4)
    back = torch_to_tf(**t)
    np.testing.assert_array_equal(back["kernel"], kernel)
    np.testing.assert_array_equal(back["projection_kernel"], proj)


def test_features_a_target_cannot_hold_are_errors():
    k, b = np.zeros((7, 16)), np.zeros(16)
    with pytest.raises(ValueError, match="PyTorch nn.LSTM cannot hold peepholes"):
        tf_to_torch(k, b, 3, w_f_diag=np.zeros(4), w_i_diag=np.zeros(4), w_o_diag=np.zeros(4))
    with pytest.raises(ValueError, match="Keras LSTM cannot hold cell_clip"):
        tf_to_keras(k, b, 3, cell_clip=3.0)
    with pytest.raises(ValueError, match="Keras LSTM cannot hold projection"):
        tf_to_keras(np.zeros((5, 16)), b, 3, projection_kernel=np.zeros((4, 2)))
    with pytest.raises(ValueError, match=r"keras recurrent_kernel must be \(4, 16\)"):
        keras_to_tf(np.zeros((3, 16)), np.zeros((4, 12)))
    with pytest.raises(ValueError, match="has no parameter 'w_f_diag'"):
        load_into_cell(BasicLSTMCell(3, 4), {"w_f_diag": np.zeros(4)})


def test_converted_lstm_module_weights_in_tf_layout():
    lstm = LSTM(3, 4, dtype=F64)
    w = tf_to_torch(lstm.cell(0).kernel.detach().numpy(), lstm.cell(0).bias.detach().numpy(), 3, 1.0)
    theirs = torch.nn.LSTM(3, 4, batch_first=True, dtype=F64)
    with torch.no_grad():
        for k, v in w.items():
            getattr(theirs, f"{k}_l0").copy_(torch.as_tensor(v))
    x = torch.randn(2, 5, 3, dtype=F64)
    torch.testing.assert_close(lstm(x)[0], theirs(x)[0], atol=1e-12, rtol=0)


# -- ONNX and cuDNN layouts ------------------------------------------------------------------------------------
def _onnx_lstm(x, params: dict, H: int, lengths=None, direction="forward"):
    """Run one ONNX LSTM node on onnxruntime: x (B, T, I) -> Y (T, D, B, H)."""
    pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    from onnx import TensorProto, helper, numpy_helper

    names = ["X", "W", "R", "B", "sequence_lens", "initial_h", "initial_c", "P"]
    given = {"X": np.ascontiguousarray(x.transpose(1, 0, 2)).astype(np.float32)}
    given.update({k: params[k].astype(np.float32) for k in ("W", "R", "B", "P") if k in params})
    if lengths is not None:
        given["sequence_lens"] = np.asarray(lengths, np.int32)
    inputs = [n if n in given else "" for n in names]
    while inputs and inputs[-1] == "":
        inputs.pop()
    node = helper.make_node("LSTM", inputs, ["Y"], hidden_size=H, direction=direction)
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("X", TensorProto.FLOAT, None)],
                              [helper.make_tensor_value_info("Y", TensorProto.FLOAT, None)],
                              [numpy_helper.from_array(v, k) for k, v in given.items() if k != "X"])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, {"X": given["X"]})[0]


@pytest.mark.parametrize("name", ["basic_tuple_varlen", "lstmcell_plain", "basic_seed_example"])
def test_tf_golden_through_onnx_runtime_and_back(name):
    from lstmkit.convert import onnx_to_tf, tf_to_onnx

    cfg, d = TF[name], golden_case("tf_cells", name)
    I, H, fb = cfg["input_size"], cfg["num_units"], cfg["forget_bias"]
    onnx_w = tf_to_onnx(d["w_kernel"], d["w_bias"], I, fb)
    assert onnx_w["W"].shape == (4 * H, I) and onnx_w["R"].shape == (4 * H, H) and onnx_w["B"].shape == (8 * H,)
    back = onnx_to_tf(**onnx_w)
    np.testing.assert_array_equal(back["kernel"], d["w_kernel"])
    params = {k: v[None] for k, v in onnx_w.items()}                     # one direction: (1, ...)
    y = _onnx_lstm(d["x"], params, H, d["lengths"])                       # (T, 1, B, H)
    np.testing.assert_allclose(y[:, 0].transpose(1, 0, 2), d["out_outputs"], atol=1e-5, rtol=0)


def test_onnx_peepholes_match_lstmkit_and_cell_clip_is_refused():
    from lstmkit.convert import onnx_to_tf, tf_to_onnx
    from lstmkit.nn import LSTMCell

    torch.manual_seed(3)
    cell = LSTMCell(3, 4, use_peepholes=True, dtype=F64)
    with torch.no_grad():
        for p in (cell.w_f_diag, cell.w_i_diag, cell.w_o_diag, cell.bias):
            p.uniform_(-0.5, 0.5)
    w = {k: getattr(cell, k).detach().numpy() for k in ("kernel", "bias", "w_f_diag", "w_i_diag", "w_o_diag")}
    onnx_w = tf_to_onnx(w.pop("kernel"), w.pop("bias"), 3, cell.forget_bias, **w)
    back = onnx_to_tf(**onnx_w)
    np.testing.assert_array_equal(back["w_f_diag"], cell.w_f_diag.detach().numpy())
    x = torch.randn(2, 5, 3, dtype=F64)
    want, _ = dynamic_rnn(cell, x)
    y = _onnx_lstm(x.numpy(), {k: v[None] for k, v in onnx_w.items()}, 4)
    np.testing.assert_allclose(y[:, 0].transpose(1, 0, 2), want.detach().numpy(), atol=1e-5, rtol=0)
    d = golden_case("tf_cells", "lstmcell_peep_clip_proj")
    with pytest.raises(ValueError, match="ONNX LSTM cannot hold projection, cell_clip"):
        tf_to_onnx(d["w_kernel"], d["w_bias"], 4, projection_kernel=d["w_projection_kernel"], cell_clip=0.7)


@pytest.mark.parametrize("name", ["multi_2layer", "bidi_varlen"])
def test_tf_golden_through_the_cudnn_buffer_into_torch(name):
    from lstmkit.convert import cudnn_to_tf, tf_to_cudnn

    cfg, d = TF[name], golden_case("tf_cells", name)
    I, H = cfg["input_size"], cfg["num_units"]
    bidi = name.startswith("bidi")
    cells = ([[{"kernel": d["w_kernel_fw"], "bias": d["w_bias_fw"]}, {"kernel": d["w_kernel_bw"],
                                                                       "bias": d["w_bias_bw"]}]] if bidi else
             [[{"kernel": d[f"w_kernel_l{k}"], "bias": d[f"w_bias_l{k}"]}] for k in range(2)])
    flat = tf_to_cudnn(cells, I, cfg["forget_bias"])
    lstm = torch.nn.LSTM(I, H, num_layers=len(cells), bidirectional=bidi, batch_first=True, dtype=F64)
    assert flat.size == sum(p.numel() for p in lstm.parameters())
    # torch.nn.LSTM's flat weights are cuDNN's canonical order: fill them from the buffer, in that order
    pos = 0
    with torch.no_grad():
        for name_ in lstm._flat_weights_names:
            p = getattr(lstm, name_)
            p.copy_(torch.from_numpy(flat[pos: pos + p.numel()].reshape(p.shape)))
            pos += p.numel()
    x, lengths = torch.tensor(d["x"]), torch.as_tensor(d["lengths"])
    packed = torch.nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
    out, _ = torch.nn.utils.rnn.pad_packed_sequence(lstm(packed)[0], batch_first=True, total_length=x.shape[1])
    want = np.concatenate([d["out_out_fw"], d["out_out_bw"]], 2) if bidi else d["out_outputs"]
    np.testing.assert_allclose(out.detach().numpy(), want, atol=1e-9)
    back = cudnn_to_tf(flat, I, H, len(cells), bidi)
    for layer, layer_back in zip(cells, back):
        for w, wb in zip(layer, layer_back):
            np.testing.assert_array_equal(wb["kernel"], w["kernel"])
    with pytest.raises(ValueError, match="too short"):
        cudnn_to_tf(flat[:-10], I, H, len(cells) + 1, bidi)
