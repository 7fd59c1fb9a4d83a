"""Sequence labelling on the built-in corpora: lstmkit's BiLSTM-CRF with its defaults, and jieba beside it for
word segmentation (same test sentences, same word-level P/R/F1).

    python benchmarks/bench_tagging.py                       # msra-ner, pd98-seg, pd98-pos
    python benchmarks/bench_tagging.py --corpora pd98-seg --epochs 4
    python benchmarks/bench_tagging.py --decoding            # CRF vs softmax: decoding and loss cost only

Prints one table: the corpus, the model, its test metrics, training time on this machine, tagging throughput.
"""
from __future__ import annotations

import argparse
import time

import torch

from _common import train_timed
from lstmkit.data import load_corpus
from lstmkit.tasks.tag import TagConfig, TagTask
from lstmkit.train.metrics import tagging_report
from lstmkit.text.tags import from_spans, spans
from lstmkit.train.trainer import seed_everything

SETUP = {"msra-ner": ("entities", "BMES", "f1"), "pd98-seg": ("words", "BMES", "f1"),
         "pd98-pos": ("tags", "BMES", "token_accuracy")}


def bench_lstmkit(name: str, epochs: int | None, log) -> dict:
    kind, scheme, metric = SETUP[name]
    splits = load_corpus(name)
    seed_everything(13)
    task = TagTask.from_data(TagConfig.for_kind(kind, scheme=scheme), splits["train"])
    best, train_s = train_timed(task, splits, epochs, log)
    test = splits["test"]
    t0 = time.perf_counter()
    m = task.evaluate(task.encode(test))
    tag_s = time.perf_counter() - t0
    return {"corpus": name, "model": f"lstmkit BiLSTM-CRF (best epoch {best['epoch']})", "metric": metric,
            "value": m[metric], "precision": m.get("precision"), "recall": m.get("recall"),
            "token_accuracy": m["token_accuracy"], "train_min": train_s / 60, "sent_s": len(test) / tag_s}


def bench_jieba_seg() -> dict:
    import jieba

    jieba.setLogLevel(60)
    test = load_corpus("pd98-seg")["test"]
    t0 = time.perf_counter()
    pred = []
    for chars, tags in zip(test.sentences, test.tags):
        words = jieba.lcut("".join(chars), HMM=True)
        found, k = [], 0
        for w in words:
            found.append(("", k, k + len(w)))
            k += len(w)
        pred.append(from_spans(found, len(chars), "BMES"))
    seconds = time.perf_counter() - t0
    m = tagging_report(test.tags, pred, kind="words", scheme="BMES")
    assert all(spans(t, "BMES") for t in test.tags)
    return {"corpus": "pd98-seg", "model": "jieba (default dictionary, HMM)", "metric": "f1", "value": m["f1"],
            "precision": m["precision"], "recall": m["recall"], "token_accuracy": m["token_accuracy"],
            "train_min": 0.0, "sent_s": len(test) / seconds}


def bench_decoding(repeats: int = 20) -> None:
    """The CRF's cost against a per-step softmax on the same emissions (B=128 sentences of up to 50 characters,
    mixed lengths): Viterbi vs argmax, and the CRF's negative log-likelihood (forward algorithm) vs cross-entropy,
    forward and backward. Both ABBA-alternated, best of ``repeats``."""
    import torch.nn.functional as F

    from bench_lstm import best_times
    from lstmkit.nn.crf import CRF

    g = torch.Generator().manual_seed(0)
    B, T = 128, 50
    lengths = torch.randint(5, T + 1, (B,), generator=g)
    lengths[0] = T
    valid = torch.arange(T) < lengths.unsqueeze(1)
    print(f"# CRF vs softmax, B={B}, T<={T}, {torch.get_num_threads()} threads, torch {torch.__version__}")
    print("| tags K | Viterbi ms | argmax ms | CRF NLL fwd+bwd ms | cross-entropy fwd+bwd ms |")
    print("|---:|---:|---:|---:|---:|")
    for K in (4, 13, 45):   # BMES segmentation, MSRA's BMES-{PER,LOC,ORG}+O, People's Daily POS
        crf = CRF(K)
        em = torch.randn(B, T, K, generator=g, requires_grad=True)
        tags = torch.randint(0, K, (B, T), generator=g)
        with torch.no_grad():
            vit, arg = best_times([lambda: crf.viterbi(em, lengths), lambda: em.argmax(2)], repeats)

        def nll():
            (-crf.log_likelihood(em, tags, lengths).mean()).backward()

        def ce():
            F.cross_entropy(em[valid], tags[valid]).backward()

        a, b = best_times([nll, ce], repeats)
        print(f"| {K} | {vit * 1e3:.2f} | {arg * 1e3:.3f} | {a * 1e3:.2f} | {b * 1e3:.2f} |")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--corpora", default="msra-ner,pd98-seg,pd98-pos")
    ap.add_argument("--epochs", type=int, default=None, help="override the default epochs")
    ap.add_argument("--decoding", action="store_true", help="only the CRF vs softmax decoding/loss timings")
    args = ap.parse_args(argv)
    if args.decoding:
        return bench_decoding()
    rows = []
    for name in args.corpora.split(","):
        if name == "pd98-seg":
            rows.append(bench_jieba_seg())
        rows.append(bench_lstmkit(name, args.epochs, log=lambda m: print("#", m, flush=True)))
    print(f"# {torch.get_num_threads()} threads, torch {torch.__version__}")
    print("| corpus | model | test metric | precision | recall | token accuracy | training | sentences/s |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        pr = [f"{r[k]:.4f}" if r[k] is not None else "-" for k in ("precision", "recall")]
        print(f"| {r['corpus']} | {r['model']} | {r['metric']} {r['value']:.4f} | {pr[0]} | {pr[1]} | "
              f"{r['token_accuracy']:.4f} | {r['train_min']:.1f} min | {r['sent_s']:,.0f} |")
    return rows


if __name__ == "__main__":
    main()
