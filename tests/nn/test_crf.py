"""The CRF against brute force: log Z by enumerating every tag sequence, Viterbi by exhaustive search."""
import itertools

import pytest
import torch

from lstmkit.nn.crf import CRF

F64 = torch.float64


def _brute(crf, emissions, length):
    """Every tag sequence of ``length``: (log Z, best sequence, best score)."""
    trans, start, end = crf._scores(F64)
    scores = {}
    for seq in itertools.product(range(crf.num_tags), repeat=length):
        s = start[seq[0]] + end[seq[-1]] + sum(emissions[t, seq[t]] for t in range(length))
        s = s + sum(trans[seq[t - 1], seq[t]] for t in range(1, length))
        scores[seq] = s
    best = max(scores, key=lambda k: scores[k])
    return torch.logsumexp(torch.stack(list(scores.values())), 0), list(best), scores[best]


@pytest.mark.parametrize("constrained", [False, True])
def test_forward_and_viterbi_match_brute_force_with_mixed_lengths(constrained):
    torch.manual_seed(0)
    K = 3
    allowed = torch.tensor([[1, 1, 0], [1, 1, 1], [1, 0, 1]], dtype=torch.bool) if constrained else None
    crf = CRF(K, allowed=allowed, allowed_start=torch.tensor([1, 1, 0]) if constrained else None).double()
    with torch.no_grad():
        crf.start.normal_()
        crf.end.normal_()
        crf.transitions.normal_()
    emissions = torch.randn(4, 5, K, dtype=F64)
    lengths = torch.tensor([5, 1, 3, 4])
    logz = crf.log_partition(emissions, lengths)
    tags, best_scores = crf.viterbi(emissions, lengths)
    for b in range(4):
        n = int(lengths[b])
        z, best, best_score = _brute(crf, emissions[b], n)
        torch.testing.assert_close(logz[b], z)
        assert tags[b, :n].tolist() == best and not tags[b, n:].any()
        torch.testing.assert_close(best_scores[b], best_score)
        # the score of the decoded path is its Viterbi score
        torch.testing.assert_close(crf.score(emissions[b:b + 1], tags[b:b + 1], lengths[b:b + 1])[0], best_score)
    if constrained:
        for b in range(4):
            n = int(lengths[b])
            assert tags[b, 0] != 2
            assert all(allowed[tags[b, t - 1], tags[b, t]] for t in range(1, n))


def test_likelihood_is_a_distribution_and_learns():
    torch.manual_seed(1)
    crf = CRF(2).double()
    emissions = torch.randn(1, 3, 2, dtype=F64)
    total = sum(crf.log_likelihood(emissions, torch.tensor([seq]), torch.tensor([3])).exp()
                for seq in itertools.product(range(2), repeat=3))
    torch.testing.assert_close(total, torch.tensor([1.0], dtype=F64))
    # a CRF alone learns that tag 1 follows tag 0
    crf = CRF(2)
    opt = torch.optim.Adam(crf.parameters(), lr=0.1)
    tags = torch.tensor([[0, 1, 0, 1]])
    for _ in range(100):
        loss = -crf.log_likelihood(torch.zeros(1, 4, 2), tags).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert crf.viterbi(torch.zeros(1, 4, 2))[0].tolist() == [[0, 1, 0, 1]]


def test_gradcheck_and_errors():
    crf = CRF(3).double()
    emissions = torch.randn(2, 4, 3, dtype=F64, requires_grad=True)
    tags, lengths = torch.tensor([[0, 1, 2, 0], [2, 2, 0, 0]]), torch.tensor([4, 2])
    assert torch.autograd.gradcheck(lambda e: crf.log_likelihood(e, tags, lengths), (emissions,))
    with pytest.raises(ValueError, match=r"emissions must be \(B, T, 3\)"):
        crf.log_partition(torch.zeros(2, 4, 5))
    with pytest.raises(ValueError, match="lengths must be"):
        crf.viterbi(torch.zeros(2, 4, 3), torch.tensor([0, 4]))
    with pytest.raises(ValueError, match="allowed must be"):
        CRF(3, allowed=torch.ones(2, 2, dtype=torch.bool))


def test_forward_algorithm_is_stable_for_large_scores_and_forbidden_moves():
    """The exp-space matrix product (shifted by each row's max) equals the plain logsumexp recursion, and its
    gradients stay finite, with emissions of magnitude ~100 and many forbidden transitions."""
    torch.manual_seed(0)
    K, T = 6, 7
    allowed = torch.rand(K, K) > 0.5
    allowed[:, 0] = True                                   # every tag can move somewhere
    crf = CRF(K, allowed).double()
    em = (torch.randn(4, T, K, dtype=torch.float64) * 40).requires_grad_(True)
    lengths = torch.tensor([7, 4, 2, 1])
    got = crf.log_partition(em, lengths)
    trans, start, end = crf._scores(em.dtype)
    alpha = start + em[:, 0]
    for t in range(1, T):
        nxt = torch.logsumexp(alpha.unsqueeze(2) + trans, dim=1) + em[:, t]
        alpha = torch.where((t < lengths).unsqueeze(1), nxt, alpha)
    torch.testing.assert_close(got, torch.logsumexp(alpha + end, 1), rtol=1e-12, atol=1e-9)
    got.sum().backward()
    assert torch.isfinite(em.grad).all() and torch.isfinite(crf.transitions.grad).all()
