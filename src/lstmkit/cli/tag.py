"""``lstmkit train tag`` and how evaluate/predict read and show a tagger's data."""
from __future__ import annotations

import argparse

from .base import TaskCommands
from .cell_args import add_cell_args, cell_config
from .common import (add_training_args, non_negative_int, positive_float, positive_int, probability,
                     train_and_report, training_splits)

TASK, KIND = "tag", "tagging"
_CORPUS_FORMAT = {"msra-ner": "conll", "pd98-seg": "segmented", "pd98-pos": "wordtag"}
# what a built-in corpus trains with unless told otherwise, where it measurably helps there (benchmarks/RESULTS.md,
# "Tagging"): SoftLexicon over zhwiki everywhere (MSRA NER test entity F1 0.9123 against 0.9002, pd98-seg word F1
# 0.9656 against 0.9615, pd98-pos token accuracy 0.9659 against 0.9618), and on MSRA zhwiki's character and bigram
# vectors too (0.9198)
CORPUS_DEFAULTS = {"msra-ner": {"lexicon": "zhwiki", "embeddings": "zhwiki"}, "pd98-seg": {"lexicon": "zhwiki"},
                   "pd98-pos": {"lexicon": "zhwiki"}}


def _tag_data(args):
    from ..data.tagged import read_tagged

    if args.train and not args.corpus and not args.format:
        raise ValueError("--format conll|wordtag|segmented is required with --train")
    return training_splits(args, KIND, TASK, lambda f: read_tagged(f, args.format), "sentences")


MODEL_OPTIONS = ("embedding_dim", "bigrams", "max_bigrams", "char_features", "word_features", "units", "layers",
                 "dropout", "decoder", "constraints", "lexicon", "lexicon_set_size", "lexicon_std", "lexicon_proj",
                 "embeddings", "embeddings_std")


def _corpus_defaults(args) -> None:
    """Fill ``--lexicon`` and ``--embeddings`` from the corpus's defaults (:data:`CORPUS_DEFAULTS`) where they were
    not given (``--embeddings`` not with ``--embedding-dim`` either); ``none`` turns either off. A default whose
    package is missing is left out, with a line saying so and how to install it."""
    from ..text.embeddings import resolve_vectors
    from ..train.runs import stderr_log

    for name, default in CORPUS_DEFAULTS.get(args.corpus, {}).items():
        if getattr(args, name) is not None or (name == "embeddings" and args.embedding_dim is not None):
            continue
        try:
            resolve_vectors(default)
            setattr(args, name, default)
        except ValueError as err:        # the package is not installed: the corpus still trains, without it
            stderr_log(f"--corpus {args.corpus}: its default --{name} {default} is left out: {err}")
    for name in ("lexicon", "embeddings"):
        if getattr(args, name) == "none":
            setattr(args, name, None)


def _model_options(args) -> dict:
    """The model options given on the command line (the rest come from TagConfig.for_kind)."""
    given = {name: getattr(args, name) for name in MODEL_OPTIONS if getattr(args, name) is not None}
    if "max_bigrams" in given:
        given["max_bigrams"] = given["max_bigrams"] or None        # 0: every bigram seen twice
    if "word_features" in given:
        given["word_features"] = None if given["word_features"] == "none" else given["word_features"]
    return given


def train(args) -> int:
    from ..tasks.tag import TagConfig, TagTask
    from ..text.embeddings import resolve_vectors
    from ..text.tags import detect_scheme
    from ..train.runs import stderr_log
    from ..train.trainer import seed_everything

    from .common import check_out

    check_out(args)
    _corpus_defaults(args)
    for name in ("lexicon", "embeddings"):      # a missing file or package fails before the data is read
        if getattr(args, name) and not resolve_vectors(getattr(args, name)).is_file():
            raise FileNotFoundError(f"--{name}: file not found: {getattr(args, name)}")
    if args.embeddings and args.embedding_dim:
        raise ValueError("give --embeddings or --embedding-dim, not both: the vectors' size is the embedding's")
    cells = cell_config(args)
    fmt = _CORPUS_FORMAT.get(args.corpus, args.format) if args.corpus else args.format
    kind = args.kind or {"segmented": "words", "wordtag": "tags"}.get(fmt, "entities")
    if args.corpus == "pd98-seg":
        kind = args.kind or "words"
    train_data, dev, test = _tag_data(args)
    scheme = args.scheme or ("BMES" if kind == "words" else detect_scheme(train_data.tags))
    config = TagConfig.for_kind(kind, scheme=scheme, format=fmt or "conll", cell=cells.cell,
                                cell_options=cells.options(), **_model_options(args))
    seed_everything(args.seed)
    task = TagTask.from_data(config, train_data)
    for what, pre in zip(("token", "bigram"), task.pretrained):
        stderr_log(f"pretrained {what} embeddings: {pre.summary()}")
    if task.lexicon_vocab is not None:
        stderr_log(f"lexicon {task.config.lexicon}: {len(task.lexicon_vocab) - 2:,} words x {task.config.lexicon_dim}"
                   f"{' (fixed)' if task.config.lexicon_frozen else ' (learnt)'}, {task.config.lexicon_set_size} per "
                   f"B/M/E/S set; SHA-256 {task.config.lexicon_sha256[:16]}...")
    metric = task.primary_metric
    return train_and_report(args, task, train_data, dev, test, (metric, "precision", "recall", "token_accuracy"),
                            "sentences", lambda d: f"dev {metric} {d[metric]:.4f}")


def add_parser(sub) -> None:
    from ..nn import CellConfig
    from ..tasks.tag import KIND_DEFAULTS, TagConfig

    model = TagConfig()
    p = sub.add_parser("tag", help="sequence labelling: NER, word segmentation, POS (BiLSTM-CRF)",
                       description="Train a tagger: embedding -> BiLSTM -> per-step emissions -> CRF. Data: --format "
                                   "conll|wordtag|segmented files, or --corpus msra-ner|pd98-seg|pd98-pos.")
    p.add_argument("--train")
    p.add_argument("--dev")
    p.add_argument("--corpus", help="msra-ner, pd98-seg or pd98-pos")
    p.add_argument("--format", choices=["conll", "wordtag", "segmented"])
    p.add_argument("--out", required=True)
    p.add_argument("--kind", choices=["entities", "words", "tags"], help="default: from the format")
    p.add_argument("--scheme", choices=["BIO", "BIOES", "BMES"], help="default: detected from the tags")

    def default(name: str, show=str) -> str:
        """Help text naming ``name``'s default per kind."""
        base = show(getattr(model, name))
        special = {k: show(d[name]) for k, d in KIND_DEFAULTS.items() if name in d and show(d[name]) != base}
        return "default: " + "".join(f"{v} for --kind {k}, " for k, v in special.items()) + \
            (f"{base} otherwise" if special else base)

    p.add_argument("--embedding-dim", type=positive_int, help=default("embedding_dim"))
    p.add_argument("--bigrams", action=argparse.BooleanOptionalAction,
                   help="add an embedding of each character with its successor (" +
                        default("bigrams", lambda v: "on" if v else "off") + ")")
    p.add_argument("--max-bigrams", type=non_negative_int, metavar="N",
                   help="the bigram vocabulary's size: the most frequent character bigrams seen at least twice "
                        "in training, <pad> and <unk> included; 0: every such bigram ("
                        + default("max_bigrams", lambda v: str(v or 0)) + ")")
    p.add_argument("--char-features", action=argparse.BooleanOptionalAction,
                   help="add each word's first and last character embeddings, for word-level tagging (POS): "
                        "words never seen in training are tagged by their characters ("
                        + default("char_features", lambda v: "on" if v else "off") + ")")
    p.add_argument("--word-features", choices=["jieba", "jieba-pos", "none"],
                   help="jieba: add each character's place (B/M/E/S) in the word jieba finds around it (soft-word "
                        "features); jieba-pos: and that word's part of speech (nr person, ns place, nt "
                        "organisation, ...) (" + default("word_features", lambda v: v or "none") + ")")
    p.add_argument("--units", type=positive_int, help=default("units"))
    p.add_argument("--layers", type=positive_int, help=default("layers"))
    p.add_argument("--dropout", type=probability, help=default("dropout"))
    g = p.add_argument_group("lexicon (SoftLexicon, Ma et al. 2020) and pretrained vectors")
    g.add_argument("--lexicon", metavar="zhwiki|none|FILE",
                   help="add each character's SoftLexicon vectors: the lexicon words it begins, continues, ends or "
                        "is, four sets pooled by the words' frequencies in the training text. zhwiki: the Chinese "
                        "Wikipedia word2vec of the synonyms package (125,796 words x 100); FILE: word2vec/GloVe "
                        "vectors (kept fixed) or a plain word list, one word a line (vectors learnt); none: no lexicon. "
                        "The run keeps the words, vectors and frequencies it needs (default: zhwiki with a built-in "
                        "--corpus where the synonyms package is installed, none otherwise)")
    g.add_argument("--lexicon-set-size", type=positive_int, metavar="W",
                   help=f"the words kept per B/M/E/S set of a character, the most frequent (default: "
                        f"{model.lexicon_set_size})")
    g.add_argument("--lexicon-std", type=positive_float, metavar="STD",
                   help=f"rescale the lexicon's vectors to this standard deviation (zhwiki's is 2.8) (default: "
                        f"{model.lexicon_std})")
    g.add_argument("--lexicon-proj", type=non_negative_int, metavar="N",
                   help="pass the four pooled lexicon vectors (4 x 100 values for zhwiki) through a learnt linear "
                        "layer to N values before the BiLSTM: a narrower LSTM input, faster; 0: as they are, as the "
                        f"paper does (default: {model.lexicon_proj})")
    g.add_argument("--embeddings", metavar="zhwiki|none|FILE",
                   help="start the character embeddings from these vectors' one-character words and the bigram "
                        "embeddings from their two-character words; the vectors' size becomes --embedding-dim; none: "
                        "random (default: zhwiki with --corpus msra-ner where the synonyms package is installed, "
                        "random otherwise)")
    g.add_argument("--embeddings-std", type=positive_float, metavar="STD",
                   help=f"rescale those vectors to this standard deviation (default: {model.embeddings_std})")
    add_cell_args(p, CellConfig.of(model))
    p.add_argument("--decoder", choices=["crf", "softmax"], help=default("decoder"))
    p.add_argument("--constraints", action=argparse.BooleanOptionalAction,
                   help="forbid the scheme's illegal transitions in the CRF (" +
                        default("constraints", lambda v: "on" if v else "off") + ")")
    add_training_args(p, epochs=10)     # the dev metric stops it earlier (--patience)
    p.set_defaults(func=train)


def read_test(args, config: dict):
    from ..data.tagged import read_tagged

    return read_tagged(args.test, args.format or config["model"].get("format", "conll"))


def print_metrics(metrics: dict, data) -> None:
    print(f"{data.source}:")
    for key in ("f1", "precision", "recall", "token_accuracy"):
        if key in metrics:
            print(f"{key:<16}{metrics[key]:.4f}")
    for typ, r in metrics.get("per_type", {}).items():
        print(f"  {typ:<14}f1 {r['f1']:.4f}  precision {r['precision']:.4f}  recall {r['recall']:.4f}  "
              f"support {r['support']:,}")


def plain(rec: dict) -> str:
    """Entities, words, or word/TAG pairs."""
    if "entities" in rec:
        found = "; ".join(f"{e['type']} [{e['start']}, {e['end']}) {e['text']}" for e in rec["entities"])
        return f"{rec['input']}\t{found or '(no entities)'}"
    if "words" in rec:
        return " ".join(rec["words"])
    return " ".join(f"{tok}/{tag}" for tok, tag in zip(rec["tokens"], rec["tags"]))


def add_evaluate_args(p) -> None:
    p.add_argument("--format", choices=["conll", "wordtag", "segmented"], help="tagged test data (default: the run's)")


COMMANDS = TaskCommands(TASK, add_train_parser=add_parser, add_evaluate_args=add_evaluate_args, read_test=read_test,
                        print_metrics=print_metrics, plain=plain)
