"""Text classification, the walkthrough end to end: tokens -> ids -> padded ids + lengths -> embeddings -> LSTM
-> pooled sentence vector -> Linear -> softmax, trained with cross-entropy.

Shape legend: ``B`` batch, ``T`` time steps, ``E`` embedding size, ``H`` units, ``D`` directions, ``V``
vocabulary, ``K`` classes.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..data.batching import bucket_batches
from ..data.readers import TextDataset
from ..nn import LSTM, last_hidden
from ..text import Vocab, make_tokenizer, pad_sequences
from ..train.metrics import classification_report

POOLINGS = ("last", "max", "mean", "max+mean")


@dataclass
class ClassifyConfig:
    """Everything needed to rebuild a classifier and its tokenizer; stored in the run's ``config.json``."""

    tokenizer: dict = field(default_factory=lambda: {"name": "jieba"})
    maxlen: int = 200            # tokens kept per text (longer texts are truncated)
    min_freq: int = 1
    max_vocab: int | None = 50_000
    embedding_dim: int = 128
    units: int = 128
    layers: int = 1
    bidirectional: bool = True
    dropout: float = 0.4
    pooling: str = "max"
    cell: str = "basic"
    freeze_embeddings: bool = False
    labels: list = field(default_factory=list)

    def check(self) -> "ClassifyConfig":
        if self.pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS}, got {self.pooling!r}")
        for name in ("maxlen", "embedding_dim", "units", "layers", "min_freq"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} must be a positive int, got {v!r}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout!r}")
        make_tokenizer(self.tokenizer)
        return self

    @classmethod
    def from_dict(cls, data: dict) -> "ClassifyConfig":
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known).check()


class TextClassifier(nn.Module):
    """Embedding -> LSTM -> pooling over the valid steps only -> dropout -> Linear ``(B, K)`` logits.

    Pooling: ``"last"`` the final state of the top layer (both directions), ``"max"``/``"mean"`` over every
    valid step's output, ``"max+mean"`` both concatenated. Padding never reaches the pooled vector.
    """

    def __init__(self, config: ClassifyConfig, vocab_size: int, num_classes: int):
        super().__init__()
        self.config = config
        c = config
        self.embedding = nn.Embedding(vocab_size, c.embedding_dim, padding_idx=0)
        nn.init.normal_(self.embedding.weight, 0.0, 0.1)
        with torch.no_grad():
            self.embedding.weight[0].zero_()
        self.embedding.weight.requires_grad_(not c.freeze_embeddings)
        self.lstm = LSTM(c.embedding_dim, c.units, num_layers=c.layers, bidirectional=c.bidirectional,
                         dropout=c.dropout if c.layers > 1 else 0.0, cell=c.cell)
        pooled = self.lstm.output_size * (2 if c.pooling == "max+mean" else 1)
        self.dropout = nn.Dropout(c.dropout)
        self.head = nn.Linear(pooled, num_classes)

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        x = self.dropout(self.embedding(ids))                          # (B, T) -> (B, T, E)
        outputs, states = self.lstm(x, lengths)                        # (B, T, D*H)
        return self.head(self.dropout(self.pool(outputs, states, lengths)))  # (B, D*H) -> (B, K)

    def pool(self, outputs, states, lengths) -> torch.Tensor:
        """The sentence vector ``(B, D*H)`` (``(B, 2*D*H)`` for max+mean) from the valid steps only."""
        mode = self.config.pooling
        if mode == "last":
            return last_hidden(states)
        valid = (torch.arange(outputs.shape[1], device=outputs.device) < lengths.unsqueeze(1)).unsqueeze(2)
        pooled = []
        if mode in ("max", "max+mean"):
            pooled.append(outputs.masked_fill(~valid, float("-inf")).amax(dim=1))
        if mode in ("mean", "max+mean"):
            pooled.append(outputs.sum(dim=1) / lengths.unsqueeze(1).to(outputs.dtype))  # padding is zero
        return torch.cat(pooled, dim=1)


@dataclass
class Encoded:
    """A dataset as ids: one id list per text (never empty), label ids or None."""

    ids: list
    labels: np.ndarray | None
    empty: np.ndarray          # True where the text had no token at all


class ClassifyTask:
    """The classifier task: encoding, batches, the training step, prediction and metrics."""

    name = "classify"
    primary_metric = "accuracy"

    def __init__(self, config: ClassifyConfig, vocab: Vocab, model: TextClassifier | None = None):
        self.config = config.check()
        self.tokenizer = make_tokenizer(config.tokenizer)
        self.vocab = vocab
        self.labels = list(config.labels)
        self.model = model if model is not None else TextClassifier(config, len(vocab), len(self.labels))

    @classmethod
    def from_data(cls, config: ClassifyConfig, train: TextDataset) -> "ClassifyTask":
        """Build the tokenizer, the vocabulary (from the training texts) and the label set."""
        if not train.texts:
            raise ValueError("the training set is empty")
        if train.labels is None:
            raise ValueError("the training set has no labels")
        labels = sorted(set(train.labels), key=_label_key)
        if len(labels) < 2:
            raise ValueError(f"the training set has {len(labels)} label(s) ({labels}); a classifier needs two or more")
        config.labels = labels
        config.check()
        tok = make_tokenizer(config.tokenizer)
        vocab = Vocab.build((tok(t) for t in train.texts), min_freq=config.min_freq, max_size=config.max_vocab)
        return cls(config, vocab)

    # -- data ------------------------------------------------------------------------------------------------
    def encode(self, data: TextDataset) -> Encoded:
        ids, empty = [], []
        for text in data.texts:
            seq = self.vocab.encode(self.tokenizer(text))[: self.config.maxlen]
            empty.append(not seq)
            ids.append(seq or [self.vocab.unk_id])   # an empty text still needs one step
        labels = None
        if data.labels is not None:
            index = {lab: k for k, lab in enumerate(self.labels)}
            unknown = sorted(set(data.labels) - set(index), key=_label_key)
            if unknown:
                raise ValueError(f"{data.source}: labels {unknown[:5]} were not in the training set "
                                 f"(known: {self.labels})")
            labels = np.array([index[lab] for lab in data.labels], dtype=np.int64)
        return Encoded(ids, labels, np.array(empty, dtype=bool))

    def batches(self, enc: Encoded, batch_size: int, shuffle: bool = False, seed: int = 0):
        order = bucket_batches([len(s) for s in enc.ids], batch_size, shuffle=shuffle, seed=seed)
        for idx in order:
            ids, lengths = pad_sequences([enc.ids[i] for i in idx])
            batch = {"ids": torch.from_numpy(ids), "lengths": torch.from_numpy(lengths), "index": idx}
            if enc.labels is not None:
                batch["labels"] = torch.from_numpy(enc.labels[idx])
            yield batch

    # -- training and inference ------------------------------------------------------------------------------
    def step(self, batch) -> torch.Tensor:
        logits = self.model(batch["ids"], batch["lengths"])
        return F.cross_entropy(logits, batch["labels"])

    @torch.no_grad()
    def predict_proba(self, enc: Encoded, batch_size: int = 256) -> np.ndarray:
        """``(N, K)`` class probabilities, in the input order."""
        self.model.eval()
        probs = np.zeros((len(enc.ids), len(self.labels)), dtype=np.float32)
        for batch in self.batches(enc, batch_size):
            probs[batch["index"]] = F.softmax(self.model(batch["ids"], batch["lengths"]), dim=1).numpy()
        return probs

    def evaluate(self, enc: Encoded, batch_size: int = 256) -> dict:
        if enc.labels is None:
            raise ValueError("evaluation needs labels")
        pred = self.predict_proba(enc, batch_size).argmax(1)
        return classification_report(enc.labels, pred, self.labels)

    def config_dict(self) -> dict:
        return asdict(self.config)


def _label_key(label: str):
    """Numeric labels in numeric order ("2" before "10"), others alphabetically."""
    return (0, float(label), "") if _is_number(label) else (1, 0.0, label)


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False
