"""The ``lstmkit`` command: argument parsing and exit codes only; the work is the library's.

    lstmkit train {classify,tag,seq2seq,lm,regress} --train F --dev F [--corpus NAME] --out RUN [--epochs N ...]
    lstmkit evaluate RUN --test F [--json]
    lstmkit predict RUN [TEXT ...] [--file F] [--json]
    lstmkit explain [TEXT ...] [--run RUN] [--html F]
    lstmkit export RUN [--onnx FILE]
    lstmkit generate RUN --prompt TEXT [--max-tokens N --temperature T --top-k K --seed S]
    lstmkit params --input-size I --units H [...]

One module per task (``cli/classify.py``, ...) adds its ``train`` sub-command and says how ``evaluate`` reads
its test data (``read_test``), how its metrics and predictions print (``print_metrics``, ``plain``), and,
where plain texts are not its input, how ``predict`` reads it (``predict``).

Every user error ends as one line on stderr and a non-zero exit, never a traceback
(set ``LSTMKIT_DEBUG=1`` to see one).
"""
from __future__ import annotations

import argparse
import importlib
import json
import os
import sys

from .common import DEVICE_HELP, input_texts, positive_int

_TASK_MODULES = ("classify", "tag", "seq2seq", "lm", "regress")


def task_modules() -> dict:
    """Task name -> its CLI module, for the tasks this version of lstmkit has."""
    found = {}
    for name in _TASK_MODULES:
        try:
            found[name] = importlib.import_module(f".{name}", __package__)
        except ModuleNotFoundError as exc:
            if exc.name != f"{__package__}.{name}":
                raise
    return found


def _task_cli(config: dict):
    modules = task_modules()
    if config["task"] not in modules:
        raise ValueError(f"unknown task {config['task']!r} in the run's config.json (known: {', '.join(modules)})")
    return modules[config["task"]]


# -- commands --------------------------------------------------------------------------------------------------
def _cmd_params(args) -> int:
    from ..explain import params_report

    print(params_report(args.input_size, args.units, args.layers, args.bidirectional, args.num_proj,
                        args.peepholes))
    return 0


def _cmd_explain(args) -> int:
    from ..explain import render_json, render_text, trace

    run_task = None
    if args.run:
        from ..train.checkpoint import read_config

        run_task = read_config(args.run)["task"]
        if run_task == "regress":                           # a forecaster reads CSV files, not texts
            return _explain_model(args, list(args.texts) + ([args.file] if args.file else []))
    texts = list(args.texts)
    if args.file:
        from ..data import read_lines

        texts += read_lines(args.file).texts
    if not texts:
        raise ValueError("give one or more TEXT arguments (or --file F): they form one batch")
    if run_task not in (None, "classify"):
        return _explain_model(args, texts)
    tr = trace(texts, tokenizer=args.tokenizer, maxlen=args.maxlen, embedding_dim=args.embedding_dim,
               units=args.units, layers=args.layers, bidirectional=args.bidirectional, cell=args.cell,
               num_proj=args.num_proj, peepholes=args.peepholes, classes=args.classes, run=args.run)
    if args.html:
        from ..explain.html import render_html
        from ..io import atomic_write_text

        atomic_write_text(args.html, render_html(tr))
        print(f"wrote {args.html}", file=sys.stderr)
    print(render_json(tr, full=args.full) if args.json else render_text(tr, args.time_steps))
    return 0


def _explain_model(args, inputs) -> int:
    """explain --run for a tagger, seq2seq, language model or forecaster."""
    from ..explain.models import explain_run, render_model_text

    tr = explain_run(args.run, inputs)
    if args.html:
        from ..explain.html import render_model_html
        from ..io import atomic_write_text

        atomic_write_text(args.html, render_model_html(tr))
        print(f"wrote {args.html}", file=sys.stderr)
    print(json.dumps(tr.to_json(full=args.full), ensure_ascii=False) if args.json else render_model_text(tr))
    return 0


def _read_test(args, config: dict, module):
    if bool(args.test) == bool(args.corpus):
        raise ValueError("give --test FILE or --corpus NAME (its test split)")
    if args.corpus:
        from ..data import load_corpus
        from ..data.corpora import corpus_kind

        if corpus_kind(args.corpus) != module.KIND:
            raise ValueError(f"corpus {args.corpus!r} does not fit a {config['task']!r} run")
        return load_corpus(args.corpus)["test"]
    return module.read_test(args, config)


def _seq2seq_only(args, config: dict, **given: bool) -> None:
    """An error for a seq2seq-only option (``beam_size=True``: --beam-size was given) on another kind of run."""
    for name, was_given in given.items():
        if was_given and config.get("task") != "seq2seq":
            raise ValueError(f"--{name.replace('_', '-')} applies to seq2seq runs; {args.run} is a "
                             f"{config.get('task')} run")


def _ensemble_fits(args, config: dict) -> None:
    """An error for --ensemble on a kind of run that cannot join others (before any model is loaded)."""
    from ..train.runs import ENSEMBLE_KINDS

    if args.ensemble and config.get("task") not in ENSEMBLE_KINDS:
        raise ValueError(f"--ensemble joins {' or '.join(ENSEMBLE_KINDS)} runs; {args.run} is a "
                         f"{config.get('task')} run")
    for run in args.ensemble or ():
        if not os.path.isdir(run):   # most often a text typed after --ensemble, which takes every word after it
            raise ValueError(f"--ensemble: run folder not found: {run} (put the texts before --ensemble)")


def _cmd_evaluate(args) -> int:
    from ..train.checkpoint import read_config
    from ..train.runs import evaluate_run

    config = read_config(args.run)  # a clear error for a folder that is not a run, before any work
    module = _task_cli(config)
    _seq2seq_only(args, config, beam_size=args.beam_size is not None, rescore=bool(args.rescore),
                  rescore_inverse=bool(args.rescore_inverse))
    _ensemble_fits(args, config)
    data = _read_test(args, config, module)
    metrics = evaluate_run(args.run, data, args.ensemble or (), args.device, args.rescore or (),
                           args.rescore_inverse or (), **({"beam_size": args.beam_size} if args.beam_size else {}))
    if args.json:
        print(json.dumps(metrics, ensure_ascii=False))
    else:
        module.print_metrics(metrics, data)
    return 0


def _cmd_predict(args) -> int:
    from ..train.checkpoint import read_config
    from ..train.runs import predict_run

    config = read_config(args.run)
    module = _task_cli(config)
    _seq2seq_only(args, config, rescore=bool(args.rescore), rescore_inverse=bool(args.rescore_inverse))
    _ensemble_fits(args, config)
    if args.backend == "onnx":
        if args.ensemble:
            raise ValueError("--ensemble runs on the torch backend; drop --backend onnx")
        records = _predict_onnx(args, config)
    elif hasattr(module, "predict"):
        records = module.predict(args, config)
    else:
        texts = input_texts(args)
        if not texts:
            raise ValueError("nothing to predict: give TEXT arguments, --file F, or lines on standard input")
        records = predict_run(args.run, texts, args.device, args.ensemble or ())
    for rec in records:
        if args.json:
            print(json.dumps(rec, ensure_ascii=False))
        elif rec.get("error"):
            print(f"-\t-\t{rec['input']!r}: {rec['error']}")
        else:
            print(module.plain(rec))
    return 0


def _onnx_path(args) -> str:
    from pathlib import Path

    return args.onnx or str(Path(args.run) / "model.onnx")


def _predict_onnx(args, config: dict) -> list:
    from pathlib import Path

    from ..export.onnx import OnnxRunner
    from ..train.checkpoint import load_run

    if config["task"] not in ("classify", "tag"):
        raise ValueError(f"--backend onnx runs classifier and tagger runs; this is a {config['task']!r} run")
    path = _onnx_path(args)
    if not Path(path).is_file():
        raise FileNotFoundError(f"{path} not found: run 'lstmkit export {args.run} --onnx {path}' first")
    texts = input_texts(args)
    if not texts:
        raise ValueError("nothing to predict: give TEXT arguments, --file F, or lines on standard input")
    task = load_run(args.run)
    task.runner = OnnxRunner(path)
    return task.predict_records(texts)


def _cmd_export(args) -> int:
    from ..export.onnx import export_onnx
    from ..train.checkpoint import load_run, read_config

    read_config(args.run)
    path = _onnx_path(args)
    export_onnx(load_run(args.run), path)
    print(f"wrote {path}", file=sys.stderr)
    return 0


# -- the parser ------------------------------------------------------------------------------------------------
ENSEMBLE_HELP = ("more runs of RUN's kind that predict together with it: seq2seq runs trained on the same data "
                 "decode with their next-token probabilities averaged at every step; classifier runs with the "
                 "same labels average their class probabilities")
RESCORE_HELP = ("seq2seq: more runs trained on the same data (e.g. with --reverse-target) that re-rank the whole "
                "beam: candidates ranked by the mean log-probability every model gives them")
INVERSE_HELP = ("seq2seq: runs trained the other way (target -> source, e.g. --corpus cmudict-p2g) that vote in "
                "that mean with log P(source | candidate)")


def build_parser() -> argparse.ArgumentParser:
    from .classify import add_columns

    parser = argparse.ArgumentParser(prog="lstmkit", description="LSTM sequence models, every shape made visible.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    modules = task_modules()

    p = sub.add_parser("train", help="train a model into a run folder")
    tasks = p.add_subparsers(dest="task", metavar="TASK", required=True)
    for module in modules.values():
        module.add_parser(tasks)

    p = sub.add_parser("evaluate", help="metrics of a run on labelled data")
    p.add_argument("run", metavar="RUN")
    p.add_argument("--test", help="labelled data in the run's format (TSV/CSV/JSONL, tagged text, pairs, series)")
    p.add_argument("--corpus", help="a built-in corpus: its test split")
    p.add_argument("--format", choices=["conll", "wordtag", "segmented"], help="tagged test data (default: the run's)")
    add_columns(p)
    p.add_argument("--beam-size", type=positive_int, help="seq2seq: beam width (1: greedy; default: the run's)")
    p.add_argument("--ensemble", nargs="+", metavar="RUN", help=ENSEMBLE_HELP)
    p.add_argument("--rescore", nargs="+", metavar="RUN", help=RESCORE_HELP)
    p.add_argument("--rescore-inverse", nargs="+", metavar="RUN", help=INVERSE_HELP)
    p.add_argument("--device", default="auto", help=DEVICE_HELP)
    p.add_argument("--json", action="store_true", help="one JSON object with stable keys")
    p.set_defaults(func=_cmd_evaluate)

    p = sub.add_parser("predict", help="predict with a run")
    p.add_argument("run", metavar="RUN")
    p.add_argument("texts", nargs="*", metavar="TEXT")
    p.add_argument("--file", help="one text per line (UTF-8); for a regression run, the CSV whose tail is the input")
    p.add_argument("--json", action="store_true", help="one JSON object per input (JSON Lines)")
    p.add_argument("--beam-size", type=positive_int, help="seq2seq: beam width (1: greedy; default: the run's)")
    p.add_argument("--n-best", type=positive_int, default=3, help="seq2seq: outputs listed per input")
    p.add_argument("--ensemble", nargs="+", metavar="RUN", help=ENSEMBLE_HELP)
    p.add_argument("--rescore", nargs="+", metavar="RUN", help=RESCORE_HELP)
    p.add_argument("--rescore-inverse", nargs="+", metavar="RUN", help=INVERSE_HELP)
    p.add_argument("--device", default="auto", help=DEVICE_HELP + " (the torch backend)")
    p.add_argument("--backend", choices=["torch", "onnx"], default="torch",
                   help="onnx: run the exported model on onnxruntime (classifier and tagger runs)")
    p.add_argument("--onnx", metavar="FILE", help="the ONNX file for --backend onnx (default RUN/model.onnx)")
    p.set_defaults(func=_cmd_predict)

    p = sub.add_parser("export", help="export a run's model (ONNX)",
                       description="Write a classifier's or tagger's model as ONNX: dynamic batch and length, "
                                   "lengths as an input (ONNX LSTM sequence_lens), bidirectional included.")
    p.add_argument("run", metavar="RUN")
    p.add_argument("--onnx", metavar="FILE", help="where to write it (default RUN/model.onnx)")
    p.set_defaults(func=_cmd_export)

    p = sub.add_parser("explain", help="every step of the pipeline with its real shapes and values",
                       description="Trace texts (one batch) through tokenize -> ids -> padding -> embedding -> "
                                   "LSTM (step by step) -> outputs -> head, with real shapes and values: a fresh "
                                   "model of the given sizes, or a trained run's (--run).")
    p.add_argument("texts", nargs="*", metavar="TEXT")
    p.add_argument("--file", help="more texts, one per line")
    p.add_argument("--run", help="explain a trained run: its tokenizer, vocabulary and weights")
    p.add_argument("--tokenizer", default="jieba", help="jieba (default), char, whitespace or regex")
    p.add_argument("--maxlen", type=positive_int, default=None, help="tokens kept per text")
    p.add_argument("--embedding-dim", type=positive_int, default=28, help="E (default 28)")
    p.add_argument("--units", type=positive_int, default=128, help="H (default 128)")
    p.add_argument("--layers", type=positive_int, default=1)
    p.add_argument("--bidirectional", action="store_true")
    p.add_argument("--cell", default="basic", choices=["basic", "lstm"])
    p.add_argument("--num-proj", type=positive_int, default=None, help="P: project h (LSTMCell)")
    p.add_argument("--peepholes", action="store_true", help="diagonal peepholes (LSTMCell)")
    p.add_argument("--classes", type=positive_int, default=2, help="K, the head's classes")
    p.add_argument("--time-steps", type=positive_int, default=8, help="time steps shown in full (text output)")
    p.add_argument("--json", action="store_true", help="the trace as one JSON document")
    p.add_argument("--full", action="store_true", help="with --json: every value, not summaries")
    p.add_argument("--html", metavar="FILE", help="also write a self-contained page: diagram and heatmaps")
    p.set_defaults(func=_cmd_explain)

    p = sub.add_parser("params", help="parameter count with its formula, TensorFlow vs PyTorch layout",
                       description="Count an LSTM's parameters in TensorFlow's layout ((I + H) * 4H + 4H per "
                                   "cell) and in PyTorch/cuDNN's (4H(I + H) + 8H), with the numbers.")
    p.add_argument("--input-size", type=positive_int, required=True, help="I, the size of x_t")
    p.add_argument("--units", type=positive_int, required=True, help="H, the LSTM units")
    p.add_argument("--layers", type=positive_int, default=1)
    p.add_argument("--bidirectional", action="store_true")
    p.add_argument("--num-proj", type=positive_int, default=None, help="P, a projection of h (LSTMCell)")
    p.add_argument("--peepholes", action="store_true", help="diagonal peepholes (LSTMCell)")
    p.set_defaults(func=_cmd_params)

    for module in modules.values():  # commands of one task's own (generate, ...)
        if hasattr(module, "add_commands"):
            module.add_commands(sub)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:  # TEXT arguments after options ("predict RUN --json 文本") land here: argparse fills TEXT* once
        if hasattr(args, "texts") and not any(e.startswith("-") for e in extra):
            args.texts = list(args.texts) + extra
        else:
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
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
