"""The ``lstmkit`` command: argument parsing and exit codes only; the work is the library's.

    lstmkit train {classify,tag,seq2seq,lm,regress} --train F --dev F [--corpus NAME] --out RUN [--epochs N ...]
    lstmkit evaluate RUN --test F [--json]
    lstmkit predict RUN [TEXT ...] [--file F] [--json]
    lstmkit explain [RUN] [TEXT ...] [--html F]
    lstmkit export RUN [--onnx FILE]
    lstmkit generate RUN --prompt TEXT [--max-tokens N --temperature T --top-k K --seed S]
    lstmkit params --input-size I --units H [...]
    lstmkit serve RUN [RUN ...] [--host H --port P --max-batch N --max-wait-ms MS --workers N ...]
    lstmkit report RUN [RUN ...] [--html FILE] [--data F]

Each task's entry in the registry (:mod:`lstmkit.tasks.registry`) names its command-line half, a
:class:`~lstmkit.cli.base.TaskCommands` (``cli/classify.py``, ...): its ``train`` sub-command, its own
``evaluate``/``predict`` options, how it reads test data and shows metrics and predictions. ``evaluate RUN`` and
``predict RUN`` read the run's ``config.json`` first and then take that task's options.

Every user error ends as one line on stderr and a non-zero exit, never a traceback
(set ``LSTMKIT_DEBUG=1`` to see one).
"""
from __future__ import annotations

import argparse
import json
import os
import sys

from .._version import __version__
from ..checks import output_file
from .common import DEVICE_HELP, argument_texts, checked, input_texts, non_negative_float, positive_float, positive_int
from .report import add_report


def task_spec_of(config: dict, run=""):
    """The registry entry of the task a run's config.json names (a clear error for an unknown task)."""
    from ..tasks import task_spec

    return task_spec(config["task"], f"{run}/config.json" if run else "config.json")


def _commands(config: dict, run) -> "TaskCommands":  # noqa: F821
    """The command-line half of the task a run's config.json names."""
    return task_spec_of(config, run).cli


# -- commands --------------------------------------------------------------------------------------------------
def _cmd_params(args) -> int:
    from ..explain.params import params_report, params_table

    shape = (args.input_size, args.units, args.layers, args.bidirectional, args.num_proj, args.peepholes, args.cell)
    print(json.dumps(params_table(*shape)) if args.json else params_report(*shape))
    return 0


def _cmd_explain(args) -> int:
    from pathlib import Path

    if not args.run and args.texts and (Path(args.texts[0]) / "config.json").is_file():
        args.run = args.texts.pop(0)                  # explain RUN TEXT ..., as every command takes RUN first
    if args.run:
        from ..explain.models import explain_run
        from ..train.checkpoint import read_config

        inputs = _commands(read_config(args.run), args.run).explain_inputs(args)
        return _show_trace(args, explain_run(args.run, inputs))
    from ..explain import trace

    texts = argument_texts(args)
    if not texts:
        raise ValueError("give one or more TEXT arguments (or --file F): they form one batch")
    return _show_trace(args, trace(texts, tokenizer=args.tokenizer, maxlen=args.maxlen,
                                   embedding_dim=args.embedding_dim, units=args.units, layers=args.layers,
                                   bidirectional=args.bidirectional, cell=args.cell, num_proj=args.num_proj,
                                   peepholes=args.peepholes, classes=args.classes))


def _show_trace(args, tr) -> int:
    """A walkthrough on stdout (text or JSON), and with --html as a page: the classifier's :class:`Trace` or
    another task's :class:`ModelTrace`."""
    from ..explain import Trace, render_json, render_text
    from ..explain.html import render_html, render_model_html
    from ..explain.models import render_model_text
    from ..io import atomic_write_text

    classic = isinstance(tr, Trace)
    if args.html:
        output_file(args.html, "--html", args.force, protected=_run_files(args.run) if args.run else ())
        atomic_write_text(args.html, render_html(tr) if classic else render_model_html(tr))
        print(f"wrote {args.html}", file=sys.stderr)
    if args.json:
        print(render_json(tr, full=args.full) if classic else json.dumps(tr.to_json(full=args.full),
                                                                          ensure_ascii=False))
    else:
        print(render_text(tr, args.time_steps) if classic else render_model_text(tr))
    return 0


def _read_test(args, config: dict, commands):
    if bool(args.test) == bool(args.corpus):
        raise ValueError("give --test FILE or --corpus NAME (its test split)")
    if args.corpus:
        from ..data import load_corpus
        from ..data.corpora import corpus_kind
        from ..tasks import task_spec

        if corpus_kind(args.corpus) != task_spec(config["task"]).data_kind:
            raise ValueError(f"corpus {args.corpus!r} does not fit a {config['task']!r} run")
        return load_corpus(args.corpus)["test"]
    return commands.read_test(args, config)


def _ensemble_fits(args, config: dict) -> None:
    """An error for --ensemble on a kind of run that cannot join others (before any model is loaded)."""
    for run in getattr(args, "ensemble", None) or ():
        if not os.path.isdir(run):   # most often a text typed after --ensemble, which takes every word after it
            raise ValueError(f"--ensemble: run folder not found: {run} (put the texts before --ensemble)")


def _cmd_evaluate(args) -> int:
    from ..tasks import evaluate_run
    from ..train.checkpoint import read_config

    config = read_config(args.run)  # a clear error for a folder that is not a run, before any work
    commands = _commands(config, args.run)
    _ensemble_fits(args, config)
    data = _read_test(args, config, commands)
    joined = commands.joined_runs(args)
    metrics = evaluate_run(args.run, data, device=args.device, **joined, **commands.evaluate_options(args))
    if args.json:
        print(json.dumps(metrics, ensure_ascii=False))
    else:
        commands.print_metrics(metrics, data)
    return 0


def _cmd_predict(args) -> int:
    from ..train.checkpoint import read_config

    config = read_config(args.run)
    commands = _commands(config, args.run)
    _ensemble_fits(args, config)
    if args.backend == "onnx":
        if getattr(args, "ensemble", None):
            raise ValueError("--ensemble runs on the torch backend; drop --backend onnx")
        records = _predict_onnx(args, config)
    else:
        records = commands.predict(args, config)
    for rec in records:
        if args.json:
            print(json.dumps(rec, ensure_ascii=False))
        elif rec.get("error"):
            print(f"-\t-\t{rec['input']!r}: {rec['error']}")
        else:
            print(commands.plain(rec))
    return 0


def _run_files(run) -> list:
    """A run folder's own files (what no output of a command may replace)."""
    from pathlib import Path

    return [p for p in Path(run).rglob("*") if p.is_file() and p.suffix != ".onnx"]


def _onnx_path(args) -> str:
    from pathlib import Path

    return args.onnx or str(Path(args.run) / "model.onnx")


def _predict_onnx(args, config: dict) -> list:
    from pathlib import Path

    from ..export.onnx import OnnxRunner
    from ..tasks import load_run

    from ..tasks import task_specs

    if not task_spec_of(config).task_class.onnx_backend:
        backends = [n for n, s in task_specs().items() if s.task_class.onnx_backend]
        raise ValueError(f"--backend onnx runs {' and '.join(backends)} runs; this is a {config['task']!r} run")
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
    from ..tasks import load_run
    from ..train.checkpoint import read_config

    read_config(args.run)
    path = _onnx_path(args)
    output_file(path, "--onnx", args.force, protected=_run_files(args.run))
    export_onnx(load_run(args.run), path)
    print(f"wrote {path}", file=sys.stderr)
    return 0


def _cmd_serve(args) -> int:
    try:
        from ..serve import parse_run_argument, serve
    except ImportError as e:
        raise ValueError(f"serve needs the 'serve' extra: pip install 'lstmkit[serve]' ({e})") from None
    limits = {"max_texts": args.max_texts, "max_chars": args.max_chars, "max_body": args.max_body,
              "timeout": args.timeout}
    settings = {"runs": [parse_run_argument(r) for r in args.runs], "device": args.device, "limits": limits,
                "backend": args.backend, "max_batch": args.max_batch, "max_wait_ms": args.max_wait_ms}
    return serve(settings, host=args.host, port=args.port, workers=args.workers, log_level=args.log_level)


def _add_serve(sub):
    p = sub.add_parser("serve", help="serve runs over HTTP (JSON), requests dynamically batched",
                       description="Serve runs over HTTP: POST /v1/predict, GET /v1/models, /health, /ready, "
                                   "/metrics. Concurrent requests for a model are batched (up to --max-batch inputs "
                                   "arriving within --max-wait-ms). SIGTERM stops accepting, finishes the requests in "
                                   "flight and exits 0. See docs/serving.md.")
    p.add_argument("runs", nargs="+", metavar="RUN",
                   help="run folders; a model's name is its folder's name, or NAME=RUN")
    p.add_argument("--host", default="127.0.0.1", help="the address to bind (0.0.0.0: every interface)")
    p.add_argument("--port", type=checked(int, lambda v: 0 <= v <= 65535, "a port in 0..65535"), default=8080,
                   help="the port (0: any free one, printed on stderr)")
    p.add_argument("--max-batch", type=positive_int, default=64, metavar="N", help="inputs per model call (1: none)")
    p.add_argument("--max-wait-ms", type=non_negative_float, default=0.0, metavar="MS",
                   help="how long a batch's first request waits for more (0: a batch of what is queued when the "
                        "model is free)")
    p.add_argument("--workers", type=positive_int, default=1, metavar="N",
                   help="server processes, each holding the models")
    p.add_argument("--max-texts", type=positive_int, default=256, metavar="N", help="inputs per request")
    p.add_argument("--max-chars", type=positive_int, default=100_000, metavar="N", help="characters per input")
    p.add_argument("--max-body", type=positive_int, default=1 << 20, metavar="BYTES", help="bytes per request body")
    p.add_argument("--timeout", type=positive_float, default=30.0, metavar="S", help="seconds per request (then 504)")
    p.add_argument("--device", default="auto", help=DEVICE_HELP + " (the torch backend)")
    p.add_argument("--backend", choices=["auto", "torch", "onnx"], default="auto",
                   help="auto: onnx for a classifier or tagger run that holds RUN/model.onnx ('lstmkit export RUN'), "
                        "else torch; onnx: insist on onnxruntime (classifier and tagger runs)")
    p.add_argument("--log-level", default="warning", choices=["critical", "error", "warning", "info", "debug"],
                   help="uvicorn's log level")
    p.set_defaults(func=_cmd_serve)


# -- the parser ------------------------------------------------------------------------------------------------
class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Every option's default in ``--help`` (unless its help says it already, or there is none to show)."""

    @staticmethod
    def _shows_default(action) -> bool:
        d = action.default
        return bool(action.option_strings) and d is not None and d is not False and d != argparse.SUPPRESS

    def _get_help_string(self, action):
        text = action.help or ""
        if "default" in text or not self._shows_default(action):
            return text
        return f"{text} (default: %(default)s)"

    def _format_action(self, action):
        if not (action.help or "").strip() and self._shows_default(action):
            action.help = "(default: %(default)s)"   # argparse shows no help, so no default, for an empty one
        return super()._format_action(action)


class Parser(argparse.ArgumentParser):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)


def _add_evaluate(sub, commands):
    p = sub.add_parser("evaluate", help="metrics of a run on labelled data",
                       description="Metrics of a run on labelled data. Options of the run's own task are listed "
                                   "by 'lstmkit evaluate RUN --help'.")
    p.add_argument("run", metavar="RUN")
    p.add_argument("--test", help="labelled data in the run's format (TSV/CSV/JSONL, tagged text, pairs, series)")
    p.add_argument("--corpus", help="a built-in corpus: its test split")
    p.add_argument("--device", default="auto", help=DEVICE_HELP)
    p.add_argument("--json", action="store_true", help="one JSON object with stable keys")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    if commands is not None:
        commands.add_evaluate_args(p.add_argument_group(f"{commands.task} runs"))
    p.set_defaults(func=_cmd_evaluate)


def _add_predict(sub, commands):
    p = sub.add_parser("predict", help="predict with a run",
                       description="Predict with a run: TEXT arguments, --file F (one text per line), or lines on "
                                   "standard input. Options of the run's own task are listed by 'lstmkit predict "
                                   "RUN --help'.")
    p.add_argument("run", metavar="RUN")
    p.add_argument("texts", nargs="*", metavar="TEXT")
    p.add_argument("--file", help="one text per line (UTF-8); for a regression run, the CSV whose tail is the input")
    p.add_argument("--json", action="store_true", help="one JSON object per input (JSON Lines)")
    p.add_argument("--device", default="auto", help=DEVICE_HELP + " (the torch backend)")
    p.add_argument("--backend", choices=["torch", "onnx"], default="torch",
                   help="onnx: run the exported model on onnxruntime (classifier and tagger runs)")
    p.add_argument("--onnx", metavar="FILE", help="the ONNX file for --backend onnx (default RUN/model.onnx)")
    p.add_argument("--max-chars", type=positive_int, default=100_000, metavar="N",
                   help="the longest input text accepted, in characters")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    if commands is not None:
        commands.add_predict_args(p.add_argument_group(f"{commands.task} runs"))
    p.set_defaults(func=_cmd_predict)


def build_parser(run_commands=None) -> argparse.ArgumentParser:
    """The whole command line; ``run_commands``: the task commands of the run that evaluate/predict name, whose
    own options those commands then take."""
    from ..tasks import task_specs

    parser = Parser(prog="lstmkit", description="LSTM sequence models, every shape made visible.")
    parser.add_argument("--version", action="version", version=f"lstmkit {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True, parser_class=Parser)
    clis = [spec.cli for spec in task_specs().values() if spec.cli is not None]

    p = sub.add_parser("train", help="train a model into a run folder")
    tasks = p.add_subparsers(dest="task", metavar="TASK", required=True)
    for commands in clis:
        commands.add_train_parser(tasks)
    _add_evaluate(sub, run_commands)
    _add_predict(sub, run_commands)

    p = sub.add_parser("export", help="export a run's model (ONNX)",
                       description="Write a classifier's or tagger's model as ONNX: dynamic batch and length, "
                                   "lengths as an input (ONNX LSTM sequence_lens), bidirectional included.")
    p.add_argument("run", metavar="RUN")
    p.add_argument("--onnx", metavar="FILE", help="where to write it (default RUN/model.onnx)")
    p.add_argument("--force", action="store_true", help="replace the --onnx file if it exists")
    p.set_defaults(func=_cmd_export)

    p = sub.add_parser("explain", help="every step of the pipeline with its real shapes and values",
                       usage="lstmkit explain [RUN] TEXT [TEXT ...] [options]",
                       description="Trace texts (one batch) through tokenize -> ids -> padding -> embedding -> "
                                   "LSTM (step by step) -> outputs -> head, with real shapes and values: a fresh "
                                   "model of the given sizes, or a trained run's (--run).")
    p.add_argument("texts", nargs="*", metavar="[RUN] TEXT",
                   help="a trained run's folder first (its tokenizer, vocabulary and weights), then the texts")
    p.add_argument("--file", help="more texts, one per line")
    p.add_argument("--run", help="the run to explain (the same as giving RUN first)")
    from ..tasks.classify import ClassifyConfig    # explain without a run tokenizes as training does

    p.add_argument("--tokenizer", default=ClassifyConfig().tokenizer["name"],
                   help="without a run: char (training's default), jieba, whitespace or regex")
    p.add_argument("--maxlen", type=positive_int, default=None, help="tokens kept per text")
    p.add_argument("--embedding-dim", type=positive_int, default=28, help="E (default 28)")
    p.add_argument("--units", type=positive_int, default=128, help="H (default 128)")
    p.add_argument("--layers", type=positive_int, default=1)
    p.add_argument("--bidirectional", action="store_true")
    p.add_argument("--cell", default="basic", choices=["basic", "lstm", "layernorm"])
    p.add_argument("--num-proj", type=positive_int, default=None, help="P: project h (LSTMCell)")
    p.add_argument("--peepholes", action="store_true", help="diagonal peepholes (LSTMCell)")
    p.add_argument("--classes", type=positive_int, default=2, help="K, the head's classes")
    p.add_argument("--time-steps", type=positive_int, default=8, help="time steps shown in full (text output)")
    p.add_argument("--json", action="store_true", help="the trace as one JSON document")
    p.add_argument("--full", action="store_true", help="with --json: every value, not summaries")
    p.add_argument("--html", metavar="FILE", help="also write a self-contained page: diagram and heatmaps")
    p.add_argument("--force", action="store_true", help="replace the --html file if it exists")
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
    p.add_argument("--cell", default=None, choices=["basic", "lstm", "layernorm"],
                   help="the cell (default: lstm with --num-proj/--peepholes, else basic)")
    p.add_argument("--json", action="store_true", help="the counts as one JSON object")
    p.set_defaults(func=_cmd_params)

    _add_serve(sub)
    add_report(sub)
    for commands in clis:  # commands of one task's own (generate, ...)
        commands.add_commands(sub)
    return parser


def _run_commands(argv: list):
    """The task commands of the run that ``evaluate RUN`` / ``predict RUN`` name (None when there is none yet)."""
    if len(argv) < 2 or argv[0] not in ("evaluate", "predict"):
        return None
    run = next((a for a in argv[1:] if not a.startswith("-")), None)
    if run is None:
        return None
    from ..train.checkpoint import read_config

    try:
        return _commands(read_config(run), run)
    except (ValueError, OSError):
        return None           # the command itself says what is wrong with RUN


def _foreign_option(argv: list, extra: list, run_commands):
    """An error for an option of another task's evaluate/predict (``--beam-size`` on a classifier run)."""
    from ..tasks import ensemble_kinds, task_specs

    options = [e.split("=")[0] for e in extra if e.startswith("--")]
    if not options or run_commands is None:
        return None
    run = next(a for a in argv[1:] if not a.startswith("-"))
    for option in options:
        if option == "--ensemble":
            return f"--ensemble joins {' or '.join(ensemble_kinds())} runs; {run} is a {run_commands.task} run"
        owners = []
        for name, spec in task_specs().items():
            probe = argparse.ArgumentParser(add_help=False)
            cli = spec.cli
            if cli is not None:
                (cli.add_evaluate_args if argv[0] == "evaluate" else cli.add_predict_args)(probe)
                if option in probe._option_string_actions:
                    owners.append(name)
        if owners:
            return f"{option} applies to {' or '.join(owners)} runs; {run} is a {run_commands.task} run"
    return None


def _with_config(parser, args, argv: list):
    """``train TASK --config FILE``: the file's options become the defaults, and the command line is read again."""
    from .options import options_from_file

    train = next(a for a in parser._subparsers._group_actions if a.dest == "command").choices["train"]
    sub = next(a for a in train._subparsers._group_actions if a.dest == "task").choices[args.task]
    sub.set_defaults(**options_from_file(args.config, sub, args.task))
    again, _ = parser.parse_known_args(argv)
    return again


def main(argv=None) -> int:
    code = _main(argv)
    _leave_torchrun(code)
    return code


def _leave_torchrun(code: int) -> None:
    """A torchrun worker's end, once its command is done: after an error every rank said, wait for the others to
    say it too (the first rank to exit makes torchrun stop the rest); end the process group; run the exit
    handlers and leave without the interpreter's teardown, where gloo's threads can abort a process that has
    finished its work ("terminate called without an active exception", exit -6). Nothing to do elsewhere."""
    distributed = sys.modules.get("lstmkit.train.distributed")
    if distributed is None or os.environ.get("WORLD_SIZE", "1") in ("", "0", "1"):
        return
    import atexit

    distributed.settle()
    sys.stdout.flush()
    sys.stderr.flush()
    atexit._run_exitfuncs()
    os._exit(code)


def _main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    run_commands = _run_commands(argv)
    parser = build_parser(run_commands)
    args, extra = parser.parse_known_args(argv)
    if extra:  # TEXT arguments after options ("predict RUN --json 文本") land here: argparse fills TEXT* once
        if hasattr(args, "texts") and not any(e.startswith("-") for e in extra):
            args.texts = list(args.texts) + extra
        else:
            foreign = _foreign_option(argv, extra, run_commands)
            if foreign:
                print(f"lstmkit {args.command}: error: {foreign}", file=sys.stderr)
                return 2
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
    if args.command == "train" and args.config:
        try:
            args = _with_config(parser, args, argv)
        except (ValueError, OSError) as exc:
            print(f"lstmkit train {args.task}: error: {exc}", file=sys.stderr)
            return 2
    from ..progress import set_progress

    set_progress(not getattr(args, "quiet", False))
    try:
        return args.func(args)
    except (ValueError, TypeError, OSError) as exc:
        if os.environ.get("LSTMKIT_DEBUG"):
            raise
        name = args.command + (f" {args.task}" if getattr(args, "task", None) else "")
        # one write, so that the lines of torchrun's processes, said at once into one pipe, never interleave
        sys.stderr.write(f"lstmkit {name}: error: {exc}\n")
        return 2
    except KeyboardInterrupt as exc:      # a training's says where its checkpoint is
        name = args.command + (f" {args.task}" if getattr(args, "task", None) else "")
        print(f"lstmkit {name}: {exc}" if str(exc) else "lstmkit: interrupted", file=sys.stderr)
        return 130
