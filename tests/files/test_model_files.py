"""Real model files from TensorFlow and Keras (../shared/golden/model_files), rebuilt with lstmkit and no
TensorFlow: the TF1 checkpoint's embedding -> 2-layer BasicLSTMCell -> dense, and the Keras 3 .keras model
(Embedding(mask_zero) -> Bidirectional(LSTM) -> Dense), reproduce expected.npz; PyTorch state dicts read safely."""
import numpy as np
import pytest
import torch

from golden_data import GOLDEN
from lstmkit.files.tf1 import build_lstm, find_cells, read_checkpoint
from lstmkit.files.torch_state import build_lstm as build_from_torch
from lstmkit.files.torch_state import read_state_dict

FILES = GOLDEN / "model_files"


@pytest.fixture(scope="module")
def expected():
    if not (FILES / "expected.npz").is_file():
        raise FileNotFoundError(f"golden model files missing: {FILES}")
    with np.load(FILES / "expected.npz") as d:
        return {k: d[k] for k in d.files}


def test_tf1_checkpoint_rebuilt_without_tensorflow(expected):
    v = read_checkpoint(FILES / "tf1_checkpoint")
    assert v["embedding"].shape == (50, 8) and v["dense/kernel"].shape == (6, 3)
    assert v["rnn/multi_rnn_cell/cell_0/basic_lstm_cell/kernel"].shape == (14, 24)
    assert set(find_cells(v)) == {(0, 0), (1, 0)}
    lstm = build_lstm(v)
    assert lstm.num_layers == 2 and lstm.num_units == 6 and lstm.input_size == 8
    ids, lengths = torch.from_numpy(expected["ids"]).long(), torch.from_numpy(expected["lengths"]).long()
    with torch.no_grad():
        out, states = lstm(torch.from_numpy(v["embedding"])[ids], lengths)
    np.testing.assert_allclose(out.numpy(), expected["tf1_outputs"], atol=1e-5, rtol=0)
    logits = states[-1].h.numpy() @ v["dense/kernel"] + v["dense/bias"]
    np.testing.assert_allclose(logits, expected["tf1_logits"], atol=1e-5, rtol=0)
    # the same checkpoint named by its .index file or its prefix
    assert set(read_checkpoint(FILES / "tf1_checkpoint" / "model.ckpt.index")) == set(v)


def test_keras_model_and_weights_file(expected):
    pytest.importorskip("h5py")
    from lstmkit.files.keras import load_keras_model, read_keras_weights

    ids = torch.from_numpy(expected["ids"]).long()
    for weights in (None, FILES / "keras_model.weights.h5"):
        model = load_keras_model(FILES / "keras_model.keras", weights)
        with torch.no_grad():
            np.testing.assert_allclose(model(ids).numpy(), expected["keras_logits"], atol=1e-5, rtol=0)
    w = read_keras_weights(FILES / "keras_model.weights.h5")
    assert w["layers/bidirectional/forward_layer/cell/vars/1"].shape == (6, 24)


def test_bad_files_are_clear_errors(tmp_path):
    bad = tmp_path / "x.ckpt.index"
    bad.write_bytes(b"not a table" * 10)
    with pytest.raises(ValueError, match="not a TensorFlow checkpoint index"):
        read_checkpoint(bad)
    with pytest.raises(FileNotFoundError, match="checkpoint index not found"):
        read_checkpoint(tmp_path / "missing.ckpt")
    with pytest.raises(ValueError, match="no LSTM cell variables"):
        build_lstm({"dense/kernel": np.zeros((2, 2))})


def test_torch_state_dicts_read_safely_and_rebuild(tmp_path):
    torch.manual_seed(0)
    ref = torch.nn.LSTM(5, 7, num_layers=2, bidirectional=True, batch_first=True, dtype=torch.float64)
    torch.save(ref.state_dict(), tmp_path / "w.pt")
    from safetensors.torch import save_file

    save_file({f"encoder.{k}": v.contiguous() for k, v in ref.state_dict().items()}, str(tmp_path / "w.safetensors"))
    x = torch.randn(3, 4, 5, dtype=torch.float64)
    lengths = torch.tensor([4, 2, 1])
    packed = torch.nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
    want, _ = torch.nn.utils.rnn.pad_packed_sequence(ref(packed)[0], batch_first=True, total_length=4)
    for path, prefix in ((tmp_path / "w.pt", ""), (tmp_path / "w.safetensors", "encoder.")):
        lstm = build_from_torch(read_state_dict(path), prefix)
        assert lstm.bidirectional and lstm.num_layers == 2
        torch.testing.assert_close(lstm(x, lengths)[0], want, atol=1e-12, rtol=0)
    # a pickle that is more than tensors is refused, never run
    torch.save({"w": torch.zeros(1), "code": print}, tmp_path / "evil.pt")
    with pytest.raises(ValueError, match="not a weights-only PyTorch file"):
        read_state_dict(tmp_path / "evil.pt")
    with pytest.raises(ValueError, match="no nn.LSTM weights"):
        build_from_torch(read_state_dict(tmp_path / "w.safetensors"), "decoder.")


def test_builder_reads_bidirectional_lstmcell_scopes_with_peepholes_and_projection():
    rng = np.random.default_rng(0)
    I, H, P = 3, 4, 2
    v = {}
    for d in ("fw", "bw"):
        base = f"bidirectional_rnn/{d}/lstm_cell/"
        v[base + "kernel"] = rng.normal(size=(I + P, 4 * H)).astype(np.float32)
        v[base + "bias"] = rng.normal(size=4 * H).astype(np.float32)
        for diag in ("w_f_diag", "w_i_diag", "w_o_diag"):
            v[base + diag] = rng.normal(size=H).astype(np.float32)
        v[base + "projection/kernel"] = rng.normal(size=(H, P)).astype(np.float32)
    v["bidirectional_rnn/fw/dense/kernel"] = np.zeros((2, 2), np.float32)    # not a cell variable: ignored
    lstm = build_lstm(v, cell_clip=0.5)
    assert lstm.bidirectional and lstm.num_layers == 1
    for d, name in enumerate(("fw", "bw")):
        cell = lstm.cell(0, d)
        assert cell.use_peepholes and cell.num_proj == P and cell.cell_clip == 0.5
        np.testing.assert_array_equal(cell.kernel.detach().numpy(), v[f"bidirectional_rnn/{name}/lstm_cell/kernel"])
        np.testing.assert_array_equal(cell.projection_kernel.detach().numpy(),
                                      v[f"bidirectional_rnn/{name}/lstm_cell/projection/kernel"])
    v["other/rnn/basic_lstm_cell/kernel"] = np.zeros((7, 16), np.float32)
    with pytest.raises(ValueError, match="several scopes"):
        build_lstm(v)
    assert build_lstm(v, scope="bidirectional_rnn/").bidirectional
