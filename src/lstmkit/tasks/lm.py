"""Language modelling: predict every next token of a long text, trained statefully with truncated BPTT.

Texts -> one token stream (``<eos>`` before the first text and after every text) -> ``B`` contiguous rows ->
consecutive ``(B, T)`` segments of ``bptt`` steps. The LSTM's final state of one segment is the (detached)
initial state of the next, as Keras's ``stateful=True``: gradients flow back ``bptt`` steps, the memory spans
the whole row. Loss: mean cross-entropy per predicted token; ``perplexity = exp(loss)``.

Embedding -> dropout -> LSTM -> dropout -> head. With ``tie_embeddings`` the head's weight *is* the embedding
matrix (``logits = proj(h) @ W_emb^T + b``; ``proj`` ``H -> E`` only when ``H != E``), which saves ``V*E``
parameters when ``H == E``. ``reverse`` reads the stream backwards: a backward LM, whose LSTM can initialise
a bidirectional classifier's backward direction (``lstmkit.tasks.classify.ClassifyTask.init_from_lms``).

Shape legend: ``B`` rows (batch), ``T`` time steps, ``E`` embedding size, ``H`` units, ``V`` vocabulary.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..checks import fractions, positive_ints
from ..data.readers import TextDataset
from ..data.tokens import IGNORE, ArrayStream, ReversedStream, StreamBatches, TextFile, cached_stream
from ..nn import LSTM, CellConfig, LSTMStateTuple, record
from ..progress import progress
from ..text import Vocab, make_tokenizer
from ..train.task import Task



@dataclass
class LMConfig:
    """Everything needed to rebuild a language model and its tokenizer; stored in the run's ``config.json``."""

    tokenizer: dict = field(default_factory=lambda: {"name": "char"})
    min_freq: int = 1
    max_vocab: int | None = 50_000
    embedding_dim: int = 64       # E; 64 and 128 are the classifier's defaults, so --init-from fits them
    units: int = 128              # H
    layers: int = 1
    dropout: float = 0.1          # on the embeddings and on the LSTM's outputs (and between layers)
    cell: str = "basic"                                # "basic" or "lstm" (TensorFlow's LSTMCell)
    cell_options: dict = field(default_factory=dict)   # CellConfig's: forget_bias, use_peepholes, num_proj, ...
    tie_embeddings: bool = False
    bptt: int = 64                # steps per truncated segment
    reverse: bool = False         # a backward LM: the stream read from its end

    def check(self) -> "LMConfig":
        positive_ints(self, ("embedding_dim", "units", "layers", "min_freq", "bptt"), "LMConfig")
        fractions(self, ("dropout",), "LMConfig")
        CellConfig.of(self)
        make_tokenizer(self.tokenizer)
        return self

    @classmethod
    def from_dict(cls, data: dict) -> "LMConfig":
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__}).check()


class LanguageModel(nn.Module):
    """``ids (B, T)`` and a state -> ``logits (B, T, V)`` for the next token at every step, and the final state.

    Recorded under :func:`lstmkit.nn.recording` (``lstmkit explain`` shows these):

    ================  ==========================================================
    ``embedded``      ``(B, T, E)`` the token vectors (before dropout)
    ``outputs``       ``(B, T, H)`` every step's h (``P`` with ``num_proj``)
    ``final_states``  per layer ``LSTMStateTuple(c (B, H), h (B, H or P))``
    ``logits``        ``(B, T, V)``
    ================  ==========================================================
    """

    def __init__(self, config: LMConfig, vocab_size: int):
        super().__init__()
        c = config
        self.embedding = nn.Embedding(vocab_size, c.embedding_dim)
        nn.init.normal_(self.embedding.weight, 0.0, 0.1)
        self.lstm = LSTM(c.embedding_dim, c.units, num_layers=c.layers, dropout=c.dropout if c.layers > 1 else 0.0,
                         **CellConfig.of(c).to_options())
        self.dropout = nn.Dropout(c.dropout)
        H, E = self.lstm.output_size, c.embedding_dim
        if c.tie_embeddings:
            self.proj = nn.Linear(H, E, bias=False) if H != E else None
            self.out_bias = nn.Parameter(torch.zeros(vocab_size))
            self.head = None
        else:
            self.head = nn.Linear(H, vocab_size)

    @property
    def output_weight(self) -> torch.Tensor:
        """The ``(V, E or H)`` matrix of the softmax layer: the embedding itself when tied."""
        return self.embedding.weight if self.head is None else self.head.weight

    def forward(self, ids: torch.Tensor, state=None):
        x = self.embedding(ids)                                            # (B, T) -> (B, T, E)
        record("embedded", x)
        out, final = self.lstm(self.dropout(x), initial_state=state)       # (B, T, H)
        record("outputs", out)
        record("final_states", final)
        out = self.dropout(out)
        if self.head is not None:
            logits = self.head(out)                                        # (B, T, H) @ (H, V) -> (B, T, V)
        else:
            if self.proj is not None:
                out = self.proj(out)                                       # (B, T, H) -> (B, T, E)
            logits = F.linear(out, self.embedding.weight, self.out_bias)   # (B, T, E) @ (E, V) -> (B, T, V)
        record("logits", logits)
        return logits, final


def detach_state(state):
    """The same nested tuple of ``LSTMStateTuple`` with every tensor cut from the graph (truncated BPTT)."""
    return tuple(type(s)(*(t.detach() for t in s)) for s in state)


@dataclass
class LMEncoded:
    """A dataset as one token stream ``(N,)`` (reversed for a backward LM): ``N - 1`` tokens to predict; an
    array, or a stream on disk (:mod:`lstmkit.data.tokens`)."""

    stream: np.ndarray | ArrayStream | ReversedStream
    n_texts: int

    @property
    def n_targets(self) -> int:
        return max(0, len(self.stream) - 1)


class LMTask(Task):
    """The language-model task: encoding, stateful batches, the training step, perplexity, generation."""

    name = "lm"
    config_class = LMConfig
    primary_metric = "perplexity"
    greater_is_better = False
    unit = "tokens"          # the trainer's throughput counts predicted tokens, not rows
    carries_state = True     # a segment starts from the state the previous one left (``_state``)

    @staticmethod
    def count(batch) -> int:
        """The targets that count (a share of a batch's rows holds its own: under torchrun each rank has some)."""
        return int((batch["targets"] != IGNORE).sum())

    def __init__(self, config: LMConfig, vocab: Vocab):
        self.config = config.check()
        if not vocab.bos_eos:
            raise ValueError("LMTask: the vocabulary needs <eos> (build it with bos_eos=True)")
        self.tokenizer = make_tokenizer(config.tokenizer)
        self.vocab = vocab
        self.model = LanguageModel(config, len(vocab))
        self._state = None   # carried from one training segment to the next

    @classmethod
    def from_data(cls, config: LMConfig, train: TextDataset) -> "LMTask":
        """Build the tokenizer and the vocabulary (with ``<eos>``) from the training texts."""
        if not train.texts:
            raise ValueError("the training set is empty")
        config.check()
        tok = make_tokenizer(config.tokenizer)
        vocab = Vocab.build((tok(t) for t in train.texts), min_freq=config.min_freq, max_size=config.max_vocab,
                            bos_eos=True)
        return cls(config, vocab)

    def describe(self) -> str:
        c = self.config
        return (f"vocabulary {len(self.vocab):,} ({c.tokenizer['name']} tokens), {c.layers}x{c.units} LSTM, "
                f"bptt {c.bptt}{', tied embeddings' if c.tie_embeddings else ''}"
                f"{', reversed (backward LM)' if c.reverse else ''}")

    # -- data ------------------------------------------------------------------------------------------------
    def encode(self, data: TextDataset | TextFile) -> LMEncoded:
        """One stream of ids: in memory for a dataset, on disk for a :class:`TextFile` (encoded once into the
        cache, then read a segment at a time: :func:`lstmkit.data.tokens.cached_stream`)."""
        if isinstance(data, TextFile):
            recipe = {"tokenizer": self.config.tokenizer, "vocab": self.vocab.digest()}
            stream, texts = cached_stream(data.path, recipe, self._id_chunks)
            return LMEncoded(ReversedStream(stream) if self.config.reverse else stream, texts)
        eos = self.vocab.eos_id
        stream = [eos]
        for text in data.texts:
            stream += self.vocab.encode(self.tokenizer(text))
            stream.append(eos)
        ids = np.asarray(stream, dtype=np.int64)
        return LMEncoded(ids[::-1].copy() if self.config.reverse else ids, len(data.texts))

    def _id_chunks(self, texts, size: int = 1 << 20):
        """``<eos>``, then each text's ids and an ``<eos>``, in arrays of about ``size`` ids."""
        eos, chunk = self.vocab.eos_id, [self.vocab.eos_id]
        for text in texts:
            chunk += self.vocab.encode(self.tokenizer(text))
            chunk.append(eos)
            if len(chunk) >= size:
                yield np.asarray(chunk, dtype=np.int64)
                chunk = []
        if chunk:
            yield np.asarray(chunk, dtype=np.int64)

    def batches(self, enc: LMEncoded, batch_size: int, shuffle: bool = False, seed: int = 0) -> StreamBatches:
        """``batch_size`` rows; ``shuffle`` rolls the stream by a seeded offset (order must stay: it is stateful)."""
        offset = int(np.random.default_rng(seed).integers(0, len(enc.stream))) if shuffle and len(enc.stream) else 0
        return StreamBatches(enc.stream, batch_size, self.config.bptt, offset, self.model.embedding.weight.device)

    # -- training and inference ------------------------------------------------------------------------------
    def step(self, batch) -> torch.Tensor:
        """Mean cross-entropy of one segment, from the state the previous segment left (zero at ``reset``)."""
        state = None if batch["reset"] else self._state
        logits, final = self.model(batch["ids"], state)
        self._state = detach_state(final)
        return F.cross_entropy(logits.flatten(0, 1), batch["targets"].flatten(), ignore_index=IGNORE)

    def carried_state(self) -> list[torch.Tensor] | None:
        """The state the next segment starts from: ``c`` and ``h`` of each layer, each ``(B, H)`` (``h``: ``(B,
        P)`` with a projection)."""
        return None if self._state is None else [t for s in self._state for t in s]

    def restore_carried(self, tensors: list[torch.Tensor]) -> None:
        if len(tensors) != 2 * self.config.layers:
            raise ValueError(f"LMTask.restore_carried: expected c and h of {self.config.layers} layers, got "
                             f"{len(tensors)} tensors")
        device = self.model.embedding.weight.device
        self._state = tuple(LSTMStateTuple(tensors[k].to(device), tensors[k + 1].to(device))
                            for k in range(0, len(tensors), 2))

    def iter_logits(self, batches):
        """``(logits (B, T, V), batch)`` for every segment, the state carried between them; no gradients."""
        state = None
        with torch.no_grad():
            for batch in batches:
                logits, state = self.model(batch["ids"], None if batch["reset"] else state)
                yield logits, batch

    def evaluate(self, enc: LMEncoded, batch_size: int = 16, bptt: int = 256) -> dict:
        """``loss`` (mean cross-entropy per predicted token, nats), ``perplexity = exp(loss)``, ``n_tokens``.

        The stream is read in ``batch_size`` rows, each from a zero state, in segments of ``bptt`` steps (the
        state carried): a longer row or fewer rows remember more context."""
        if enc.n_targets == 0:
            raise ValueError("evaluation needs at least one token to predict")
        self.model.eval()
        total, n = 0.0, 0
        segments = StreamBatches(enc.stream, batch_size, bptt, 0, self.model.embedding.weight.device)
        for logits, batch in self.iter_logits(progress(segments, "perplexity", unit="segment", min_items=20)):
            total += float(F.cross_entropy(logits.flatten(0, 1), batch["targets"].flatten(), ignore_index=IGNORE,
                                           reduction="sum"))
            n += batch["n_tokens"]
        loss = total / n
        return {"perplexity": math.exp(loss), "loss": loss, "n_tokens": n, "n_texts": enc.n_texts}

    def predict_records(self, texts: list[str]) -> list[dict]:
        """One record per text, scored on its own from a zero state: ``input``, ``tokens`` (count),
        ``loss`` and ``perplexity`` over its tokens and the closing ``<eos>``, ``unknown`` (tokens not in the
        vocabulary). A text with no token gets an ``error`` instead. The texts are scored as one padded batch."""
        tokens = [self.tokenizer(t) for t in texts]
        keep = [k for k, toks in enumerate(tokens) if toks]
        losses = dict(zip(keep, self.text_losses([tokens[k] for k in keep]))) if keep else {}
        records = []
        for k, text in enumerate(texts):
            if k not in losses:
                records.append({"input": text, "perplexity": None, "error": "empty text: nothing to score"})
                continue
            loss = losses[k]
            records.append({"input": text, "tokens": len(tokens[k]), "loss": round(loss, 6),
                            "perplexity": round(math.exp(loss), 4),
                            "unknown": sum(t not in self.vocab for t in tokens[k])})
        return records

    @torch.no_grad()
    def text_losses(self, token_lists: list[list[str]]) -> list[float]:
        """Mean cross-entropy per predicted token of each text read alone (``<eos>`` text ``<eos>``, reversed for a
        backward LM), all texts in one ``(B, T)`` batch: padding comes after each text, so it never reaches a real
        step of this unidirectional model."""
        self.model.eval()
        eos = self.vocab.eos_id
        seqs = [[eos] + self.vocab.encode(toks) + [eos] for toks in token_lists]
        seqs = [s[::-1] for s in seqs] if self.config.reverse else seqs
        T = max(len(s) for s in seqs) - 1
        ids = torch.zeros(len(seqs), T, dtype=torch.long)
        targets = torch.full((len(seqs), T), IGNORE, dtype=torch.long)
        for b, s in enumerate(seqs):
            ids[b, : len(s) - 1] = torch.tensor(s[:-1])
            targets[b, : len(s) - 1] = torch.tensor(s[1:])
        device = self.model.embedding.weight.device
        logits, _ = self.model(ids.to(device))                                          # (B, T, V)
        ce = F.cross_entropy(logits.transpose(1, 2), targets.to(device), ignore_index=IGNORE,
                             reduction="none")                                         # (B, T), 0 at padding
        return (ce.sum(1) / (targets != IGNORE).sum(1).to(device)).tolist()

    @torch.no_grad()
    def generate(self, prompt: str = "", max_tokens: int = 50, temperature: float = 1.0, top_k: int | None = None,
                 seed: int = 0, stop_at_eos: bool = True) -> dict:
        """Sample a continuation of ``prompt`` token by token.

        ``temperature`` divides the logits (0: greedy, the most likely token each step); ``top_k`` keeps the
        ``k`` most likely tokens (1 is greedy too); ``seed`` fixes the draw. Stops after ``max_tokens`` tokens
        or at ``<eos>`` (not included). A backward LM generates what comes *before* the prompt.
        Returns ``{"prompt", "continuation", "text", "tokens", "stopped"}`` (``stopped``: "eos" or "max_tokens").
        """
        if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 0:
            raise ValueError(f"generate: max_tokens must be an int >= 0, got {max_tokens!r}")
        if (not isinstance(temperature, (int, float)) or isinstance(temperature, bool)
                or not math.isfinite(temperature) or temperature < 0):
            raise ValueError(f"generate: temperature must be a finite number >= 0, got {temperature!r}")
        if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1):
            raise ValueError(f"generate: top_k must be a positive int or None, got {top_k!r}")
        self.model.eval()
        device = self.model.embedding.weight.device
        prompt_ids = self.vocab.encode(self.tokenizer(prompt))
        ids = [self.vocab.eos_id] + (prompt_ids[::-1] if self.config.reverse else prompt_ids)
        gen = torch.Generator(device="cpu").manual_seed(int(seed))
        banned = torch.tensor([self.vocab.pad_id, self.vocab.bos_id, self.vocab.unk_id])
        logits, state = self.model(torch.tensor([ids], device=device))      # (1, T, V)
        out, stopped = [], "max_tokens"
        for _ in range(max_tokens):
            last = logits[0, -1].float().cpu()                              # (V,)
            last[banned] = float("-inf")                                    # never emit padding or <unk>
            if top_k is not None and top_k < last.numel():
                kth = last.topk(top_k).values[-1]
                last = last.masked_fill(last < kth, float("-inf"))
            if temperature == 0:
                nxt = int(last.argmax())
            else:
                nxt = int(torch.multinomial(F.softmax(last / temperature, dim=0), 1, generator=gen))
            if nxt == self.vocab.eos_id and stop_at_eos:
                stopped = "eos"
                break
            out.append(nxt)
            logits, state = self.model(torch.tensor([[nxt]], device=device), state)
        tokens = self.vocab.decode(out[::-1] if self.config.reverse else out)
        sep = " " if self.config.tokenizer["name"] in ("whitespace", "regex") else ""
        cont = sep.join(tokens)
        text = (cont + sep + prompt if self.config.reverse else prompt + sep + cont) if prompt else cont
        return {"prompt": prompt, "continuation": cont, "text": text, "tokens": tokens, "stopped": stopped}

    def config_dict(self) -> dict:
        return asdict(self.config)

    def vocabs(self) -> dict:
        return {"tokens": self.vocab}

    @classmethod
    def from_saved(cls, config: LMConfig, vocabs: dict) -> "LMTask":
        return cls(config, vocabs["tokens"])
