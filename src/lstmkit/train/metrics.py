"""Classification metrics: accuracy, macro-F1, per-class precision/recall/F1, the confusion matrix."""
from __future__ import annotations

import numpy as np


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
