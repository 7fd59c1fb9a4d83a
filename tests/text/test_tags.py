"""Tag schemes: spans as seqeval reads them, conversions that round-trip, problems reported, repairs."""
import random

import pytest

from lstmkit.text.tags import convert, from_spans, problems, repair, spans

seqeval = pytest.importorskip("seqeval.metrics.sequence_labeling", reason="seqeval is a test dependency")


def _random_tags(scheme, n, rng):
    prefixes = {"BIO": "BIO", "BIOES": "BIOES"}[scheme]
    tags = []
    for _ in range(n):
        p = rng.choice(prefixes)
        tags.append("O" if p == "O" else f"{p}-{rng.choice(['PER', 'LOC'])}")
    return tags


@pytest.mark.parametrize("scheme", ["BIO", "BIOES"])
def test_spans_match_seqeval_on_random_sequences_dangling_tags_included(scheme):
    rng = random.Random(0)
    for _ in range(2000):
        tags = _random_tags(scheme, rng.randint(1, 12), rng)
        expected = [(t, s, e + 1) for t, s, e in seqeval.get_entities(tags)]
        assert spans(tags, scheme) == expected, tags


def test_conversions_round_trip_and_bmes():
    bio = ["B-PER", "I-PER", "O", "B-LOC", "B-ORG", "I-ORG", "I-ORG"]
    bioes = convert(bio, "BIO", "BIOES")
    assert bioes == ["B-PER", "E-PER", "O", "S-LOC", "B-ORG", "I-ORG", "E-ORG"]
    bmes = convert(bio, "BIO", "BMES")
    assert bmes == ["B-PER", "E-PER", "O", "S-LOC", "B-ORG", "M-ORG", "E-ORG"]
    assert convert(bmes, "BMES", "BIO") == bio and convert(bioes, "BIOES", "BIO") == bio
    # word segmentation: bare B/M/E/S
    assert spans(["B", "E", "S", "B", "M", "E"], "BMES") == [("", 0, 2), ("", 2, 3), ("", 3, 6)]
    assert from_spans([("", 0, 2), ("", 2, 3)], 3, "BMES") == ["B", "E", "S"]


def test_problems_and_repair():
    assert problems(["B-PER", "I-PER", "O"], "BIO") == []
    assert problems(["O", "I-PER", "I-PER"], "BIO") == ["token 1: I-PER does not continue an entity (after O)"]
    assert repair(["O", "I-PER", "I-PER"], "BIO") == ["O", "B-PER", "I-PER"]
    assert problems(["B-PER", "I-LOC"], "BIO") == ["token 1: I-LOC does not continue an entity (after B-PER)"]
    assert problems(["B-PER", "M-PER", "O"], "BMES") == ["token 1: M-PER is not closed by E before O"]
    assert problems(["B-PER", "M-PER"], "BMES") == ["token 1: M-PER is not closed by E at the end"]
    assert repair(["B-PER", "M-PER", "O"], "BMES") == ["B-PER", "E-PER", "O"]
    assert problems(["S-LOC", "B-PER", "E-PER"], "BIOES") == []


def test_bad_tags_are_errors():
    with pytest.raises(ValueError, match="'M-PER' is not a BIO tag"):
        spans(["M-PER"], "BIO")
    with pytest.raises(ValueError, match="tag scheme must be one of BIO, BIOES, BMES"):
        spans(["O"], "IOB1")


def test_allowed_transitions_follow_the_scheme():
    from lstmkit.text.tags import allowed_transitions

    labels = ["O", "B-PER", "M-PER", "E-PER", "S-PER", "B-LOC", "E-LOC"]
    allowed, start, end = allowed_transitions(labels, "BMES")
    ix = {lab: k for k, lab in enumerate(labels)}
    ok = lambda a, b: allowed[ix[a]][ix[b]]  # noqa: E731
    assert ok("B-PER", "M-PER") and ok("B-PER", "E-PER") and ok("E-PER", "O") and ok("O", "S-PER")
    assert not ok("O", "E-PER") and not ok("B-PER", "E-LOC") and not ok("B-PER", "O") and not ok("M-PER", "B-LOC")
    assert start == [True, True, False, False, True, True, False]
    assert end == [True, False, False, True, True, False, True]
    bio_allowed, bio_start, _ = allowed_transitions(["O", "B-X", "I-X", "I-Y"], "BIO")
    assert bio_allowed[1][2] and not bio_allowed[0][2] and not bio_allowed[1][3] and bio_allowed[2][0]
    assert bio_start == [True, True, False, False]
