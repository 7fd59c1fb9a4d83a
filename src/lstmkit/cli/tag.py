"""``lstmkit train tag`` and how evaluate/predict read and show a tagger's data."""
from __future__ import annotations

import argparse

from .common import add_training_args, non_negative_int, positive_int, probability, train_and_report, training_splits

TASK, KIND = "tag", "tagging"
_CORPUS_FORMAT = {"msra-ner": "conll", "pd98-seg": "segmented", "pd98-pos": "wordtag"}


def _hold_out_sentences(data, name: str):
    from ..data.corpora import _split_tagged

    parts = _split_tagged(data, name)       # 80/10/10 by hash; the test tenth goes back into training
    parts["train"].sentences += parts["test"].sentences
    parts["train"].tags += parts["test"].tags
    return parts["train"], parts["dev"]


def _tag_data(args):
    from ..data.tagged import read_tagged

    if args.train and not args.corpus and not args.format:
        raise ValueError("--format conll|wordtag|segmented is required with --train")
    return training_splits(args, KIND, TASK, lambda f: read_tagged(f, args.format),
                           lambda d: _hold_out_sentences(d, str(args.train)), "sentences")


def _word_features(choice: str | None, kind: str) -> str | None:
    if choice is None:
        return "jieba" if kind == "entities" else None
    return None if choice == "none" else choice


def train(args) -> int:
    from ..tasks.tag import TagConfig, TagTask
    from ..text.tags import detect_scheme
    from ..train.checkpoint import check_new_run
    from ..train.trainer import seed_everything

    check_new_run(args.out)
    fmt = _CORPUS_FORMAT.get(args.corpus, args.format) if args.corpus else args.format
    kind = args.kind or {"segmented": "words", "wordtag": "tags"}.get(fmt, "entities")
    if args.corpus == "pd98-seg":
        kind = args.kind or "words"
    train_data, dev, test = _tag_data(args)
    scheme = args.scheme or ("BMES" if kind == "words" else detect_scheme(train_data.tags))
    tokenizer = {"name": "jieba"} if kind == "tags" else {"name": "char", "split_latin": True}
    config = TagConfig(kind=kind, scheme=scheme, format=fmt or "conll", tokenizer=tokenizer,
                       embedding_dim=args.embedding_dim, bigrams=args.bigrams, max_bigrams=args.max_bigrams or None,
                       char_features=kind == "tags" if args.char_features is None else args.char_features,
                       word_features=_word_features(args.word_features, kind), units=args.units, layers=args.layers,
                       dropout=args.dropout, decoder=args.decoder, constraints=args.constraints).check()
    seed_everything(args.seed)
    task = TagTask.from_data(config, train_data)
    metric = task.primary_metric
    return train_and_report(args, task, train_data, dev, test, (metric, "precision", "recall", "token_accuracy"),
                            "sentences", lambda d: f"dev {metric} {d[metric]:.4f}")


def add_parser(sub) -> None:
    from ..tasks.tag import TagConfig

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
    p.add_argument("--embedding-dim", type=positive_int, default=model.embedding_dim)
    p.add_argument("--bigrams", action=argparse.BooleanOptionalAction, default=model.bigrams)
    p.add_argument("--max-bigrams", type=non_negative_int, default=model.max_bigrams, metavar="N",
                   help="the bigram vocabulary's size: the most frequent character bigrams seen at least twice "
                        "in training, <pad> and <unk> included (default: %(default)s; 0: every such bigram)")
    p.add_argument("--char-features", action=argparse.BooleanOptionalAction, default=None,
                   help="add each word's first and last character embeddings (default: on for --kind tags, "
                        "word-level POS tagging; off for character-level kinds)")
    p.add_argument("--word-features", choices=["jieba", "jieba-pos", "none"], default=None,
                   help="jieba: add each character's place (B/M/E/S) in the word jieba finds around it (soft-word "
                        "features); jieba-pos: and that word's part of speech (nr person, ns place, nt "
                        "organisation, ...). Default: jieba for --kind entities (NER), none otherwise")
    p.add_argument("--units", type=positive_int, default=model.units)
    p.add_argument("--layers", type=positive_int, default=model.layers)
    p.add_argument("--dropout", type=probability, default=model.dropout)
    p.add_argument("--decoder", choices=["crf", "softmax"], default=model.decoder)
    p.add_argument("--constraints", action=argparse.BooleanOptionalAction, default=model.constraints,
                   help="forbid the scheme's illegal transitions in the CRF")
    add_training_args(p)
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
