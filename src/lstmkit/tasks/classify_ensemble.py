"""Class probabilities as a classifier and an ensemble of classifiers share them: metrics and prediction
records from ``predict_proba``, and soft voting (the members' probabilities averaged).

Shape legend: ``N`` texts, ``K`` classes.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..data.readers import TextDataset
from ..train.metrics import classification_report


class ProbabilityOutputs:
    """Metrics and prediction records from ``predict_proba``: shared by a classifier and an ensemble of them."""

    labels: list

    def evaluate(self, enc, batch_size: int = 256) -> dict:
        if enc.labels is None:
            raise ValueError("evaluation needs labelled data")
        probs = self.predict_proba(enc, batch_size)
        report = classification_report(enc.labels, probs.argmax(1), self.labels)
        # mean cross-entropy: breaks ties between epochs of equal accuracy (small dev sets tie often)
        report["loss"] = float(-np.log(np.clip(probs[np.arange(len(probs)), enc.labels], 1e-12, None)).mean())
        return report

    def predict_records(self, texts: list[str]) -> list[dict]:
        """One record per text: ``input``, ``label``, ``probability``, ``probabilities`` ({label: p}); a text
        with no token at all gets ``label`` None and an ``error`` instead."""
        enc = self.encode(TextDataset(list(texts), None, "input"))
        records = []
        for text, p, empty in zip(texts, self.predict_proba(enc), enc.empty):
            if empty:
                records.append({"input": text, "label": None, "probability": None, "probabilities": None,
                                "error": "empty text: nothing to classify"})
                continue
            k = int(p.argmax())
            records.append({"input": text, "label": self.labels[k], "probability": round(float(p[k]), 6),
                            "probabilities": {lab: round(float(v), 6) for lab, v in zip(self.labels, p)}})
        return records


@dataclass
class EnsembleEncoded:
    """A dataset as each member of an ensemble encodes it, with the labels (the same for every member)."""

    members: list
    labels: np.ndarray | None
    empty: np.ndarray          # True where no member's tokenizer found a token


class ClassifyEnsemble(ProbabilityOutputs):
    """Classifiers that predict together: the mean of their ``(N, K)`` class probabilities (scikit-learn's soft
    voting). Every member encodes the texts with its own tokenizer; ``evaluate`` and ``predict_records`` work as
    a single classifier's."""

    name = "classify"
    primary_metric = "accuracy"

    def __init__(self, members: list):
        if not members:
            raise ValueError("an ensemble needs one or more classifiers, got none")
        for k, m in enumerate(members):
            if not isinstance(m, ProbabilityOutputs):   # a classifier, or an ensemble of them
                raise TypeError(f"ensemble member {k} is a {getattr(m, 'name', type(m).__name__)!r} model, not a "
                                f"classifier")
            if m.labels != members[0].labels:
                raise ValueError(f"the labels differ: member 0 has {members[0].labels}, member {k} has {m.labels}")
        self.members = list(members)
        self.labels = list(members[0].labels)

    def encode(self, data: TextDataset) -> EnsembleEncoded:
        encs = [m.encode(data) for m in self.members]
        return EnsembleEncoded(encs, encs[0].labels, np.logical_and.reduce([e.empty for e in encs]))

    def predict_proba(self, enc: EnsembleEncoded, batch_size: int = 256) -> np.ndarray:
        """``(N, K)``: the members' probabilities, averaged."""
        return np.mean([m.predict_proba(e, batch_size) for m, e in zip(self.members, enc.members)], axis=0)
