"""Sequence labelling, step 7 of the walkthrough: every time step's hidden state labels its token.

Embedding (+ token-bigram features, + for word tokens the embeddings of each word's first and last character,
+ each token's place B/M/E/S in the word a segmenter such as jieba finds around it: "soft word" features)
[concatenated with the SoftLexicon vectors: each token's B/M/E/S sets of lexicon words, pooled by their
frequencies, ``(B, T, 4 Dw)``: :mod:`lstmkit.text.lexicon`] -> BiLSTM masked by lengths -> per-step Linear
emissions ``(B, T, K)`` -> a linear-chain CRF (optionally constrained by the tag scheme) or a per-step softmax.
Three kinds of data: ``entities`` (NER: BIO/BIOES/BMES tags with types), ``words`` (segmentation: B/M/E/S
characters), ``tags`` (POS: one label per word).

Shape legend: ``B`` batch, ``T`` time steps, ``E`` embedding size, ``H`` units, ``P`` output size per direction
(``num_proj`` or ``H``), ``K`` tags.
"""
from __future__ import annotations

import copy
from dataclasses import asdict, dataclass, field, replace

import torch
import torch.nn.functional as F
from torch import nn

from ..data.batching import PaddedBatches
from ..data.tagged import TaggedDataset
from ..nn import LSTM, CellConfig, record, valid_mask
from ..nn.crf import CRF
from ..nn.embedding import padded_embedding
from ..progress import progress
from ..text import Vocab, make_tokenizer
from ..text.embeddings import load_pretrained_tables
from ..text.lexicon import Matcher, SoftLexicon, frequencies, lexicon_ids, read_lexicon, words_digest
from ..text.tags import SCHEMES, allowed_transitions, spans
from ..train.metrics import tagging_report
from ..train.task import Task
from ..text.features import WORD_POSITIONS, token_bigrams, word_features, word_positions  # noqa: F401

KINDS = ("entities", "words", "tags")
WORD_FEATURES = (None, "jieba", "jieba-pos")
# the token features a batch may carry, by name; "lexicon" holds T * 4 * W word ids per sentence (the SoftLexicon
# sets of each token, flattened), the others one id per token
FEATURES = ("bigrams", "first", "last", "wordpos", "wordtag", "lexicon")
# TagConfig's defaults that differ by kind, chosen on each corpus's dev split (README, "Sequence labelling").
# NER: soft-word features from jieba, every bigram seen twice, a wider embedding, more dropout (MSRA test F1
# 0.873 -> 0.90); word-level POS: each word's first and last characters.
KIND_DEFAULTS = {
    "entities": {"word_features": "jieba", "max_bigrams": None, "embedding_dim": 200, "dropout": 0.5},
    "words": {},
    "tags": {"tokenizer": {"name": "jieba"}, "char_features": True},
}


@dataclass
class TagConfig:
    """Everything needed to rebuild a tagger; stored in the run's ``config.json``."""

    kind: str = "entities"
    scheme: str = "BMES"                 # BIO, BIOES or BMES (ignored for kind "tags")
    format: str = "conll"                # how test files for this run are read
    tokenizer: dict = field(default_factory=lambda: {"name": "char", "split_latin": True})  # raw text -> tokens
    embedding_dim: int = 100
    bigrams: bool = True
    char_features: bool = False          # add each token's first- and last-character embeddings (word features
                                         # for word-level tagging: POS; they help words never seen in training)
    word_features: str | None = None     # "jieba": add the embedding of each token's place (B/M/E/S) in the word
                                         # jieba segments around it (helps NER find entity boundaries);
                                         # "jieba-pos": and of that word's part of speech (nr, ns, nt, ...)
    units: int = 128
    layers: int = 1
    cell: str = "basic"                  # "basic" or "lstm" (TensorFlow's LSTMCell)
    cell_options: dict = field(default_factory=dict)   # CellConfig's: forget_bias, use_peepholes, num_proj, ...
    dropout: float = 0.3
    decoder: str = "crf"                 # "crf" or "softmax"
    constraints: bool = True             # forbid the scheme's illegal transitions in the CRF
    min_freq: int = 1
    max_vocab: int | None = 50_000
    max_bigrams: int | None = 50_000     # bigram vocabulary size (specials included): the most frequent bigrams
                                         # seen twice or more; None: all of them
    # SoftLexicon (lstmkit.text.lexicon): the lexicon's words, vectors and frequencies are kept in the run
    lexicon: str | None = None           # "zhwiki" or the lexicon file (word2vec/GloVe, or a plain word list)
    lexicon_set_size: int = 3            # W: the words kept per B/M/E/S set of a token (the heaviest); on MSRA with
                                         # zhwiki 1 set in 57,000 holds more than 3
    lexicon_std: float | None = 0.3      # the lexicon's vectors rescaled to this standard deviation (None: as read)
    lexicon_dim: int = 50                # Dw; a file's vectors set it; a word list's vectors are learnt from this
    lexicon_frozen: bool = True          # keep the file's vectors fixed (a word list's are always learnt)
    lexicon_proj: int = 0                # 0: the 4 Dw pooled values join the LSTM's input as they are (the paper);
                                         # N: through a learnt Linear(4 Dw -> N) first (a narrower, faster LSTM)
    lexicon_sha256: str | None = None    # the lexicon file's, recorded when the run is built
    lexicon_words: str | None = None     # SHA-256 of the words the run keeps (vocab_lexicon.json)
    embeddings: str | None = None        # start the token and bigram embeddings from these vectors ("zhwiki", a
                                         # file): a bigram's from the word its two characters spell; E = theirs
    embeddings_std: float | None = 0.3   # those vectors rescaled to this standard deviation (None: as read)
    labels: list = field(default_factory=list)

    def check(self) -> "TagConfig":
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {self.kind!r}")
        if self.kind != "tags" and self.scheme not in SCHEMES:
            raise ValueError(f"scheme must be one of {', '.join(SCHEMES)}, got {self.scheme!r}")
        if self.decoder not in ("crf", "softmax"):
            raise ValueError(f"decoder must be crf or softmax, got {self.decoder!r}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout!r}")
        for name in ("max_vocab", "max_bigrams"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 2):
                raise ValueError(f"{name} must be None or an int >= 2 (<pad> and <unk> count), got {value!r}")
        if self.word_features not in WORD_FEATURES:
            raise ValueError(f"word_features must be one of {WORD_FEATURES}, got {self.word_features!r}")
        for name, low in (("lexicon_set_size", 1), ("lexicon_dim", 1), ("lexicon_proj", 0)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"{name} must be an int >= {low}, got {value!r}")
        for name in ("lexicon_std", "embeddings_std"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0):
                raise ValueError(f"{name} must be None or a positive number, got {value!r}")
        CellConfig.of(self)
        make_tokenizer(self.tokenizer)
        return self

    @classmethod
    def for_kind(cls, kind: str, **options) -> "TagConfig":
        """A config with ``kind``'s defaults (:data:`KIND_DEFAULTS`), then the dataclass's; ``options`` win."""
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
        return cls(kind=kind, **{**copy.deepcopy(KIND_DEFAULTS[kind]), **options}).check()

    @classmethod
    def from_dict(cls, data: dict) -> "TagConfig":
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__}).check()


class Tagger(nn.Module):
    """Emissions ``(B, T, K)`` from tokens, then a CRF (or nothing: a per-step softmax reads the emissions).

    Recorded under :func:`lstmkit.nn.recording` (``lstmkit explain`` shows these):

    ================  ==================================================================
    ``embedded``      ``(B, T, E)`` the token vectors plus their features' (before dropout)
    ``outputs``       ``(B, T, 2P)`` every step's h, forward and backward concatenated
    ``final_states``  per layer the pair ``(fw, bw)`` of ``LSTMStateTuple(c (B, H), h (B, P))``
    ``emissions``     ``(B, T, K)``
    ================  ==================================================================
    """

    def __init__(self, config: TagConfig, vocab_size: int, bigram_vocab_size: int = 0, char_vocab_size: int = 0,
                 word_tag_vocab_size: int = 0, lexicon_size: int = 0):
        super().__init__()
        c, K = config, len(config.labels)
        self.embedding = padded_embedding(vocab_size, c.embedding_dim)
        self.bigram_embedding = padded_embedding(bigram_vocab_size, c.embedding_dim) if c.bigrams else None
        self.char_embedding = padded_embedding(char_vocab_size, c.embedding_dim) if c.char_features else None
        self.word_embedding = padded_embedding(1 + len(WORD_POSITIONS), c.embedding_dim) if c.word_features else None
        self.word_tag_embedding = (padded_embedding(word_tag_vocab_size, c.embedding_dim)
                                   if c.word_features == "jieba-pos" else None)
        self.lexicon = SoftLexicon(lexicon_size, c.lexicon_dim, c.lexicon_frozen) if c.lexicon else None
        self.lexicon_proj = nn.Linear(4 * c.lexicon_dim, c.lexicon_proj) if c.lexicon and c.lexicon_proj else None
        lexical = (c.lexicon_proj or 4 * c.lexicon_dim) if c.lexicon else 0
        inputs = c.embedding_dim + lexical                                       # E (+ 4Dw, or + N projected)
        self.lstm = LSTM(inputs, c.units, num_layers=c.layers, bidirectional=True,
                         dropout=c.dropout if c.layers > 1 else 0.0, **CellConfig.of(c).to_options())
        self.dropout = nn.Dropout(c.dropout)
        self.emit = nn.Linear(self.lstm.output_size, K)
        self.crf = None
        if c.decoder == "crf":
            masks = allowed_transitions(c.labels, c.scheme) if c.constraints and c.kind != "tags" else (None,) * 3
            self.crf = CRF(K, *masks)

    def embed(self, ids, bigrams=None, first=None, last=None, wordpos=None, wordtag=None,
              lexicon=None) -> torch.Tensor:
        """``(B, T)`` ids (and the feature ids) -> ``(B, T, E)``: the token's vector plus its features'; with a
        lexicon, ``(B, T, E + 4Dw)``: and its SoftLexicon vectors after them (``lexicon``: ``(B, T * 4 * W)``)."""
        x = self.embedding(ids)                                            # (B, T) -> (B, T, E)
        if self.bigram_embedding is not None:
            x = x + self.bigram_embedding(bigrams)
        if self.char_embedding is not None:
            x = x + self.char_embedding(first) + self.char_embedding(last)
        if self.word_embedding is not None:
            x = x + self.word_embedding(wordpos)
        if self.word_tag_embedding is not None:
            x = x + self.word_tag_embedding(wordtag)
        if self.lexicon is not None:
            if lexicon is None:
                raise ValueError("Tagger: this model reads SoftLexicon features: pass lexicon (B, T * 4 * W)")
            words = self.lexicon(lexicon, ids.shape[1])                        # (B, T, 4Dw)
            if self.lexicon_proj is not None:
                words = self.lexicon_proj(words)                               # (B, T, N)
            x = torch.cat([x, words], dim=2)                                   # (B, T, E + 4Dw or E + N)
        record("embedded", x)
        return x

    def forward(self, ids, lengths, bigrams=None, first=None, last=None, wordpos=None, wordtag=None, lexicon=None):
        x = self.embed(ids, bigrams, first, last, wordpos, wordtag, lexicon)   # (B, T, E [+ 4Dw])
        outputs, finals = self.lstm(self.dropout(x), lengths)              # (B, T, 2P): every step's h
        record("outputs", outputs)
        record("final_states", finals)
        emissions = self.emit(self.dropout(outputs))                       # (B, T, K)
        record("emissions", emissions)
        return emissions


class TagTask(Task):
    name = "tag"
    config_class = TagConfig
    onnx_backend = True

    def __init__(self, config: TagConfig, vocab: Vocab, bigram_vocab: Vocab | None = None,
                 char_vocab: Vocab | None = None, word_tag_vocab: Vocab | None = None,
                 lexicon_vocab: Vocab | None = None):
        self.config = config.check()
        self.tokenizer = make_tokenizer(config.tokenizer)
        self.vocab, self.bigram_vocab = vocab, bigram_vocab if config.bigrams else None
        self.labels = list(config.labels)
        self.runner = None   # inference on another backend (lstmkit.export.onnx.OnnxRunner): emissions, same shape
        self.pretrained = []  # what from_data read for config.embeddings: a Pretrained per table (tokens, bigrams)
        if config.char_features and char_vocab is None:
            raise ValueError("char_features=True needs a character vocabulary (vocab_chars.json)")
        self.char_vocab = char_vocab if config.char_features else None
        if config.word_features == "jieba-pos" and word_tag_vocab is None:
            raise ValueError("word_features='jieba-pos' needs a vocabulary of jieba's tags (vocab_wordtags.json)")
        self.word_tag_vocab = word_tag_vocab if config.word_features == "jieba-pos" else None
        if config.lexicon and lexicon_vocab is None:
            raise ValueError("lexicon features need the lexicon's words (vocab_lexicon.json)")
        self.lexicon_vocab = lexicon_vocab if config.lexicon else None
        self.matcher = Matcher(lexicon_vocab) if self.lexicon_vocab is not None else None
        self.model = Tagger(config, len(vocab), len(bigram_vocab) if self.bigram_vocab else 0,
                            len(char_vocab) if self.char_vocab else 0,
                            len(word_tag_vocab) if self.word_tag_vocab else 0,
                            len(lexicon_vocab) if self.lexicon_vocab else 0)

    @property
    def primary_metric(self) -> str:
        return "token_accuracy" if self.config.kind == "tags" else "f1"

    @classmethod
    def from_data(cls, config: TagConfig, train: TaggedDataset) -> "TagTask":
        if not train.sentences:
            raise ValueError("the training set is empty")
        seen = {t for tags in train.tags for t in tags}
        config = replace(config, labels=sorted(seen, key=lambda t: (t != "O", t.partition("-")[2], t))).check()
        vocab = Vocab.build(train.sentences, min_freq=config.min_freq, max_size=config.max_vocab)
        bigram_vocab = (Vocab.build((token_bigrams(s) for s in train.sentences), min_freq=2,
                                    max_size=config.max_bigrams) if config.bigrams else None)
        char_vocab = (Vocab.build(([c for tok in s for c in tok] for s in train.sentences), min_freq=1)
                      if config.char_features else None)
        word_tag_vocab = None
        if config.word_features == "jieba-pos":
            word_tag_vocab = Vocab.build(word_features(s, True)[1] for s in train.sentences)
        lexicon = read_lexicon(config.lexicon, std=config.lexicon_std) if config.lexicon else None
        if lexicon is not None:
            dim = lexicon.vectors.shape[1] if lexicon.vectors is not None else config.lexicon_dim
            config = replace(config, lexicon=lexicon.name, lexicon_sha256=lexicon.sha256, lexicon_words=lexicon.digest,
                             lexicon_dim=dim, lexicon_frozen=config.lexicon_frozen and lexicon.vectors is not None)
        starts = []
        if config.embeddings:      # the file read once for both tables; its dimension becomes E
            tables = [(vocab, None)] + ([(bigram_vocab, [b.replace(" ", "") for b in bigram_vocab.itos])]
                                        if bigram_vocab is not None else [])
            starts = load_pretrained_tables(config.embeddings, tables, std=config.embeddings_std)
            config = replace(config, embedding_dim=starts[0].dim)
        task = cls(config, vocab, bigram_vocab, char_vocab, word_tag_vocab, lexicon and lexicon.vocab)
        if lexicon is not None:
            task.model.lexicon.load(lexicon.vectors, frequencies(task.matcher.count(
                progress(train.sentences, "lexicon word counts", unit="sentence"))))
        task._start_from(starts)
        return task

    def _start_from(self, starts: list) -> None:
        """Copy pretrained tables (:func:`lstmkit.text.embeddings.load_pretrained_tables`'s, tokens then bigrams)
        into the embeddings: every token row (the file's or a random one of its scale), and the bigram rows the
        file gave (the others keep their start)."""
        self.pretrained = starts
        with torch.no_grad():
            for table, start in zip((self.model.embedding, self.model.bigram_embedding), starts):
                rows = torch.from_numpy(start.rows) if table is self.model.bigram_embedding else slice(None)
                table.weight[rows] = torch.from_numpy(start.matrix)[rows]

    # -- data ------------------------------------------------------------------------------------------------
    def encode(self, data: TaggedDataset) -> dict:
        index = {t: k for k, t in enumerate(self.labels)}
        enc = {"ids": [self.vocab.encode(s) for s in data.sentences], "tags": None}
        if self.bigram_vocab is not None:
            enc["bigrams"] = [self.bigram_vocab.encode(token_bigrams(s)) for s in data.sentences]
        if self.char_vocab is not None:
            enc["first"] = [self.char_vocab.encode([t[0] for t in s]) for s in data.sentences]
            enc["last"] = [self.char_vocab.encode([t[-1] for t in s]) for s in data.sentences]
        if self.config.word_features:
            feats = [word_features(s, self.word_tag_vocab is not None)
                     for s in progress(data.sentences, "jieba word features", unit="sentence")]
            enc["wordpos"] = [places for places, _ in feats]
            if self.word_tag_vocab is not None:
                enc["wordtag"] = [self.word_tag_vocab.encode(tags) for _, tags in feats]
        if self.matcher is not None:
            z, size = self.model.lexicon.z.cpu().numpy(), self.config.lexicon_set_size
            enc["lexicon"] = [lexicon_ids(self.matcher, s, z, size)
                              for s in progress(data.sentences, "lexicon words", unit="sentence")]
        if data.tags is not None:
            unknown = sorted({t for tags in data.tags for t in tags} - set(index))
            if unknown:
                share = sum(t in index for tags in data.tags for t in tags) / max(1, sum(map(len, data.tags)))
                hint = (f"; only {share:.0%} of its tags are the run's: is it {self.config.format} data (the run's "
                        f"format), tagged with {', '.join(self.labels[:6])}...?" if share < 0.5 else "")
                raise ValueError(f"{data.source}: tags {unknown[:5]} were not in the training set{hint}")
            enc["tags"] = [[index[t] for t in tags] for tags in data.tags]
        return enc

    def batches(self, enc: dict, batch_size: int, shuffle: bool = False, seed: int = 0) -> PaddedBatches:
        return PaddedBatches({"ids": enc["ids"], "tags": enc["tags"], **{k: enc.get(k) for k in FEATURES}},
                             batch_size, shuffle, seed, device=self.model.embedding.weight.device)

    # -- training and inference ------------------------------------------------------------------------------
    def step(self, batch) -> torch.Tensor:
        emissions = self.model(batch["ids"], batch["lengths"], **{k: batch.get(k) for k in FEATURES})
        if self.model.crf is not None:
            return -self.model.crf.log_likelihood(emissions, batch["tags"], batch["lengths"]).mean()
        valid = valid_mask(batch["lengths"], emissions.shape[1])                 # (B, T)
        return F.cross_entropy(emissions[valid], batch["tags"][valid])

    @torch.no_grad()
    def predict_ids(self, enc: dict, batch_size: int = 128) -> list:
        """The best tag ids for every sentence, in the input order."""
        self.model.eval()
        out = [None] * len(enc["ids"])
        for batch in progress(self.batches(enc, batch_size), "tagging", unit="batch", min_items=20):
            emissions = (self.runner or self.model)(batch["ids"], batch["lengths"],
                                                    **{k: batch.get(k) for k in FEATURES})
            best = (self.model.crf.viterbi(emissions, batch["lengths"])[0] if self.model.crf is not None
                    else emissions.argmax(2))
            for row, i, n in zip(best.cpu().tolist(), batch["index"], batch["lengths"].tolist()):
                out[i] = row[:n]
        return out

    def evaluate(self, enc: dict, batch_size: int = 128) -> dict:
        if enc["tags"] is None:
            raise ValueError("evaluation needs tags")
        pred = self.predict_ids(enc, batch_size)
        return tagging_report([[self.labels[k] for k in s] for s in enc["tags"]],
                              [[self.labels[k] for k in s] for s in pred], self.config.kind, self.config.scheme)

    def predict_records(self, texts: list[str]) -> list[dict]:
        """Raw texts -> tokens -> tags -> the kind's natural answer: entities, words, or (word, tag) pairs."""
        tokens = [self.tokenizer(t) for t in texts]
        keep = [k for k, toks in enumerate(tokens) if toks]
        data = TaggedDataset([tokens[k] for k in keep], None, "input")
        tags = dict(zip(keep, self.predict_ids(self.encode(data)))) if keep else {}
        records = []
        for k, text in enumerate(texts):
            if k not in tags:
                records.append({"input": text, "error": "empty text: nothing to tag"})
                continue
            toks, labels = tokens[k], [self.labels[i] for i in tags[k]]
            rec = {"input": text, "tokens": toks, "tags": labels}
            if self.config.kind == "entities":
                rec["entities"] = [{"type": typ, "start": s, "end": e, "text": "".join(toks[s:e])}
                                   for typ, s, e in spans(labels, self.config.scheme)]
            elif self.config.kind == "words":
                rec["words"] = ["".join(toks[s:e]) for _, s, e in spans(labels, self.config.scheme)]
            records.append(rec)
        return records

    def config_dict(self) -> dict:
        return asdict(self.config)

    def vocabs(self) -> dict:
        """The vocabularies a run folder keeps, by role (``tokens`` -> vocab.json)."""
        extra = {role: v for role, v in (("bigrams", self.bigram_vocab), ("chars", self.char_vocab),
                                         ("wordtags", self.word_tag_vocab), ("lexicon", self.lexicon_vocab))
                 if v is not None}
        return {"tokens": self.vocab, **extra}

    @classmethod
    def from_saved(cls, config, vocabs: dict) -> "TagTask":
        if config.bigrams and "bigrams" not in vocabs:
            raise ValueError("this run uses bigram features but keeps no bigram vocabulary (vocab_bigrams.json)")
        if config.char_features and "chars" not in vocabs:
            raise ValueError("this run uses character features but keeps no character vocabulary (vocab_chars.json)")
        if config.word_features == "jieba-pos" and "wordtags" not in vocabs:
            raise ValueError("this run uses jieba's parts of speech but keeps no vocabulary of them "
                             "(vocab_wordtags.json)")
        if config.lexicon:
            if "lexicon" not in vocabs:
                raise ValueError(f"this run uses the lexicon {config.lexicon!r} but keeps none of its words "
                                 f"(vocab_lexicon.json)")
            digest = words_digest(vocabs["lexicon"])
            if config.lexicon_words and digest != config.lexicon_words:
                raise ValueError(f"vocab_lexicon.json is not this run's lexicon ({config.lexicon!r}): its words' "
                                 f"SHA-256 is {digest[:12]}..., the run recorded {config.lexicon_words[:12]}...; "
                                 f"was it copied from another run?")
        return cls(config, vocabs["tokens"], vocabs.get("bigrams"), vocabs.get("chars"), vocabs.get("wordtags"),
                   vocabs.get("lexicon"))
