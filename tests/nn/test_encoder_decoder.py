"""The encoder-decoder: beam search against an exhaustive search over every output, beam 1 = greedy, scores
equal teacher-forced log-probabilities, padding of the source changes nothing, gradients flow."""
import itertools
import math

import pytest
import torch

from lstmkit.nn.seq2seq import Seq2Seq, Seq2SeqEnsemble, length_penalty

BOS, EOS = 2, 3


def _model(attention="general", seed=0, V=6, bidirectional=True, layers=1):
    torch.manual_seed(seed)
    m = Seq2Seq(7, V, embedding_dim=5, units=8, layers=layers, bidirectional=bidirectional, attention=attention,
                dropout=0.0, bos_id=BOS, eos_id=EOS).double().eval()
    with torch.no_grad():   # sharper output distributions than the small init gives: a real search problem
        m.out.weight.mul_(8.0)
    return m


def _log_prob(m, src, n, ys):
    """log P(ys + <eos> | src) by teacher forcing."""
    tgt_in = torch.tensor([[BOS] + ys])
    logp = torch.log_softmax(m(src, n, tgt_in), dim=2)[0]
    gold = ys + [EOS]
    return sum(float(logp[t, y].detach()) for t, y in enumerate(gold))


@pytest.mark.parametrize("attention,alpha", [("general", 0.0), ("additive", 1.0), ("none", 0.6)])
def test_beam_search_finds_the_exhaustive_best(attention, alpha):
    m = _model(attention)
    src, n = torch.tensor([[4, 5, 6, 4]]), torch.tensor([4])
    max_len = 3
    words = [1, 4, 5]         # every possible output token: <unk> and the words (never <pad> or <bos>)
    outputs = []
    for L in range(0, max_len):
        for ys in itertools.product(words, repeat=L):
            lp = _log_prob(m, src, n, list(ys))
            outputs.append((lp / length_penalty(L + 1, alpha), lp, list(ys)))
    outputs.sort(key=lambda o: -o[0])
    # every finished output has a probability: a beam wide enough to keep them all must rank exactly as they do
    V = 6
    found = m.beam_search(src, n, beam_size=V ** max_len, max_len=max_len, alpha=alpha, n_best=5)[0]
    finished = [h for h in found if h.finished]
    assert len(finished) >= 3
    for h, (score, lp, ys) in zip(finished[:3], outputs[:3]):
        assert h.tokens == ys
        assert math.isclose(h.log_prob, lp, abs_tol=1e-9) and math.isclose(h.score, score, abs_tol=1e-9)


@pytest.mark.parametrize("attention", ["general", "additive", "none"])
def test_beam_of_one_is_greedy(attention):
    m = _model(attention, seed=3)
    torch.manual_seed(5)
    src = torch.randint(3, 7, (6, 5))
    lengths = torch.tensor([5, 4, 3, 2, 1, 5])
    src = src.masked_fill(torch.arange(5) >= lengths.unsqueeze(1), 0)
    greedy = m.greedy(src, lengths, max_len=7)
    beam = m.beam_search(src, lengths, beam_size=1, max_len=7)
    for g, b in zip(greedy, beam):
        assert g.tokens == b[0].tokens and math.isclose(g.log_prob, b[0].log_prob, abs_tol=1e-9)


def test_source_padding_changes_nothing_and_batching_is_exact():
    m = _model("additive", seed=4, layers=2)
    src = torch.tensor([[4, 5, 6, 0, 0], [6, 6, 5, 4, 4]])
    lengths = torch.tensor([3, 5])
    tgt_in = torch.tensor([[BOS, 4, 5], [BOS, 5, 5]])
    logits, weights = m(src, lengths, tgt_in, return_attention=True)
    alone = m(src[:1, :3], lengths[:1], tgt_in[:1])
    assert torch.allclose(logits[:1], alone, atol=1e-12)
    assert (weights[0, :, 3:] == 0).all()
    assert torch.allclose(weights.sum(2), torch.ones(2, 3, dtype=torch.float64), atol=1e-12)
    assert m.greedy(src, lengths, 6)[0].tokens == m.greedy(src[:1, :3], lengths[:1], 6)[0].tokens


def test_gradients_reach_encoder_and_decoder():
    m = _model("general", seed=6).train()
    src, lengths, tgt_in = torch.tensor([[4, 5, 6]]), torch.tensor([3]), torch.tensor([[BOS, 4, 5]])
    m(src, lengths, tgt_in).sum().backward()
    for name in ("src_embedding.weight", "tgt_embedding.weight", "bridge_h.weight", "decoder.layers.0.0.kernel",
                 "attention.w_a.weight", "combine.weight", "out.weight"):
        assert dict(m.named_parameters())[name].grad.abs().sum() > 0, name


def test_dot_attention_needs_matching_sizes():
    with pytest.raises(ValueError, match="dot attention compares"):
        Seq2Seq(5, 5, bidirectional=True, attention="dot")
    Seq2Seq(5, 5, units=8, bidirectional=False, attention="dot")


@pytest.mark.parametrize("attention", ["general", "additive", "none"])
def test_without_input_feeding_the_fused_decoder_equals_the_step_loop(attention):
    torch.manual_seed(7)
    m = Seq2Seq(7, 6, embedding_dim=5, units=8, layers=2, attention=attention, input_feeding=False,
                dropout=0.0, bos_id=BOS, eos_id=EOS).double().eval()
    src, lengths = torch.tensor([[4, 5, 6, 0], [6, 5, 4, 4]]), torch.tensor([3, 4])
    tgt_in = torch.tensor([[BOS, 4, 5, 5], [BOS, 5, 1, 4]])
    logits, weights = m(src, lengths, tgt_in, return_attention=True)     # fused decoder, attention for all steps
    enc = m.encode(src, lengths)
    state, feed, steps = enc["state"], None, []
    for t in range(4):
        feed, state, w = m.step(tgt_in[:, t], state, feed, enc)
        steps.append(m.out(feed))
        if weights is not None:
            assert torch.allclose(weights[:, t], w, atol=1e-12)
    assert torch.allclose(logits, torch.stack(steps, 1), atol=1e-12)


# -- ensembles ---------------------------------------------------------------------------------------------------
def _batch():
    torch.manual_seed(5)
    lengths = torch.tensor([5, 4, 3, 2, 1, 5])
    src = torch.randint(3, 7, (6, 5)).masked_fill(torch.arange(5) >= lengths.unsqueeze(1), 0)
    return src, lengths


def test_an_ensemble_of_one_decodes_as_its_model():
    m = _model("general", seed=3)
    one = Seq2SeqEnsemble([m])
    src, lengths = _batch()
    for a, b in zip(m.greedy(src, lengths, 7), one.greedy(src, lengths, 7)):
        assert a.tokens == b.tokens and math.isclose(a.log_prob, b.log_prob, abs_tol=1e-12)
    for a, b in zip(m.beam_search(src, lengths, 4, 7), one.beam_search(src, lengths, 4, 7)):
        assert [h.tokens for h in a] == [h.tokens for h in b]
        assert all(math.isclose(x.score, y.score, abs_tol=1e-12) for x, y in zip(a, b))


def test_an_ensemble_averages_its_members_probabilities():
    m1, m2, m3 = _model("general", seed=1), _model("additive", seed=2), _model("none", seed=8)
    ens = Seq2SeqEnsemble([m1, m2, m3])
    src, lengths = _batch()
    tgt_in = torch.tensor([[BOS, 4, 5, 1]] * 6)
    by_hand = torch.stack([torch.softmax(m(src, lengths, tgt_in), dim=2) for m in (m1, m2, m3)]).mean(0)
    assert torch.allclose(ens(src, lengths, tgt_in).exp(), by_hand, atol=1e-12)
    # stepping the members' decoders gives the same distribution, step after step (<pad>/<bos> never come out)
    forced = ens(src, lengths, tgt_in)
    carry = ens.start(src, lengths)
    for t in range(4):
        logp, carry = ens.advance(tgt_in[:, t], carry)
        assert torch.isinf(logp[:, [0, BOS]]).all()
        keep = [1, EOS, 4, 5]
        assert torch.allclose(logp[:, keep], forced[:, t, keep], atol=1e-12)
    # the ensemble's search is exact under the averaged distribution: a wide beam ranks every output by it
    one_src, one_len = src[:1], lengths[:1]
    found = ens.beam_search(one_src, one_len, beam_size=6 ** 3, max_len=3, alpha=0.0, n_best=3)[0]
    best = []
    for L in range(3):
        for ys in itertools.product([1, 4, 5], repeat=L):
            tgt = torch.tensor([[BOS, *ys]])
            logp = ens(one_src, one_len, tgt)[0].detach()
            best.append((sum(float(logp[t, y]) for t, y in enumerate([*ys, EOS])), list(ys)))
    best.sort(key=lambda o: -o[0])
    finished = [h for h in found if h.finished]
    assert [h.tokens for h in finished[:2]] == [ys for _, ys in best[:2]]
    assert math.isclose(finished[0].log_prob, best[0][0], abs_tol=1e-9)


def test_ensemble_members_must_share_vocabularies():
    with pytest.raises(ValueError, match="member 2 has"):
        Seq2SeqEnsemble([_model(V=6), _model(V=7)])
    with pytest.raises(TypeError, match="non-empty list of Seq2Seq"):
        Seq2SeqEnsemble([])
    with pytest.raises(TypeError, match="non-empty list of Seq2Seq"):
        Seq2SeqEnsemble([_model(), torch.nn.Linear(2, 2)])
