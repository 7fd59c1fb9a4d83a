"""Every task's metrics, in one home: classification (accuracy, macro-F1, per class, the confusion matrix),
sequence labelling (token accuracy, span precision/recall/F1 per type), sequence to sequence (WER, PER, exact
match), forecasting (MAE, RMSE)."""
from __future__ import annotations

import math

import numpy as np

from ..text.tags import spans


def classification_report(gold, pred, labels: list[str]) -> dict:
    """Metrics over label ids ``gold``/``pred`` (sequences of ints into ``labels``).

    Returns ``accuracy``, ``macro_f1``, ``macro_precision``, ``macro_recall``, ``per_class`` ({label:
    {precision, recall, f1, support}}), ``confusion`` (rows gold, columns predicted) and ``n``.
    A class never predicted has precision 0 (and never present, recall 0), as scikit-learn's zero_division=0.
    """
    gold, pred = np.asarray(gold, dtype=np.int64), np.asarray(pred, dtype=np.int64)
    if gold.shape != pred.shape:
        raise ValueError(f"classification_report: gold and pred differ in length: {gold.shape} vs {pred.shape}")
    K = len(labels)
    confusion = np.zeros((K, K), dtype=np.int64)
    np.add.at(confusion, (gold, pred), 1)
    tp = np.diag(confusion).astype(float)
    predicted, support = confusion.sum(0).astype(float), confusion.sum(1).astype(float)
    precision = np.divide(tp, predicted, out=np.zeros(K), where=predicted > 0)
    recall = np.divide(tp, support, out=np.zeros(K), where=support > 0)
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros(K), where=denom > 0)
    n = int(len(gold))
    return {
        "accuracy": float(tp.sum() / n) if n else 0.0,
        "macro_f1": float(f1.mean()) if K else 0.0,
        "macro_precision": float(precision.mean()) if K else 0.0,
        "macro_recall": float(recall.mean()) if K else 0.0,
        "per_class": {lab: {"precision": float(precision[k]), "recall": float(recall[k]), "f1": float(f1[k]),
                            "support": int(support[k])} for k, lab in enumerate(labels)},
        "confusion": confusion.tolist(),
        "n": n,
    }


def format_report(metrics: dict, labels: list[str]) -> str:
    """The report as a small text table."""
    lines = [f"accuracy {metrics['accuracy']:.4f}   macro-F1 {metrics['macro_f1']:.4f}   n={metrics['n']:,}", "",
             f"{'label':<16}{'precision':>10}{'recall':>10}{'f1':>10}{'support':>10}"]
    for lab in labels:
        r = metrics["per_class"][lab]
        lines.append(f"{lab:<16}{r['precision']:>10.4f}{r['recall']:>10.4f}{r['f1']:>10.4f}{r['support']:>10,}")
    lines += ["", "confusion (rows gold, columns predicted):", " " * 16 + "".join(f"{lab[:9]:>10}" for lab in labels)]
    for lab, row in zip(labels, metrics["confusion"]):
        lines.append(f"{lab[:16]:<16}" + "".join(f"{v:>10,}" for v in row))
    return "\n".join(lines)


def tagging_report(gold: list, pred: list, kind: str, scheme: str) -> dict:
    """Token accuracy always; for entities and words, span precision/recall/F1 with exact matches (seqeval's
    conventions, micro-averaged), and per type for entities. ``kind``: "entities", "words" or "tags" (token
    accuracy only); ``scheme``: the tags' scheme (BIO, BIOES, BMES)."""
    pairs = [(g, p) for gs, ps in zip(gold, pred) for g, p in zip(gs, ps)]
    report = {"token_accuracy": sum(g == p for g, p in pairs) / max(1, len(pairs)), "n_sentences": len(gold),
              "n_tokens": len(pairs)}
    if kind == "tags":
        return report
    counts: dict = {}
    for gs, ps in zip(gold, pred):
        g, p = set(spans(gs, scheme)), set(spans(ps, scheme))
        for typ in {s[0] for s in g | p}:
            c = counts.setdefault(typ, [0, 0, 0])      # true positives, predicted, gold
            c[0] += len({s for s in g & p if s[0] == typ})
            c[1] += len({s for s in p if s[0] == typ})
            c[2] += len({s for s in g if s[0] == typ})

    def prf(tp, npred, ngold):
        tp, npred, ngold = int(tp), int(npred), int(ngold)
        precision = tp / npred if npred else 0.0
        recall = tp / ngold if ngold else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        return {"precision": precision, "recall": recall, "f1": f1, "support": ngold}

    total = np.sum(list(counts.values()), axis=0) if counts else np.zeros(3, int)
    report.update({k: v for k, v in prf(*total).items() if k != "support"})
    if kind == "entities":
        report["per_type"] = {typ: prf(*c) for typ, c in sorted(counts.items())}
    return report


def edit_distance(a: list, b: list) -> int:
    """Levenshtein distance (insertions, deletions, substitutions all cost 1)."""
    prev = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        cur = [i]
        for j, y in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (x != y)))
        prev = cur
    return prev[-1]


def sequence_report(refs: list, hyps: list, alternatives: list | None = None) -> dict:
    """``per`` (edits / reference tokens), ``wer`` (share of inexact outputs), ``exact_match``, ``n``; and
    ``wer_any``/``per_any`` against every accepted reference of each example (``alternatives``: a list of
    references per example; without it, the one reference)."""
    if len(refs) != len(hyps):
        raise ValueError(f"sequence_report: {len(refs)} references but {len(hyps)} outputs")
    alternatives = [[r] for r in refs] if alternatives is None else alternatives
    if len(alternatives) != len(refs):
        raise ValueError(f"sequence_report: {len(refs)} references but alternatives for {len(alternatives)}")
    edits = [edit_distance(h, r) for r, h in zip(refs, hyps)]
    exact = np.mean([e == 0 for e in edits]) if refs else 0.0
    closest = [min(((edit_distance(h, a), len(a)) for a in alts), default=(e, len(r)))
               for alts, h, e, r in zip(alternatives, hyps, edits, refs)]
    return {"wer": float(1.0 - exact), "per": sum(edits) / max(1, sum(len(r) for r in refs)),
            "exact_match": float(exact), "n": len(refs),
            "wer_any": float(np.mean([d > 0 for d, _ in closest])) if refs else 1.0,
            "per_any": sum(d for d, _ in closest) / max(1, sum(n for _, n in closest))}


def errors(pred: np.ndarray, true: np.ndarray, prefix: str = "") -> dict:
    """Mean absolute and root mean squared error over every value of ``(N, H)`` arrays."""
    diff = np.asarray(pred, dtype=np.float64) - np.asarray(true, dtype=np.float64)
    if diff.size == 0:
        return {f"{prefix}mae": math.nan, f"{prefix}rmse": math.nan}
    return {f"{prefix}mae": float(np.abs(diff).mean()), f"{prefix}rmse": float(np.sqrt((diff ** 2).mean()))}
