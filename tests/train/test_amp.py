"""Mixed precision (``TrainConfig.amp``) through every task and the LSTM under ``torch.autocast``.

On ``tests/device.py``'s device: here and in CI the CPU, bfloat16 only (float16 loss scaling is CUDA's); on a GPU
machine ``benchmarks/gpu_check.py`` runs this file with ``LSTMKIT_TEST_DEVICE=cuda``, bfloat16 and float16.
"""
import math
import random

import numpy as np
import pytest
import torch

from device import DEVICE
from lstmkit.data.pairs import PairDataset
from lstmkit.data.readers import TextDataset
from lstmkit.data.series import SeriesDataset
from lstmkit.data.tagged import TaggedDataset
from lstmkit.nn import LSTM
from lstmkit.train.trainer import AMP_DTYPES, TrainConfig, fit

AMPS = ["bf16", "fp16"] if DEVICE.type == "cuda" else ["bf16"]


def _classify():
    from lstmkit.tasks.classify import ClassifyConfig, ClassifyTask

    rng = random.Random(0)
    texts = [("好" if y else "差") + "".join(rng.choice("的了是在有") for _ in range(rng.randint(1, 8)))
             for y in range(2) for _ in range(60)]
    labels = [str(y) for y in range(2) for _ in range(60)]
    data = TextDataset(texts, labels, "toy")
    task = ClassifyTask.from_data(ClassifyConfig(embedding_dim=8, units=8, token_dropout=0.0, dropout=0.0), data)
    return task, data, "accuracy", 0.9


def _tag():
    from lstmkit.tasks.tag import TagConfig, TagTask

    rng = random.Random(1)
    sents, tags = [], []
    for _ in range(80):
        toks = [rng.choice("的了是在有") for _ in range(rng.randint(0, 3))] + ["张", "三"] + \
            [rng.choice("的了是在有") for _ in range(rng.randint(0, 3))]
        sents.append(toks)
        tags.append(["O" if t not in "张三" else ("B-PER" if t == "张" else "E-PER") for t in toks])
    data = TaggedDataset(sents, tags, "toy")
    task = TagTask.from_data(TagConfig(embedding_dim=8, units=8, bigrams=False, dropout=0.0), data)
    return task, data, "f1", 0.9


def _seq2seq():
    from lstmkit.tasks.seq2seq import Seq2SeqConfig, Seq2SeqTask

    rng = random.Random(2)
    src = ["".join(rng.choice("abc") for _ in range(rng.randint(1, 3))) for _ in range(200)]
    data = PairDataset(src, [" ".join(s.upper()) for s in src], "toy")
    task = Seq2SeqTask.from_data(Seq2SeqConfig(embedding_dim=8, units=24, dropout=0.0), data)
    return task, data, "exact_match", 0.5


def _lm():
    from lstmkit.tasks.lm import LMConfig, LMTask

    data = TextDataset(["春眠不觉晓处处闻啼鸟"] * 20, None, "toy")
    task = LMTask.from_data(LMConfig(embedding_dim=8, units=16, dropout=0.0, bptt=8), data)
    return task, data, "perplexity", None


def _regress():
    from lstmkit.tasks.regress import RegressConfig, RegressTask

    t = np.arange(300)
    data = SeriesDataset(np.stack([np.sin(t / 5), np.cos(t / 7)], 1), ["y", "x"], "toy")
    task = RegressTask.from_data(RegressConfig(window=8, units=8), data)
    return task, data, "mae", None


@pytest.mark.parametrize("amp", AMPS)
@pytest.mark.parametrize("make", [_classify, _tag, _seq2seq, _lm, _regress], ids=lambda f: f.__name__[1:])
def test_every_task_trains_under_autocast(make, amp):
    torch.manual_seed(0)
    task, data, metric, floor = make()
    enc = task.encode(data)
    records = []
    fit(task, enc, enc, TrainConfig(epochs=8, batch_size=16, lr=0.02, progress=False, device=str(DEVICE), amp=amp),
        on_epoch=records.append)
    losses = [r["train_loss"] for r in records]
    assert all(math.isfinite(v) for v in losses) and losses[-1] < losses[0]
    assert all(p.dtype == torch.float32 for p in task.model.parameters()), "the weights stay float32"
    if floor is not None:
        assert task.evaluate(enc)[metric] >= floor


def test_amp_values_are_checked():
    with pytest.raises(ValueError, match="amp must be off, bf16 or fp16, got 'half'"):
        TrainConfig(amp="half").check()
    with pytest.raises(ValueError, match=r"amp fp16 needs a CUDA device \(training runs on cpu\)"):
        TrainConfig(amp="fp16", device="cpu").check()


@pytest.mark.parametrize("amp", AMPS)
@pytest.mark.parametrize("bidirectional", [False, True])
def test_lstm_under_autocast_runs_in_its_dtype_close_to_float32(bidirectional, amp):
    torch.manual_seed(0)
    dtype = AMP_DTYPES[amp]
    lstm = LSTM(6, 16, num_layers=2, bidirectional=bidirectional, device=DEVICE)
    x = torch.randn(5, 9, 6, device=DEVICE)
    lengths = torch.tensor([9, 3, 7, 1, 9], device=DEVICE)
    for lens in (lengths, None):
        want, (want_final, *_) = lstm(x, lens)
        with torch.autocast(DEVICE.type, dtype=dtype):
            out, (final, *_) = lstm(x, lens)
        assert out.dtype == dtype
        assert (out.float() - want).abs().max() < 0.03
        got_c = (final[0] if bidirectional else final).c
        assert (got_c.float() - (want_final[0] if bidirectional else want_final).c).abs().max() < 0.05
    pad = torch.arange(9, device=DEVICE) >= lengths.unsqueeze(1)
    lstm(x, lengths)[0].pow(2).sum().backward()
    want = [p.grad.clone() for p in lstm.parameters()]
    lstm.zero_grad()
    with torch.autocast(DEVICE.type, dtype=dtype):
        out, _ = lstm(x, lengths)
        assert bool((out[pad] == 0).all()), "padding stays exactly zero"
        out.float().pow(2).sum().backward()
    for p, g in zip(lstm.parameters(), want):  # the gradients reach the float32 TF-layout parameters, close
        assert p.grad.dtype == torch.float32
        assert (p.grad - g).norm() <= 0.05 * g.norm()
