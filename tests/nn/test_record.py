"""lstmkit.nn.recording: a no-op outside a block, nested blocks, threads kept apart, detached copies; and the
encoder-decoder's recorded tensors are the ones its forward, encode and greedy search compute."""
import threading

import pytest
import torch

from lstmkit.nn import LSTMStateTuple, Recording, record, recording
from lstmkit.nn.seq2seq import Seq2Seq

BOS, EOS = 2, 3


def test_record_outside_a_block_does_nothing():
    record("x", object())                     # not a tensor: inside a block this raises, outside nothing looks
    with recording() as rec:
        record("x", torch.ones(2))
    record("x", torch.zeros(2))               # after the block: the recording is closed
    assert rec.names() == ["x"] and len(rec.all("x")) == 1 and rec["x"].tolist() == [1.0, 1.0]
    with recording() as rec, pytest.raises(TypeError, match="record: value must be a tensor.*got object"):
        record("x", object())


def test_blocks_nest_and_keep_every_value():
    with recording() as outer:
        record("a", torch.tensor(1.0))
        with recording() as inner:
            record("b", torch.tensor(2.0))
            record("b", torch.tensor(3.0))
        record("c", torch.tensor(4.0))
    assert outer.names() == ["a", "b", "c"] and inner.names() == ["b"]
    assert float(inner["b"]) == 3.0 and [float(v) for v in outer.all("b")] == [2.0, 3.0]
    assert "a" not in inner and inner.all("a") == [] and inner.get("a") is None
    with pytest.raises(KeyError, match=r"nothing was recorded as 'a'; recorded: \['b'\]"):
        inner["a"]
    assert isinstance(inner, Recording) and "b x2" in repr(inner)


def test_values_are_detached_copies_and_structures_survive():
    x = torch.ones(2, 3, requires_grad=True)
    y = x * 2
    state = (LSTMStateTuple(y, y + 1), [y, None])
    with recording() as rec:
        record("y", y)
        record("state", state)
    with torch.no_grad():
        y.add_(5)                                                   # a later in-place change to the model's tensor
    assert not rec["y"].requires_grad and rec["y"].tolist() == [[2.0] * 3] * 2
    st = rec["state"]
    assert isinstance(st[0], LSTMStateTuple) and st[0].h.tolist() == [[3.0] * 3] * 2
    assert isinstance(st[1], list) and st[1][1] is None and st[1][0].tolist() == [[2.0] * 3] * 2


def test_another_thread_does_not_record_into_this_block():
    seen = {}

    def other():
        record("other", torch.ones(1))          # while the main thread's block is open
        with recording() as mine:
            record("mine", torch.ones(1))
        seen["names"] = mine.names()

    with recording() as rec:
        t = threading.Thread(target=other)
        t.start()
        t.join()
        record("main", torch.ones(1))
    assert rec.names() == ["main"] and seen["names"] == ["mine"]


def _model(attention="general", feeding=True, layers=1):
    torch.manual_seed(0)
    return Seq2Seq(7, 6, embedding_dim=5, units=8, layers=layers, attention=attention, input_feeding=feeding,
                   dropout=0.0, bos_id=BOS, eos_id=EOS).double().eval()


@pytest.mark.parametrize("attention,feeding,layers", [("general", True, 2), ("additive", False, 1),
                                                      ("none", True, 1)])
def test_seq2seq_records_what_it_computes(attention, feeding, layers):
    m = _model(attention, feeding, layers)
    src, lengths = torch.tensor([[4, 5, 6, 4], [5, 6, 0, 0]]), torch.tensor([4, 2])
    tgt_in = torch.tensor([[BOS, 4, 5], [BOS, 5, 1]])
    with torch.no_grad():
        with recording() as rec:
            logits, weights = m(src, lengths, tgt_in, return_attention=True)     # (B, T, V), (B, T, S)
        enc = m.encode(src, lengths)
    torch.testing.assert_close(rec["logits"], logits, rtol=0, atol=0)
    torch.testing.assert_close(rec["embedded_source"], m.src_embedding(src), rtol=0, atol=0)
    torch.testing.assert_close(rec["memory"], enc["memory"], rtol=0, atol=0)
    assert not rec["memory"][1, 2:].any()                                        # padded source steps
    for got, want in zip(rec["decoder_state"], enc["state"]):
        torch.testing.assert_close(tuple(got), tuple(want), rtol=0, atol=0)
    for got, want in zip(rec["encoder_final_states"], enc["finals"]):
        torch.testing.assert_close(got, want, rtol=0, atol=0)
    if attention == "none":
        assert weights is None and not {"attention", "step_attention", "attention_keys"} & set(rec.names())
        return
    torch.testing.assert_close(rec["attention"], weights, rtol=0, atol=0)
    torch.testing.assert_close(rec["attention_keys"], enc["keys"], rtol=0, atol=0)
    steps = rec.all("step_attention")                             # input feeding steps the decoder one by one
    assert len(steps) == (3 if feeding else 0)
    if feeding:
        torch.testing.assert_close(torch.stack(steps, dim=1), weights, rtol=0, atol=0)


def test_greedy_decoding_records_each_steps_attention():
    """One (B, S) row of weights per step the greedy search takes; teacher forcing on its output replays them."""
    m = _model()
    src, lengths = torch.tensor([[4, 5, 6, 4], [5, 6, 0, 0]]), torch.tensor([4, 2])
    with recording() as rec:
        hyps = m.greedy(src, lengths, max_len=4)
    steps = rec.all("step_attention")
    assert 1 <= len(steps) <= 4 and all(w.shape == (2, 4) for w in steps)
    assert "logits" not in rec and len(rec.all("memory")) == 1
    ids = [h.tokens + [EOS] for h in hyps]
    n = min(len(steps), *(len(i) for i in ids))
    tgt_in = torch.tensor([[BOS] + i[: n - 1] for i in ids])
    with torch.no_grad():
        _, weights = m(src, lengths, tgt_in, return_attention=True)
    torch.testing.assert_close(torch.stack(steps[:n], dim=1), weights, rtol=0, atol=1e-12)
