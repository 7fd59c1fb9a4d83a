"""``lstmkit train seq2seq`` and how evaluate/predict read and show a seq2seq run's data."""
from __future__ import annotations

import argparse

from .base import TaskCommands
from .cell_args import add_cell_args, cell_config
from .common import (ENSEMBLE_HELP, add_training_args, fresh_or_warm, input_texts, non_negative_float, positive_int,
                     probability, train_and_report, training_splits)

TASK, KIND = "seq2seq", "seq2seq"


def _tokenizer(name: str) -> dict:
    # characters one by one on the source side: a Latin word is a sequence of letters, not one token
    return {"name": "char", "split_latin": True} if name == "char" else {"name": name}


# the sides' tokenizers when none is given: a corpus's own, else characters -> words
CORPUS_TOKENIZERS = {"cmudict-p2g": ("whitespace", "char")}


def _data(args):
    from ..data.pairs import read_pairs

    return training_splits(args, KIND, TASK, read_pairs, "pairs", corpora="cmudict-g2p")


def train(args) -> int:
    from ..tasks.seq2seq import Seq2SeqConfig, Seq2SeqTask
    from ..train.trainer import seed_everything

    from .common import check_out

    check_out(args)
    cells = cell_config(args)
    source_tok, target_tok = CORPUS_TOKENIZERS.get(args.corpus, ("char", "whitespace"))
    config = Seq2SeqConfig(source_tokenizer=_tokenizer(args.source_tokenizer or source_tok),
                           target_tokenizer=_tokenizer(args.target_tokenizer or target_tok),
                           embedding_dim=args.embedding_dim,
                           units=args.units, layers=args.layers, bidirectional=args.bidirectional,
                           cell=cells.cell, cell_options=cells.options(), attention=args.attention,
                           input_feeding=args.input_feeding, dropout=args.dropout,
                           label_smoothing=args.label_smoothing, beam_size=args.beam_size,
                           length_penalty=args.length_penalty, reverse_target=args.reverse_target).check()
    train_data, dev, test = _data(args)
    if args.target_tokenizer is None:        # the default, not the user's choice: say when it does not fit
        from ..data.pairs import check_target_tokenizer
        from ..train.runs import stderr_log

        warning = check_target_tokenizer(train_data, config.target_tokenizer)
        if warning:
            stderr_log(f"warning: {warning}")
    seed_everything(args.seed)
    task, extra = fresh_or_warm(args, config, TASK, lambda: Seq2SeqTask.from_data(config, train_data))
    return train_and_report(args, task, train_data, dev, test, ("wer", "per", "exact_match", "wer_any"), "pairs",
                            lambda d: f"dev wer {d['wer']:.4f}, per {d['per']:.4f} (greedy)", extra)


def add_parser(sub) -> None:
    from ..nn import CellConfig
    from ..tasks.seq2seq import Seq2SeqConfig

    model = Seq2SeqConfig()
    p = sub.add_parser("seq2seq", help="sequence to sequence: LSTM encoder, attentional LSTM decoder, beam search",
                       description="Train an encoder-decoder with attention. Data: UTF-8 'source<TAB>target' lines "
                                   "(--train/--dev), or --corpus cmudict-g2p (English spelling -> phonemes) or "
                                   "cmudict-p2g (the same pairs swapped, phonemes -> spelling).")
    p.add_argument("--train", help="source<TAB>target pairs, one per line")
    p.add_argument("--dev", help="dev pairs (default: a tenth of --train, chosen by hash)")
    p.add_argument("--corpus", help="a built-in corpus instead of --train/--dev: cmudict-g2p or cmudict-p2g")
    p.add_argument("--out", required=True, help="the run folder to create")
    p.add_argument("--init-from", metavar="RUN",
                   help="start from a seq2seq run (its weights, vocabularies and model options) and train it "
                        "further, e.g. more epochs at a lower --lr; the run itself is left as it was")
    g = p.add_argument_group("text")
    g.add_argument("--source-tokenizer", help="char (the default; whitespace for cmudict-p2g), whitespace, regex "
                                              "or jieba")
    g.add_argument("--target-tokenizer", help="whitespace (the default; char for cmudict-p2g), char, regex or "
                                              "jieba")
    g = p.add_argument_group("model")
    g.add_argument("--embedding-dim", type=positive_int, default=model.embedding_dim)
    g.add_argument("--units", type=positive_int, default=model.units, help="H, encoder (per direction) and decoder")
    g.add_argument("--layers", type=positive_int, default=model.layers)
    g.add_argument("--bidirectional", action=argparse.BooleanOptionalAction, default=model.bidirectional,
                   help="bidirectional encoder")
    add_cell_args(g, CellConfig.of(model))
    g.add_argument("--attention", choices=["dot", "general", "additive", "none"], default=model.attention,
                   help="Luong dot/general, Bahdanau additive, or none")
    g.add_argument("--input-feeding", action=argparse.BooleanOptionalAction, default=model.input_feeding)
    g.add_argument("--dropout", type=probability, default=model.dropout)
    g.add_argument("--label-smoothing", type=probability, default=model.label_smoothing)
    g.add_argument("--reverse-target", action="store_true",
                   help="learn and decode each target right to left (outputs still read left to right); "
                        "such a run can rescore a left-to-right one's beam (evaluate/predict --rescore)")
    g.add_argument("--beam-size", type=positive_int, default=model.beam_size, help="evaluate's beam width")
    g.add_argument("--length-penalty", type=non_negative_float, default=model.length_penalty,
                   help="GNMT alpha: log P / ((5 + |Y|) / 6) ** alpha (0: no normalisation)")
    add_training_args(p, epochs=15, batch_size=64, lr=3e-3, patience=3)
    p.set_defaults(func=train)


def read_test(args, config: dict):
    from ..data.pairs import read_pairs

    return read_pairs(args.test)


def print_metrics(metrics: dict, data) -> None:
    models = f", an ensemble of {metrics['members']} runs" if metrics.get("members", 1) > 1 else ""
    if metrics.get("rescorers"):
        models += f", rescored by {metrics['rescorers']} more run{'s' if metrics['rescorers'] > 1 else ''}"
    if metrics.get("inverse_rescorers"):
        n = metrics["inverse_rescorers"]
        models += f", rescored by {n} inverse run{'s' if n > 1 else ''}"
    print(f"{data.source} ({metrics['n']:,} pairs, beam {metrics['beam_size']}{models}):")
    for key in ("wer", "per", "exact_match", "wer_any", "per_any", "loss"):
        print(f"{key:<14}{metrics[key]:.4f}")


def predict(args, config: dict) -> list[dict]:
    from ..tasks import load_task

    texts = input_texts(args)
    if not texts:
        raise ValueError("nothing to decode: give TEXT arguments, --file F, or lines on standard input")
    task = load_task(args.run, device=args.device, **joined_runs(args))
    return task.predict_records(texts, beam_size=args.beam_size, n_best=args.n_best)


def joined_runs(args) -> dict:
    return {"ensemble": args.ensemble or (), "rescore": args.rescore or (), "inverse": args.rescore_inverse or ()}


RESCORE_HELP = ("more runs trained on the same data (e.g. with --reverse-target) that re-rank the whole beam: "
                "candidates ranked by the mean log-probability every model gives them")
INVERSE_HELP = ("runs trained the other way (target -> source, e.g. --corpus cmudict-p2g) that vote in that mean "
                "with log P(source | candidate)")


def add_evaluate_args(p) -> None:
    p.add_argument("--beam-size", type=positive_int, help="beam width (1: greedy; default: the run's)")
    p.add_argument("--ensemble", nargs="+", metavar="RUN", help=ENSEMBLE_HELP)
    p.add_argument("--rescore", nargs="+", metavar="RUN", help=RESCORE_HELP)
    p.add_argument("--rescore-inverse", nargs="+", metavar="RUN", help=INVERSE_HELP)


def add_predict_args(p) -> None:
    add_evaluate_args(p)
    p.add_argument("--n-best", type=positive_int, default=3, help="outputs listed per input")


def plain(rec: dict) -> str:
    """The input, then each of the n best with its score."""
    lines = [rec["input"]]
    for k, h in enumerate(rec["nbest"], 1):
        lines.append(f"  {k}. {h['output']}\t{h['score']:.4f}")
    return "\n".join(lines)


COMMANDS = TaskCommands(TASK, add_train_parser=add_parser, add_evaluate_args=add_evaluate_args,
                        add_predict_args=add_predict_args, read_test=read_test, print_metrics=print_metrics,
                        predict=predict, plain=plain, joined_runs=joined_runs,
                        evaluate_options=lambda args: {"beam_size": args.beam_size} if args.beam_size else {})
