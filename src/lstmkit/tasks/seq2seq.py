"""Sequence to sequence: source tokens -> attentional encoder-decoder (``lstmkit.nn.seq2seq``) -> target tokens.

Each side has its own tokenizer and vocabulary (the target's with ``<bos>``/``<eos>``). Training is teacher
forcing with cross-entropy over the target tokens and ``<eos>``; decoding is greedy (dev metrics while
training) or beam search (``evaluate``, ``predict``). With ``reverse_target`` the decoder learns and writes each
target right to left (outputs are flipped back to reading order); such a model's errors sit at the other end of
the word, which makes it a good rescorer of a left-to-right model's beam (:meth:`Seq2SeqTask.rescored`).

Metrics: ``per``, the token error rate: edit distance between the output and the reference summed over the
examples, over the reference tokens (phoneme error rate for G2P); ``wer``, the share of examples whose output is
not exactly the reference (word error rate, as G2P papers count it: one example = one word); ``exact_match`` =
1 - wer. ``wer_any`` and ``per_any`` accept any of a source's references: a word with several pronunciations
(CMUdict's ``word(2)`` variants, or a source listed on several lines of a pairs file) is right when the output is
any of them, and its edits are counted against the closest (``wer``/``per`` use the first reference only).

Shape legend: ``B`` batch, ``S`` source steps, ``T`` target steps, ``V`` target vocabulary, ``K`` beam size.
"""
from __future__ import annotations

import copy
import dataclasses
from dataclasses import asdict, dataclass, field

import torch
import torch.nn.functional as F

from ..checks import fractions, positive_ints
from ..data.batching import PaddedBatches
from ..data.pairs import PairDataset
from ..nn import CellConfig
from ..nn.seq2seq import ATTENTIONS, Hypothesis, Seq2Seq, Seq2SeqEnsemble, length_penalty
from ..progress import progress
from ..text import Vocab, make_tokenizer
from ..train.metrics import sequence_report
from ..train.task import Task


@dataclass
class Seq2SeqConfig:
    """Everything needed to rebuild a seq2seq model and its two tokenizers; stored in ``config.json``."""

    source_tokenizer: dict = field(default_factory=lambda: {"name": "char", "split_latin": True})
    target_tokenizer: dict = field(default_factory=lambda: {"name": "whitespace"})
    embedding_dim: int = 64
    units: int = 256
    layers: int = 1
    bidirectional: bool = True
    cell: str = "basic"            # "basic" or "lstm" (TensorFlow's LSTMCell), encoder and decoder alike
    cell_options: dict = field(default_factory=dict)   # CellConfig's: forget_bias, use_peepholes, num_proj, ...
    attention: str = "general"     # dot, general, additive, none
    input_feeding: bool = True
    dropout: float = 0.2
    label_smoothing: float = 0.0
    min_freq: int = 1
    max_vocab: int | None = 50_000
    max_source_len: int = 100      # tokens kept per source
    max_target_len: int = 100      # tokens kept per training target
    beam_size: int = 5             # evaluate's default
    length_penalty: float = 0.6    # GNMT's alpha; 0 ranks by total log-probability
    reverse_target: bool = False   # learn and decode the target right to left (outputs come back in reading order)

    def check(self) -> "Seq2SeqConfig":
        if self.attention not in ATTENTIONS:
            raise ValueError(f"attention must be one of {ATTENTIONS}, got {self.attention!r}")
        if self.attention == "dot" and self.bidirectional:
            raise ValueError("attention 'dot' needs decoder and encoder outputs of one size: use --no-bidirectional "
                             "or attention 'general'/'additive'")
        positive_ints(self, ("embedding_dim", "units", "layers", "min_freq", "max_source_len", "max_target_len",
                             "beam_size"))
        fractions(self, ("dropout", "label_smoothing"))
        CellConfig.of(self)
        if not self.length_penalty >= 0:
            raise ValueError(f"length_penalty must be >= 0, got {self.length_penalty!r}")
        make_tokenizer(self.source_tokenizer)
        make_tokenizer(self.target_tokenizer)
        return self

    @classmethod
    def from_dict(cls, data: dict) -> "Seq2SeqConfig":
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__}).check()

    @property
    def joiner(self) -> str:
        """How output tokens join into text: a space for word-like tokenizers, nothing for characters/jieba."""
        return " " if self.target_tokenizer["name"] in ("whitespace", "regex") else ""


class Seq2SeqTask(Task):
    name = "seq2seq"
    config_class = Seq2SeqConfig
    primary_metric = "wer"
    greater_is_better = False

    def __init__(self, config: Seq2SeqConfig, source_vocab: Vocab, target_vocab: Vocab):
        self.config = config.check()
        if not target_vocab.bos_eos:
            raise ValueError("the target vocabulary needs <bos> and <eos> (Vocab.build(..., bos_eos=True))")
        self.source_tokenizer = make_tokenizer(config.source_tokenizer)
        self.target_tokenizer = make_tokenizer(config.target_tokenizer)
        self.vocab, self.target_vocab = source_vocab, target_vocab
        self.rescorers: list = []      # more tasks whose models re-rank the beam (see rescored)
        self.inverse_rescorers: list = []   # tasks trained the other way (target -> source), likewise
        c = config
        self.model = Seq2Seq(len(source_vocab), len(target_vocab), c.embedding_dim, c.units, c.layers,
                             c.bidirectional, c.attention, c.input_feeding, c.dropout, target_vocab.bos_id,
                             target_vocab.eos_id, **CellConfig.of(c).to_options())

    @classmethod
    def from_data(cls, config: Seq2SeqConfig, train: PairDataset) -> "Seq2SeqTask":
        if not train.sources:
            raise ValueError("the training set is empty")
        if train.targets is None:
            raise ValueError("the training set has no targets")
        config.check()
        src_tok, tgt_tok = make_tokenizer(config.source_tokenizer), make_tokenizer(config.target_tokenizer)
        source_vocab = Vocab.build((src_tok(s) for s in train.sources), config.min_freq, config.max_vocab)
        target_vocab = Vocab.build((tgt_tok(t) for t in train.targets), config.min_freq, config.max_vocab,
                                   bos_eos=True)
        return cls(config, source_vocab, target_vocab)

    def vocabs(self) -> dict:
        return {"tokens": self.vocab, "target": self.target_vocab}

    @classmethod
    def from_saved(cls, config: Seq2SeqConfig, vocabs: dict) -> "Seq2SeqTask":
        if "target" not in vocabs:
            raise ValueError("a seq2seq run keeps its target vocabulary in vocab_target.json")
        return cls(config, vocabs["tokens"], vocabs["target"])

    def _check_member(self, other, k: int, role: str, same_direction: bool) -> None:
        if not isinstance(other, Seq2SeqTask):
            raise TypeError(f"{role}: member {k} is a {type(other).__name__}, not a seq2seq task")
        checks = [("source tokenizer", self.config.source_tokenizer, other.config.source_tokenizer),
                  ("target tokenizer", self.config.target_tokenizer, other.config.target_tokenizer),
                  ("source vocabulary", self.vocab.itos, other.vocab.itos),
                  ("target vocabulary", self.target_vocab.itos, other.target_vocab.itos)]
        for what, mine, theirs in checks:
            if mine != theirs:
                raise ValueError(f"{role}: member {k}'s {what} differs from member 1's; members must be "
                                 f"trained on the same data with the same tokenizers")
        if same_direction and self.config.reverse_target != other.config.reverse_target:
            raise ValueError(f"{role}: member {k} writes its targets "
                             f"{_direction(other.config)}, member 1 {_direction(self.config)}; step-by-step "
                             f"averaging needs one direction (a run of the other direction can rescore: "
                             f"Seq2SeqTask.rescored, --rescore)")

    def _models(self) -> list:
        return list(self.model.members) if isinstance(self.model, Seq2SeqEnsemble) else [self.model]

    def ensemble(self, others: list["Seq2SeqTask"]) -> "Seq2SeqTask":
        """A task that decodes (``evaluate``, ``predict_records``) with this model and ``others`` together: the
        members' next-token probabilities averaged at every step (:class:`Seq2SeqEnsemble`). Every member must
        tokenize its sources and targets as this one does, hold the same two vocabularies and write its targets
        in the same direction; the ensemble keeps this task's config (beam size, length penalty) and rescorers.
        For decoding only: train the members one by one."""
        for k, other in enumerate(others, 2):
            self._check_member(other, k, "ensemble", same_direction=True)
        joined = copy.copy(self)        # tokenizers, vocabularies and config shared; only the model differs
        joined.model = Seq2SeqEnsemble([m for t in [self, *others] for m in t._models()])
        return joined

    def rescored(self, others: list["Seq2SeqTask"] = (), inverse: list["Seq2SeqTask"] = ()) -> "Seq2SeqTask":
        """A task that searches with this task's model (greedy or beam search, as before) and re-ranks each
        source's candidates (the whole beam) by every model's own log-probability of them: this task's models
        and each of ``others`` (the members of an ensemble counted one by one) score every candidate by teacher
        forcing, in the direction each was trained in (``reverse_target``), and the candidates are ranked by
        the mean over the models, ``mean_m log P_m(y | x) / ((5 + |Y|) / 6) ** alpha`` (|Y| counts ``<eos>``).
        The usual use: right-to-left runs rescoring a left-to-right search, whose errors sit at the other end
        of the word. Members must share this task's tokenizers and vocabularies.

        ``inverse``: tasks trained the other way round (this task's targets -> its sources, e.g. phonemes ->
        spelling), each a vote in the same mean with ``log P(x | y)``: how well the candidate gives back the
        source (the noisy channel). Their source tokenizer must be this task's target tokenizer and the other
        way round; tokens pass between the vocabularies by name. Decoding only."""
        if not others and not inverse:
            raise ValueError("rescored: give at least one seq2seq task to rescore with")
        for k, other in enumerate(others, 2):
            self._check_member(other, k, "rescore", same_direction=False)
        for k, other in enumerate(inverse, 1):
            if not isinstance(other, Seq2SeqTask):
                raise TypeError(f"inverse rescorer {k} is a {type(other).__name__}, not a seq2seq task")
            for theirs, mine in (("source", "target"), ("target", "source")):
                want, got = getattr(self.config, f"{mine}_tokenizer"), getattr(other.config, f"{theirs}_tokenizer")
                if want != got:
                    raise ValueError(f"inverse rescorer {k} reads and writes the other way: its {theirs} tokenizer "
                                     f"must be this run's {mine} tokenizer ({want}), got {got}; train it on the "
                                     f"pairs swapped (target<TAB>source)")
        joined = copy.copy(self)
        joined.rescorers = [*self.rescorers, *others]
        joined.inverse_rescorers = [*self.inverse_rescorers, *inverse]
        return joined

    def inverse_log_probs(self, src: list, targets: list) -> torch.Tensor:
        """``log P(x | y)`` under each inverse rescorer's models (see :meth:`rescored`): ``src`` and ``targets``
        as for :meth:`target_log_probs` (this task's ids); returns ``(M, N)``, float64 (``M = 0`` without)."""
        if len(src) != len(targets):
            raise ValueError(f"inverse_log_probs: {len(src)} sources but {len(targets)} targets")
        sources = [self.vocab.decode(x) for x in src]
        candidates = [self.target_vocab.decode(y) or ["<unk>"] for y in targets]   # never an empty source
        parts = [torch.zeros(0, len(src), dtype=torch.float64)]
        for inv in self.inverse_rescorers:
            parts.append(inv.target_log_probs([inv.vocab.encode(y[: inv.config.max_source_len]) for y in candidates],
                                              [inv.target_vocab.encode(x) for x in sources]))
        return torch.cat(parts)

    @torch.no_grad()
    def target_log_probs(self, src: list, targets: list, batch_size: int = 512) -> torch.Tensor:
        """``log P(y | x)`` under each of this task's models (an ensemble's members one by one): ``src`` lists
        source ids, ``targets`` target ids in reading order (without ``<bos>``/``<eos>``; ``<eos>`` is scored);
        returns ``(M, N)``, float64."""
        if len(src) != len(targets):
            raise ValueError(f"target_log_probs: {len(src)} sources but {len(targets)} targets")
        enc = {"ids": src, "tgt_in": None, "tgt_out": None}
        bos, eos = self.target_vocab.bos_id, self.target_vocab.eos_id
        order = [t[::-1] for t in targets] if self.config.reverse_target else targets
        enc["tgt_in"] = [[bos] + list(t) for t in order]
        enc["tgt_out"] = [list(t) + [eos] for t in order]
        models = self._models()
        out = torch.zeros(len(models), len(src), dtype=torch.float64)
        for m in models:
            m.eval()
        for batch in self.batches(enc, batch_size):
            gold = batch["tgt_out"]                                                        # (B, T)
            rows = torch.as_tensor(batch["index"], dtype=torch.long)
            for k, m in enumerate(models):
                logp = torch.log_softmax(m(batch["ids"], batch["lengths"], batch["tgt_in"]).double(), dim=-1)
                picked = logp.gather(-1, gold.unsqueeze(-1)).squeeze(-1).masked_fill(gold == 0, 0.0)
                out[k, rows] = picked.sum(1).cpu()
        return out

    def _rescore(self, src: list, hyps: list[list[Hypothesis]]) -> list[list[Hypothesis]]:
        """Each source's candidates (reading order), ranked by the mean log-probability of every model."""
        flat_src = [s for s, h in zip(src, hyps) for _ in h]
        flat = [x.tokens for h in hyps for x in h]
        votes = [t.target_log_probs(flat_src, flat) for t in [self, *self.rescorers]]
        scores = torch.cat([*votes, self.inverse_log_probs(flat_src, flat)]).mean(0).tolist()
        alpha, out, k = self.config.length_penalty, [], 0
        for h in hyps:
            ranked = []
            for x in h:
                ranked.append(dataclasses.replace(x, log_prob=scores[k],
                                                  score=scores[k] / length_penalty(len(x.tokens) + 1, alpha)))
                k += 1
            out.append(sorted(ranked, key=lambda x: -x.score))
        return out

    def describe(self) -> str:
        return f"source vocabulary {len(self.vocab):,}, target vocabulary {len(self.target_vocab):,}"

    def config_dict(self) -> dict:
        return asdict(self.config)

    # -- data ------------------------------------------------------------------------------------------------
    def encode(self, data: PairDataset) -> dict:
        c = self.config
        src = [self.vocab.encode(self.source_tokenizer(s)[: c.max_source_len] or ["<unk>"]) for s in data.sources]
        enc = {"ids": src, "tgt_in": None, "tgt_out": None, "refs": None, "alternatives": None}
        if data.targets is not None:
            tgt = [self.target_vocab.encode(self.target_tokenizer(t)) for t in data.targets]
            enc["refs"] = tgt                                       # whole references, for the metrics
            enc["alternatives"] = [[ref] + [self.target_vocab.encode(self.target_tokenizer(t)) for t in alts[1:]]
                                   for ref, alts in zip(tgt, data.references())]   # each starts with its own
            cut = [t[: c.max_target_len] for t in tgt]
            if c.reverse_target:                                    # the decoder writes the last token first
                cut = [t[::-1] for t in cut]
            enc["tgt_in"] = [[self.target_vocab.bos_id] + t for t in cut]     # <bos> y_1 .. y_n
            enc["tgt_out"] = [t + [self.target_vocab.eos_id] for t in cut]    # y_1 .. y_n <eos>
        return enc

    def batches(self, enc: dict, batch_size: int, shuffle: bool = False, seed: int = 0) -> PaddedBatches:
        return PaddedBatches({"ids": enc["ids"], "tgt_in": enc["tgt_in"], "tgt_out": enc["tgt_out"]}, batch_size,
                             shuffle, seed, device=next(self.model.parameters()).device)

    # -- training and inference ------------------------------------------------------------------------------
    def step(self, batch) -> torch.Tensor:
        logits = self.model(batch["ids"], batch["lengths"], batch["tgt_in"])               # (B, T, V)
        return F.cross_entropy(logits.flatten(0, 1), batch["tgt_out"].flatten(), ignore_index=0,
                               label_smoothing=self.config.label_smoothing)

    def max_output_len(self, source_len: int) -> int:
        return min(2 * source_len + 10, 4 * self.config.max_target_len)

    @torch.no_grad()
    def decode(self, enc: dict, beam_size: int = 1, n_best: int = 1, batch_size: int = 256) -> list:
        """For every source, in the input order: a list of up to ``n_best`` :class:`Hypothesis`, best first,
        their tokens in reading order (a ``reverse_target`` model's flipped back). With rescorers
        (:meth:`rescored`), the whole beam is re-ranked before the ``n_best`` are kept."""
        self.model.eval()
        rescore = bool(self.rescorers or self.inverse_rescorers)
        keep = beam_size if rescore else n_best
        out = [None] * len(enc["ids"])
        batches = self.batches({"ids": enc["ids"], "tgt_in": None, "tgt_out": None}, batch_size)
        for batch in progress(batches, "decoding" if beam_size == 1 else f"beam search ({beam_size})", unit="batch",
                              min_items=1 if beam_size > 1 and len(enc["ids"]) >= 500 else 20):
            max_len = self.max_output_len(int(batch["lengths"].max()))
            if beam_size == 1:
                hyps = [[h] for h in self.model.greedy(batch["ids"], batch["lengths"], max_len)]
            else:
                hyps = self.model.beam_search(batch["ids"], batch["lengths"], beam_size, max_len,
                                              self.config.length_penalty, keep)
            if self.config.reverse_target:
                hyps = [[dataclasses.replace(x, tokens=x.tokens[::-1]) for x in h] for h in hyps]
            if rescore:
                hyps = [h[:n_best] for h in self._rescore([enc["ids"][i] for i in batch["index"]], hyps)]
            for i, h in zip(batch["index"], hyps):
                out[i] = h
        return out

    @torch.no_grad()
    def loss(self, enc: dict, batch_size: int = 256) -> float:
        """Mean cross-entropy per target token (teacher forcing)."""
        self.model.eval()
        total, count = 0.0, 0
        for batch in self.batches(enc, batch_size):
            logits = self.model(batch["ids"], batch["lengths"], batch["tgt_in"])
            gold = batch["tgt_out"].flatten()
            total += float(F.cross_entropy(logits.flatten(0, 1), gold, ignore_index=0, reduction="sum"))
            count += int((gold != 0).sum())
        return total / max(count, 1)

    def evaluate(self, enc: dict, beam_size: int | None = None, batch_size: int = 256) -> dict:
        """``wer``, ``per``, ``exact_match`` (see the module docstring), ``loss``; ``beam_size`` None: greedy
        while training (``self.model.training`` was on), else the config's beam."""
        if enc["refs"] is None:
            raise ValueError("evaluation needs targets")
        if beam_size is None:
            beam_size = 1 if self.model.training else self.config.beam_size
        hyps = self.decode(enc, beam_size, 1, batch_size)
        report = sequence_report(enc["refs"], [h[0].tokens for h in hyps], enc.get("alternatives"))
        report["loss"] = self.loss(enc, batch_size)
        report["beam_size"] = beam_size
        return report

    def predict_records(self, texts: list[str], beam_size: int | None = None, n_best: int = 3) -> list[dict]:
        """One record per text: ``input``, ``output`` (the best), ``tokens``, ``score`` (length-normalised
        log-probability), and ``nbest``: up to ``n_best`` of ``{output, tokens, score, log_prob}``."""
        beam_size = beam_size or self.config.beam_size
        keep = [k for k, t in enumerate(texts) if self.source_tokenizer(t)]
        data = PairDataset([texts[k] for k in keep], None, "input")
        found = dict(zip(keep, self.decode(self.encode(data), beam_size, min(n_best, beam_size)))) if keep else {}
        records = []
        for k, text in enumerate(texts):
            if k not in found:
                records.append({"input": text, "output": None, "error": "empty text: nothing to decode"})
                continue
            nbest = [{"output": self.config.joiner.join(self.target_vocab.decode(h.tokens)),
                      "tokens": self.target_vocab.decode(h.tokens), "score": round(h.score, 6),
                      "log_prob": round(h.log_prob, 6)} for h in found[k]]
            records.append({"input": text, "output": nbest[0]["output"], "tokens": nbest[0]["tokens"],
                            "score": nbest[0]["score"], "nbest": nbest})
        return records


def _direction(config: Seq2SeqConfig) -> str:
    return "right to left" if config.reverse_target else "left to right"
