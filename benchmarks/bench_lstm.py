"""lstmkit's LSTM against torch.nn.LSTM of the same size, side by side in one process.

Each row alternates the two (ours, theirs, theirs, ours, ...) and keeps each one's best time, so both see the
same machine state. The cell rows (peepholes, layer normalisation, zoneout, relu: cells the fused kernel cannot
run) alternate three: the cell on its path (the step loop's fast path, or the plain loop), lstmkit's fused path on
a BasicLSTMCell of the same size, and torch.nn.LSTM; "vs fused" is the cell's time over the fused path's.
Forward rows run under ``torch.no_grad()`` (inference, evaluation mode); forward+backward rows build the
graph and backpropagate ``outputs.sum()``. GFLOP/s counts the forward's matmuls: 2*B*T*(I+H)*4H per direction
(fwd+bwd counts 3x that). "sgemm %" is the share of this machine's sgemm throughput, measured in the same run
on one GEMM of the forward's total size, ``(B*T, I+H) @ (I+H, 4H)``.

    python benchmarks/bench_lstm.py                  # the README table
    python benchmarks/bench_lstm.py --quick          # fewer repeats
    python benchmarks/bench_lstm.py --device cuda    # on a GPU: cuDNN on both sides (plus autocast rows)
    python benchmarks/bench_lstm.py --cells-only     # only the cell rows (fast path, plain loop, fused, torch)
    python benchmarks/bench_lstm.py --goal           # every cell's fast path vs fused and torch, one alternation
"""
from __future__ import annotations

import argparse
import platform
import time

import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from lstmkit.nn import LSTM


DEVICE = torch.device("cpu")


def _sync():
    if DEVICE.type == "cuda":
        torch.cuda.synchronize()


def best_times(fns, repeats: int, warmup: int = 2) -> list[float]:
    """Run the fns in turn for ``repeats`` rounds, the order flipped every round (ABBA, so neither side always
    runs on the caches the other warmed); return each one's best wall time in seconds (on a GPU, each call
    timed to the end of its kernels)."""
    for _ in range(warmup):
        for fn in fns:
            fn()
    best = [float("inf")] * len(fns)
    order = list(range(len(fns)))
    for _ in range(repeats):
        for k in order:
            _sync()
            t0 = time.perf_counter()
            fns[k]()
            _sync()
            best[k] = min(best[k], time.perf_counter() - t0)
        order.reverse()
    return best


def sgemm_gflops(B, T, I, H, repeats) -> float:
    a, b = torch.randn(B * T, I + H, device=DEVICE), torch.randn(I + H, 4 * H, device=DEVICE)
    (t,) = best_times([lambda: a @ b], repeats)
    return 2 * B * T * (I + H) * 4 * H / t / 1e9


def make_pair(I, H, bidirectional, cell="basic", fused=None, fast=True, **opts):
    ours = LSTM(I, H, bidirectional=bidirectional, cell=cell, fused=fused, device=DEVICE, **opts)
    ours.use_fast = fast
    theirs = torch.nn.LSTM(I, H, bidirectional=bidirectional, batch_first=True, device=DEVICE)
    return ours, theirs


def torch_run(lstm, x, lengths):
    if lengths is None:
        return lstm(x)[0]
    packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
    return pad_packed_sequence(lstm(packed)[0], batch_first=True, total_length=x.shape[1])[0]


def row(label, ours, theirs, B, T, I, H, varlen, backward, repeats, peak, amp=None, fused_ref=None):
    """One row: ``ours`` against ``theirs`` (and ``fused_ref``, lstmkit's fused path, when given), alternated.
    Training mode (zoneout draws masks) with a backward, evaluation mode without."""
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(B, T, I, generator=gen).to(DEVICE)
    lengths = torch.randint(T // 2, T + 1, (B,), generator=gen) if varlen else None
    if varlen:
        lengths[0] = T
        lengths = lengths.to(DEVICE)  # where a model's lengths live; torch_run copies them back for packing (timed)
    D = 2 if ours.bidirectional else 1
    flops = 2 * B * T * (I + H) * 4 * H * D * (3 if backward else 1)

    def timed(run):
        def fn():
            with torch.autocast(DEVICE.type, dtype=amp, enabled=amp is not None):
                if backward:
                    run().float().sum().backward()
                else:
                    with torch.no_grad():
                        run()
        return fn

    for m in (ours, fused_ref):
        if m is not None:
            m.train(backward)
    ours_fn = timed(lambda: ours(x, lengths)[0])
    theirs_fn = timed(lambda: torch_run(theirs, x, lengths))
    fns = [ours_fn, theirs_fn] + ([timed(lambda: fused_ref(x, lengths)[0])] if fused_ref is not None else [])
    t_ours, t_theirs, *t_fused = best_times(fns, repeats)
    return {
        "row": label, "path": ours.last_path, "ours_ms": t_ours * 1e3, "torch_ms": t_theirs * 1e3,
        "fused_ms": t_fused[0] * 1e3 if t_fused else None, "vs_fused": t_ours / t_fused[0] if t_fused else None,
        "ratio": t_ours / t_theirs, "ours_gflops": flops / t_ours / 1e9, "torch_gflops": flops / t_theirs / 1e9,
        "sgemm_pct": 100 * (flops / t_ours / 1e9) / peak,
        "torch_sgemm_pct": 100 * (flops / t_theirs / 1e9) / peak,
    }


# the cells the fused kernel cannot run: (label, LSTM's cell options)
CELL_ROWS = [("LSTMCell peepholes", {"cell": "lstm", "use_peepholes": True}),
             ("LSTMCell peepholes+clip+proj", {"cell": "lstm", "use_peepholes": True, "cell_clip": 3.0,
                                               "num_proj": 128, "proj_clip": 3.0}),
             ("LayerNormLSTMCell", {"cell": "layernorm"}),
             ("BasicLSTMCell zoneout 0.1,0.1", {"zoneout_c": 0.1, "zoneout_h": 0.1}),
             ("LayerNorm + zoneout 0.1,0.1", {"cell": "layernorm", "zoneout_c": 0.1, "zoneout_h": 0.1}),
             ("BasicLSTMCell relu", {"activation": "relu"})]


def cell_rows(B, T, I, H, rep, peak, plain: bool = True) -> list:
    """Each cell on the fast path (and the plain loop), against the fused path and torch.nn.LSTM: B fwd+bwd,
    B=1 fwd, B varlen fwd+bwd."""
    fused, torch_lstm = make_pair(I, H, False)
    rows = []
    for name, opts in CELL_ROWS:
        for fast in (True, False) if plain else (True,):
            ours, _ = make_pair(I, H, False, fast=fast, **opts)
            path = "fast" if fast else "plain loop"
            n = rep if fast else max(2, rep // 3)
            rows += [row(f"{name} fwd+bwd ({path})", ours, torch_lstm, B, T, I, H, False, True, n, peak,
                         fused_ref=fused),
                     row(f"{name} B=1 fwd ({path})", ours, torch_lstm, 1, T, I, H, False, False, n * 8, peak,
                         fused_ref=fused)]
            if fast:
                rows.append(row(f"{name} varlen fwd+bwd ({path})", ours, torch_lstm, B, T, I, H, True, True, n,
                                peak, fused_ref=fused))
    return rows


def goal_rows(B, T, I, H, rep) -> list:
    """The issue's goal in one alternation: every cell on its fast path, lstmkit's fused path and torch.nn.LSTM all
    take turns in every round (so a burst of load on a shared machine hits them all), best of ``rep`` rounds;
    fwd+bwd at (B, T) in training mode, then forward at B=1 in evaluation mode."""
    models = [("fused path (BasicLSTMCell)", make_pair(I, H, False)[0])]
    models += [(name, make_pair(I, H, False, **opts)[0]) for name, opts in CELL_ROWS]
    torch_lstm = torch.nn.LSTM(I, H, batch_first=True, device=DEVICE)
    gen = torch.Generator().manual_seed(0)
    x, x1 = torch.randn(B, T, I, generator=gen).to(DEVICE), torch.randn(1, T, I, generator=gen).to(DEVICE)

    def fwd_bwd(run):
        return lambda: run(x).sum().backward()

    def fwd1(run):
        def fn():
            with torch.no_grad():
                run(x1)
        return fn

    out = []
    for what, wrap, n, train in ((f"fwd+bwd B={B}", fwd_bwd, rep, True), ("fwd B=1", fwd1, rep * 8, False)):
        for _, m in models:
            m.train(train)
        fns = [wrap(lambda v, m=m: m(v)[0]) for _, m in models] + [wrap(lambda v: torch_lstm(v)[0])]
        times = best_times(fns, n)
        for (name, m), t in zip(models, times):
            out.append({"what": what, "cell": name, "path": m.last_path, "ms": t * 1e3, "vs_fused": t / times[0],
                        "vs_torch": t / times[-1]})
        out.append({"what": what, "cell": "torch.nn.LSTM", "path": "torch", "ms": times[-1] * 1e3,
                    "vs_fused": times[-1] / times[0], "vs_torch": 1.0})
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer repeats (noisier)")
    ap.add_argument("-B", type=int, default=64)
    ap.add_argument("-T", type=int, default=50)
    ap.add_argument("-I", type=int, default=128)
    ap.add_argument("-H", type=int, default=256)
    ap.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    ap.add_argument("--cells-only", action="store_true", help="only the rows of the cells the fused kernel cannot run")
    ap.add_argument("--no-plain", action="store_true", help="cell rows: skip the plain loop (the fast path only)")
    ap.add_argument("--goal", action="store_true",
                    help="only the goal table: every cell's fast path, the fused path and torch.nn.LSTM alternated "
                         "in every round")
    args = ap.parse_args(argv)
    global DEVICE
    DEVICE = torch.device(args.device)
    B, T, I, H = args.B, args.T, args.I, args.H
    rep = 5 if args.quick else 25  # the machine is noisy: best-of needs many alternated rounds
    torch.manual_seed(0)
    if args.goal:
        print(f"# every cell vs lstmkit's fused path and torch.nn.LSTM, alternated in every round: B={B} T={T} "
              f"I={I} H={H}, float32, torch {torch.__version__}, {torch.get_num_threads()} threads, {DEVICE}")
        print("| measure | cell | path | ms | vs fused | vs torch |\n|---|---|---|---:|---:|---:|")
        for r in goal_rows(B, T, I, H, rep):
            print(f"| {r['what']} | {r['cell']} | {r['path']} | {r['ms']:.2f} | {r['vs_fused']:.3f} | "
                  f"{r['vs_torch']:.3f} |")
        return
    peak = sgemm_gflops(B, T, I, H, rep * 2)
    uni, uni_t = make_pair(I, H, False)
    bi, bi_t = make_pair(I, H, True)
    loop, loop_t = make_pair(I, H, False, fused=False, fast=False)
    fast, fast_t = make_pair(I, H, False, fused=False)
    rows = [] if args.cells_only else [
        row("uni fwd", uni, uni_t, B, T, I, H, False, False, rep * 2, peak),
        row("uni fwd+bwd", uni, uni_t, B, T, I, H, False, True, rep, peak),
        row("uni varlen fwd", uni, uni_t, B, T, I, H, True, False, rep * 2, peak),
        row("uni varlen fwd+bwd", uni, uni_t, B, T, I, H, True, True, rep, peak),
        row("bidi varlen fwd", bi, bi_t, B, T, I, H, True, False, rep * 2, peak),
        row("bidi varlen fwd+bwd", bi, bi_t, B, T, I, H, True, True, rep, peak),
        row("B=1 latency fwd", uni, uni_t, 1, T, I, H, False, False, rep * 20, peak),
        row("step loop fwd (fused=False)", loop, loop_t, B, T, I, H, False, False, rep, peak),
        row("step loop fwd+bwd (fused=False)", loop, loop_t, B, T, I, H, False, True, max(3, rep // 2), peak),
        row("B=1 step loop fwd (fused=False)", loop, loop_t, 1, T, I, H, False, False, rep * 4, peak),
        row("fast path fwd+bwd (fused=False)", fast, fast_t, B, T, I, H, False, True, rep, peak, fused_ref=uni),
        row("B=1 fast path fwd (fused=False)", fast, fast_t, 1, T, I, H, False, False, rep * 8, peak, fused_ref=uni),
    ]
    rows += cell_rows(B, T, I, H, rep, peak, plain=not args.no_plain)
    if DEVICE.type == "cuda":
        for name, dtype in (("bf16", torch.bfloat16), ("fp16", torch.float16)):
            rows += [
                row(f"uni fwd+bwd autocast {name}", uni, uni_t, B, T, I, H, False, True, rep, peak, dtype),
                row(f"bidi varlen fwd+bwd autocast {name}", bi, bi_t, B, T, I, H, True, True, rep, peak, dtype),
            ]
    where = (f"{torch.cuda.get_device_name(DEVICE)}, cuDNN {torch.backends.cudnn.version()}" if DEVICE.type == "cuda"
             else f"{torch.get_num_threads()} threads, {platform.machine()} {platform.processor() or ''}".rstrip())
    print(f"# lstmkit LSTM vs torch.nn.LSTM: B={B} T={T} I={I} H={H}, float32, torch {torch.__version__}, {where}")
    print(f"# sgemm ({B * T}x{I + H} @ {I + H}x{4 * H}): {peak:.1f} GFLOP/s")
    print("| row | path | lstmkit ms | fused ms | vs fused | torch ms | vs torch | lstmkit GFLOP/s | torch GFLOP/s "
          "| lstmkit sgemm % | torch sgemm % |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        fused_ms, vs_fused = ("", "") if r["fused_ms"] is None else (f"{r['fused_ms']:.2f}", f"{r['vs_fused']:.3f}")
        print(f"| {r['row']} | {r['path']} | {r['ours_ms']:.2f} | {fused_ms} | {vs_fused} | {r['torch_ms']:.2f} | "
              f"{r['ratio']:.3f} | {r['ours_gflops']:.1f} | {r['torch_gflops']:.1f} | {r['sgemm_pct']:.0f} | "
              f"{r['torch_sgemm_pct']:.0f} |")


if __name__ == "__main__":
    main()
