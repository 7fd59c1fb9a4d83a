"""Pretrained starts for a classifier: word vectors from a file, or the embedding and LSTM of language models.

Each function takes a :class:`lstmkit.tasks.classify.ClassifyTask`; the task's methods of the same names call
them. Shape legend: ``V`` vocabulary, ``E`` embedding size, ``H`` units.
"""
from __future__ import annotations

from dataclasses import replace

import torch

from ..nn import CellConfig
from ..text.embeddings import load_pretrained_tables


def with_pretrained(task, pretrained, bigrams=None):
    """A new classifier task like ``task`` with its embedding initialised from ``pretrained`` (a
    :class:`lstmkit.text.Pretrained` for its vocabulary); the file's dimension becomes ``embedding_dim``.
    ``bigrams``: one for the bigram vocabulary too (see :func:`bigram_keys`): the rows it found are copied,
    the rest start small and random as without it."""
    if pretrained.matrix.shape[0] != len(task.vocab):
        raise ValueError(f"pretrained matrix has {pretrained.matrix.shape[0]} rows, the vocabulary "
                         f"{len(task.vocab)}")
    if bigrams is not None and (task.bigram_vocab is None or bigrams.matrix.shape != (len(task.bigram_vocab),
                                                                                      pretrained.dim)):
        raise ValueError(f"pretrained bigram matrix of shape {tuple(bigrams.matrix.shape)} does not fit the "
                         f"bigram vocabulary ({len(task.bigram_vocab) if task.bigram_vocab else 0} x "
                         f"{pretrained.dim})")
    config = replace(task.config, embedding_dim=pretrained.dim)
    new = type(task)(config, task.vocab, task.bigram_vocab)        # the model rebuilt at the file's E
    with torch.no_grad():
        new.model.embedding.weight.copy_(torch.from_numpy(pretrained.matrix))
        if bigrams is not None:   # only the rows the file gave: most bigrams are no word, and keep their start
            rows = torch.from_numpy(bigrams.rows)
            new.model.bigram_embedding.weight[rows] = torch.from_numpy(bigrams.matrix)[rows]
    return new


def with_vectors(task, path, fmt: str = "auto", std: float | None = None, seed: int = 0):
    """``task`` with its embeddings read from a vectors file (or a built-in name, ``zhwiki``): the token
    table, and the bigram table where a bigram is a word of the file (:func:`bigram_keys`); ``std`` rescales
    the vectors (:func:`lstmkit.text.load_pretrained`). Returns ``(new task, pretrained, bigrams or None)``."""
    tables = [(task.vocab, None)] + ([(task.bigram_vocab, bigram_keys(task))] if task.bigram_vocab else [])
    pre, *rest = load_pretrained_tables(path, tables, fmt, seed=seed, std=std)   # the file read once
    bigrams = rest[0] if rest else None
    return with_pretrained(task, pre, bigrams), pre, bigrams


def bigram_keys(task) -> list[str]:
    """What each bigram is looked up by in a vectors file: the two tokens joined, as a word (``酒店``, for
    the character bigram ``"酒 店"``, or jieba's words ``"不 错"``); other tokenizers' bigrams keep their
    space."""
    if task.bigram_vocab is None:
        raise ValueError("this classifier has no bigram features (bigrams=False)")
    if task.config.tokenizer.get("name") not in ("char", "jieba"):
        return list(task.bigram_vocab.itos)
    return [b.replace(" ", "") for b in task.bigram_vocab.itos]


def init_from_lms(task, lms: list, names: list | None = None) -> list[str]:
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
    c, lstm, seen = task.config, task.model.lstm, {}
    for lm, name in zip(lms, names):
        if getattr(lm, "name", None) != "lm":
            raise TypeError(f"init_from_lms: {name} is a {getattr(lm, 'name', type(lm).__name__)!r} model, "
                            f"not a language model")
        lc = lm.config
        for what, mine, theirs in (("tokenizer", task.tokenizer.config(), lm.tokenizer.config()),
                                   ("embedding size E", c.embedding_dim, lc.embedding_dim),
                                   ("units H", c.units, lc.units),
                                   ("cell", CellConfig.of(c), CellConfig.of(lc))):
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
    lines = [_copy_embedding(task, lms[0], names[0])]
    if task.model.bigram_embedding is not None:
        # bigram rows are added to the token rows: random ones would feed the LM's LSTM inputs it never saw
        with torch.no_grad():
            task.model.bigram_embedding.weight.zero_()
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


def _copy_embedding(task, lm, name: str) -> str:
    """Copy the rows of the tokens ``lm`` also knows and of ``<unk>``; say how many of ours were found."""
    ours = [(i, t) for t, i in task.vocab.stoi.items() if i not in (task.vocab.pad_id, task.vocab.unk_id)]
    pairs = [(i, lm.vocab.stoi[t]) for i, t in ours if t in lm.vocab.stoi]
    rows, theirs = (torch.tensor(v) for v in zip((task.vocab.unk_id, lm.vocab.unk_id), *pairs))
    with torch.no_grad():
        task.model.embedding.weight[rows] = lm.model.embedding.weight[theirs].to(task.model.embedding.weight)
    return (f"embedding: {len(pairs):,} of {len(ours):,} tokens ({len(pairs) / max(1, len(ours)):.1%}) from "
            f"{name}, the rest random")
