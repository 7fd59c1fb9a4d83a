"""Attention: weights sum to 1 over valid source steps only, padding gets exactly 0 and cannot change the
context; each score function checked against its formula by hand; gradcheck."""
import pytest
import torch

from lstmkit.nn.attention import Attention


def _batch(seed=0, B=3, S=5, Hs=6, H=4):
    g = torch.Generator().manual_seed(seed)
    memory = torch.randn(B, S, Hs, generator=g, dtype=torch.float64)
    query = torch.randn(B, H, generator=g, dtype=torch.float64)
    lengths = torch.tensor([5, 3, 1])
    mask = torch.arange(S) < lengths.unsqueeze(1)
    return query, memory, mask


@pytest.mark.parametrize("score", ["general", "additive"])
def test_weights_sum_to_one_over_valid_steps_and_ignore_padding(score):
    torch.manual_seed(0)
    att = Attention(score, 4, 6).double()
    query, memory, mask = _batch()
    context, weights = att.attend(query, att.keys(memory), memory, mask)
    assert torch.allclose(weights.sum(1), torch.ones(3, dtype=torch.float64), atol=1e-12)
    assert (weights[~mask] == 0).all() and (weights[mask] > 0).all()
    # whatever sits in the padded steps, the context is the same
    noisy = memory.masked_fill(~mask.unsqueeze(2), 1e3)
    context2, weights2 = att.attend(query, att.keys(noisy), noisy, mask)
    assert torch.allclose(context, context2, atol=1e-12) and torch.allclose(weights, weights2, atol=1e-12)


def test_scores_match_their_formulas():
    torch.manual_seed(1)
    query, memory, mask = _batch(H=6)
    dot = Attention("dot", 6, 6).double()
    assert torch.allclose(dot.scores(query, dot.keys(memory)), torch.einsum("bh,bsh->bs", query, memory))
    gen = Attention("general", 6, 6).double()
    W = gen.w_a.weight                                                   # (H, Hs)
    assert torch.allclose(gen.scores(query, gen.keys(memory)), torch.einsum("bh,hk,bsk->bs", query, W, memory))
    add = Attention("additive", 6, 6, attention_size=5).double()
    by_hand = torch.tanh(memory @ add.w_k.weight.T + (query @ add.w_q.weight.T + add.w_q.bias).unsqueeze(1))
    assert torch.allclose(add.scores(query, add.keys(memory)), (by_hand @ add.v.weight.T).squeeze(2))
    # the context is the weights' average of the memory, by hand
    context, weights = gen.attend(query, gen.keys(memory), memory, mask)
    s = gen.scores(query, gen.keys(memory))
    b = 1
    w = torch.softmax(s[b, :3], 0)
    assert torch.allclose(weights[b, :3], w) and torch.allclose(context[b], w @ memory[b, :3])


def test_gradcheck_additive():
    torch.manual_seed(2)
    att = Attention("additive", 4, 6).double()
    query, memory, mask = _batch()
    query.requires_grad_(True)
    memory.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda q, m: att.attend(q, att.keys(m), m, mask)[0], (query, memory))


def test_errors_name_what_is_wrong():
    with pytest.raises(ValueError, match="score must be one of"):
        Attention("cosine", 4, 4)
    with pytest.raises(ValueError, match="dot score needs query and memory of one size"):
        Attention("dot", 4, 8)
    with pytest.raises(ValueError, match=r"memory must be \(B, S, 6\), got \(2, 6\)"):
        Attention("general", 4, 6).keys(torch.zeros(2, 6))
