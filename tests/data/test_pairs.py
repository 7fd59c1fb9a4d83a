"""Sequence pairs: the check that the target tokenizer suits the targets (character-level targets under the
whitespace tokenizer make a seq2seq model a classifier over whole strings)."""
import random

import pytest

from lstmkit.data import load_corpus
from lstmkit.data.pairs import PairDataset, check_target_tokenizer, read_pairs, target_token_stats


def _reversal(tmp_path, n=100):
    rng = random.Random(0)
    words = ["".join(rng.choice("abcdefgh") for _ in range(rng.randint(2, 9))) for _ in range(n)]
    path = tmp_path / "reverse.tsv"
    path.write_text("".join(f"{w}\t{w[::-1]}\n" for w in words), encoding="utf-8")
    return read_pairs(path)


def test_target_token_stats_by_hand():
    stats = target_token_stats(["edcba", "e", "e d c", " ba ", "x y"])
    assert stats == {"n": 5, "single": 2, "share": 0.4, "example": "edcba"}
    assert target_token_stats([]) == {"n": 0, "single": 0, "share": 0.0, "example": None}
    with pytest.raises(TypeError, match="target_token_stats: targets must be a list of strings, got a string"):
        target_token_stats("edcba")


def test_reversal_pairs_under_the_whitespace_tokenizer_are_warned_about(tmp_path):
    pairs = _reversal(tmp_path)
    warning = check_target_tokenizer(pairs, "whitespace")
    assert warning.startswith(f"seq2seq: 100 of 100 targets in {pairs.source} (100%) are one whitespace token of "
                              f"several characters (e.g. {pairs.targets[0]!r}): ")
    assert warning.endswith("give --target-tokenizer char") and "\n" not in warning
    assert check_target_tokenizer(pairs, {"name": "whitespace"}) == warning     # a config's tokenizer dict
    assert check_target_tokenizer(pairs, "char") is None
    assert check_target_tokenizer(pairs, {"name": "char", "split_latin": True}) is None
    spaced = PairDataset(pairs.sources, [" ".join(t) for t in pairs.targets], "spaced")
    assert check_target_tokenizer(spaced, "whitespace") is None


def test_phoneme_targets_are_not_warned_about():
    pairs = load_corpus("cmudict-g2p")["dev"]
    assert target_token_stats(pairs.targets)["share"] < 0.05     # a few one-phoneme words: "a" -> "AH"
    assert check_target_tokenizer(pairs, "whitespace") is None


@pytest.mark.parametrize("single,expected", [(90, True), (89, False)])
def test_the_warning_starts_at_nine_targets_in_ten(single, expected):
    targets = ["edcba"] * single + ["e d c b a"] * (100 - single)
    warning = check_target_tokenizer(PairDataset(["x"] * 100, targets), "whitespace")
    assert (warning is not None) == expected
    if expected:
        assert warning.startswith("seq2seq: 90 of 100 targets (90%) are one whitespace token")
    assert check_target_tokenizer(PairDataset(["x"] * 100, targets), "whitespace", share=0.5) is not None


def test_one_character_targets_and_no_targets_are_not_warned_about():
    assert check_target_tokenizer(PairDataset(["ab", "cd"], ["x", "y"]), "whitespace") is None
    assert check_target_tokenizer(PairDataset([], []), "whitespace") is None
    assert check_target_tokenizer(PairDataset(["ab"], None), "whitespace") is None


def test_bad_arguments_name_themselves():
    pairs = PairDataset(["ab"], ["ba"])
    with pytest.raises(TypeError, match="check_target_tokenizer: pairs must be a PairDataset, got list"):
        check_target_tokenizer([("ab", "ba")], "whitespace")
    with pytest.raises(TypeError, match="check_target_tokenizer: tokenizer must be a name or a config dict"):
        check_target_tokenizer(pairs, {"kind": "char"})
    for share in (0, 1.5, True):
        with pytest.raises(ValueError, match=r"check_target_tokenizer: share must be a number in \(0, 1\], got"):
            check_target_tokenizer(pairs, "whitespace", share=share)
