"""A short walkthrough of the engine with real shapes and values: ``python -m lstmkit.demo`` (``make demo``).

The walkthrough's example: x of 28 features, 128 units, a batch of sequences of different lengths.
"""
from __future__ import annotations

import time

import torch

from .nn import LSTM, BasicLSTMCell, bidirectional_dynamic_rnn, dynamic_rnn, fuse_blocker


def _shape(t: torch.Tensor) -> str:
    return str(tuple(t.shape))


def _best_ms(fn, repeats=7) -> float:
    fn()
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best * 1e3


def main() -> None:
    torch.manual_seed(0)
    B, T, I, H = 3, 6, 28, 128
    lengths = torch.tensor([6, 4, 2])
    x = torch.randn(B, T, I)
    cell = BasicLSTMCell(I, H)
    print("== 1. One cell, shared by every time step")
    print(f"cell = {cell!r}")
    print(f"kernel {_shape(cell.kernel)} = (I + H, 4H): rows [x_t, h_(t-1)], columns the gates i, j, f, o")
    print(f"bias   {_shape(cell.bias)} = (4H,), zeros at init; forget_bias={cell.forget_bias} is a constant")
    print(f"parameters: {cell.param_count().symbolic} = {cell.param_count().formula}")

    print("\n== 2. One step: gates = concat([x_t, h]) @ kernel + bias")
    state = cell.zero_state(B)
    x0 = x[:, 0]
    gates = torch.cat([x0, state.h], dim=1) @ cell.kernel + cell.bias
    i, j, f, o = gates.chunk(4, dim=1)
    h1, state1 = cell(x0, state)
    print(f"x_t {_shape(x0)}, [x_t, h] {_shape(torch.cat([x0, state.h], 1))}, "
          f"gates {_shape(gates)} -> i, j, f, o {_shape(i)} each")
    print(f"new c {_shape(state1.c)}, new h {_shape(h1)}; h[0, :4] = {[round(v, 4) for v in h1[0, :4].tolist()]}")

    print(f"\n== 3. dynamic_rnn over x {_shape(x)} = (B, T, I), lengths {lengths.tolist()}")
    outputs, final = dynamic_rnn(cell, x, lengths)
    print(f"outputs {_shape(outputs)} = (B, T, H): h at every step; zero past each length:")
    for b in range(B):
        norms = " ".join(f"{v:5.2f}" for v in outputs[b].norm(dim=1).tolist())
        print(f"  sequence {b} (length {int(lengths[b])}): |h_t| = {norms}")
    same = torch.allclose(final.h, outputs[torch.arange(B), lengths - 1])
    print(f"final state c, h {_shape(final.c)}: h equals the output at each last valid step: {same}")

    print("\n== 4. Bidirectional: the backward cell reads each sequence reversed within its length")
    (out_fw, out_bw), _ = bidirectional_dynamic_rnn(cell, BasicLSTMCell(I, H), x, lengths)
    print(f"out_fw {_shape(out_fw)}, out_bw {_shape(out_bw)}; concatenated (B, T, 2H) = "
          f"{_shape(torch.cat([out_fw, out_bw], 2))}")

    print("\n== 5. Two paths, one answer: the step loop and PyTorch's fused kernel")
    loop_out, _ = dynamic_rnn(cell, x, lengths, fused=False)
    print(f"fused path for this cell: {fuse_blocker(cell) is None}; "
          f"max |fused - loop| = {(outputs - loop_out).abs().max().item():.2e}")
    lstm = LSTM(I, H, num_layers=2, bidirectional=True)
    print(f"LSTM(28, 128, num_layers=2, bidirectional=True): fused={lstm.fused}, "
          f"{lstm.param_count().total:,} parameters ({lstm.param_count().formula})")
    xb = torch.randn(64, 50, I)
    torch_lstm = torch.nn.LSTM(I, H, num_layers=2, bidirectional=True, batch_first=True)
    with torch.no_grad():
        ours = _best_ms(lambda: lstm(xb))
        theirs = _best_ms(lambda: torch_lstm(xb))
        lstm.use_fused = False
        loop = _best_ms(lambda: lstm(xb), repeats=2)
    print(f"forward, B=64, T=50: lstmkit fused {ours:.1f} ms, torch.nn.LSTM {theirs:.1f} ms, "
          f"lstmkit step loop {loop:.1f} ms")


if __name__ == "__main__":
    main()
