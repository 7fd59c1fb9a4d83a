"""What every task's command line shares: checked argument types, the training options, input texts."""
from __future__ import annotations

import argparse
import math
import sys


def checked(cast, check, expected: str):
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


positive_int = checked(int, lambda v: v > 0, "a positive integer")
non_negative_int = checked(int, lambda v: v >= 0, "an integer >= 0")
positive_float = checked(float, lambda v: math.isfinite(v) and v > 0, "a positive number")
non_negative_float = checked(float, lambda v: math.isfinite(v) and v >= 0, "a finite number >= 0")
finite_float = checked(float, math.isfinite, "a finite number")
probability = checked(float, lambda v: 0.0 <= v < 1.0, "a number in [0, 1)")


ENSEMBLE_HELP = ("more runs of RUN's kind that predict together with it: seq2seq runs trained on the same data "
                 "decode with their next-token probabilities averaged at every step; classifier runs with the "
                 "same labels average their class probabilities")
DEVICE_HELP = "where the model runs: auto (CUDA when there is one; the default), cpu, cuda, cuda:N"


def add_training_args(p, **defaults) -> None:
    """The trainer's options, with TrainConfig's defaults unless a task overrides one (``defaults``)."""
    from ..train.trainer import TrainConfig

    t = TrainConfig(**defaults)
    g = p.add_argument_group("training")
    g.add_argument("--epochs", type=positive_int, default=t.epochs)
    g.add_argument("--batch-size", type=positive_int, default=t.batch_size)
    g.add_argument("--lr", type=positive_float, default=t.lr)
    g.add_argument("--weight-decay", type=non_negative_float, default=t.weight_decay)
    g.add_argument("--clip", type=non_negative_float, default=t.clip, help="max gradient norm (0: no clipping)")
    g.add_argument("--patience", type=int, default=t.patience,
                   help="epochs without dev improvement before stopping (0: never)")
    g.add_argument("--seed", type=int, default=t.seed)
    g.add_argument("--device", default=t.device, help=DEVICE_HELP)
    g.add_argument("--amp", choices=("off", "bf16", "fp16"), default=t.amp,
                   help="mixed precision: bf16 autocast, or fp16 with loss scaling (CUDA only); off by default. On "
                        "a CPU, bf16 pays off only where it has bf16 instructions (AVX-512 BF16, AMX)")
    g.add_argument("--ema", type=probability, default=t.ema, metavar="DECAY",
                   help="score, keep and save an exponential moving average of the weights (Polyak averaging) "
                        "with this decay per step, e.g. 0.999; 0 (the default): the weights themselves")
    g.add_argument("--accumulate", type=positive_int, default=t.accumulate, metavar="N",
                   help="gradient accumulation: each optimizer step sums the gradients of N batches of --batch-size "
                        "(one batch N times larger, in the memory of one); the schedule counts optimizer steps")
    g.add_argument("--checkpoint-every", type=non_negative_int, default=t.checkpoint_every, metavar="STEPS",
                   help="save a resumable checkpoint into --out every STEPS optimizer steps (default 0: at each "
                        "epoch's end, and at least every 10 minutes)")
    g.add_argument("--resume", action="store_true",
                   help="continue the training of the run --out from its last checkpoint (after a crash, a kill, "
                        "Ctrl-C); the same options, so the result is the uninterrupted training's")
    g.add_argument("--force", action="store_true", help="replace the run --out if there is one")
    g.add_argument("--quiet", action="store_true", help="no progress bars")
    g.add_argument("--tensorboard", metavar="DIR",
                   help="also write each epoch's scalars (losses, dev metrics, learning rate, throughput) as "
                        "TensorBoard events into DIR (needs the tensorboard package: pip install tensorboard)")
    g.add_argument("--limit", type=positive_int, metavar="N",
                   help="the first N examples of each split (train, dev, test): a quick trial")
    g.add_argument("--config", metavar="FILE",
                   help="options from a JSON/TOML file or a run's config.json (its options re-run that training); "
                        "options on the command line override them")


def train_config(args):
    from ..train.trainer import TrainConfig

    return TrainConfig(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, weight_decay=args.weight_decay,
                       clip=args.clip, patience=args.patience, seed=args.seed, device=args.device, amp=args.amp,
                       ema=args.ema, accumulate=args.accumulate, checkpoint_every=args.checkpoint_every,
                       progress=not args.quiet and sys.stderr.isatty())


# options a resumed training may change: they alter neither the data, the model nor the arithmetic
RESUME_FREE = {"quiet", "checkpoint_every", "device", "resume", "force", "tensorboard"}


def check_out(args) -> None:
    """Fail before any work unless ``--out`` may take this training (:func:`lstmkit.train.checkpoint.check_new_run`).
    Under torchrun the ranks join their process group first and rank 0 checks for all: every rank refuses alike
    and says why (each checking by itself, the first to exit could make torchrun stop the others unheard)."""
    from ..train import distributed
    from ..train.checkpoint import check_new_run
    from ..train.trainer import resolve_device

    mode = run_mode(args)
    group = distributed.setup(resolve_device(getattr(args, "device", None) or "auto")) \
        if distributed.environment() is not None else None
    with distributed.rank0_first(group):
        if group is None or group.main:
            check_new_run(args.out, mode)


def run_mode(args) -> str:
    """How ``--out`` is taken: ``"new"`` (must not hold a run), ``"resume"`` or ``"force"`` (replace it); always
    ``"resume"`` after torchrun restarted the job (``TORCHELASTIC_RESTART_COUNT`` > 0)."""
    from ..train.distributed import environment

    if getattr(args, "resume", False) and getattr(args, "force", False):
        raise ValueError("give --resume (continue the run) or --force (replace it), not both")
    group = environment()
    if group is not None and group.restart:     # torchrun restarted the job: it goes on from its checkpoint
        return "resume"
    return "resume" if getattr(args, "resume", False) else "force" if getattr(args, "force", False) else "new"


def argument_texts(args) -> list[str]:
    """TEXT arguments, then ``--file`` lines (standard input is not read)."""
    from ..data import read_lines

    return list(args.texts) + (read_lines(args.file).texts if getattr(args, "file", None) else [])


def input_texts(args) -> list[str]:
    """TEXT arguments, then ``--file`` lines, else lines on standard input when it is not a terminal."""
    from ..data.readers import decode_utf8, text_lines

    texts = argument_texts(args)
    if not texts and sys.stdin is not None and not sys.stdin.isatty():
        # bytes, decoded strictly (a non-UTF-8 byte is an error naming the line), CRLF's "\r" dropped
        raw = sys.stdin.buffer.read() if hasattr(sys.stdin, "buffer") else sys.stdin.read().encode()
        texts = text_lines(decode_utf8(raw, "<stdin>"))
        texts = [t for t in texts if t.strip()] or texts
    limit = getattr(args, "max_chars", None)
    for k, text in enumerate(texts):
        if limit and len(text) > limit:
            raise ValueError(f"input {k + 1} has {len(text):,} characters, over --max-chars {limit:,} (split it, or "
                             f"raise --max-chars)")
    return texts


def corpus_splits(args, kind: str, command: str):
    """A built-in corpus's train/dev/test, which must suit the task being trained (``kind`` of its data)."""
    from ..data import load_corpus
    from ..data.corpora import corpus_kind

    if args.train or args.dev:
        raise ValueError("give either --corpus or --train/--dev, not both")
    found = corpus_kind(args.corpus)
    if found != kind:
        from ..tasks import tasks_for_data

        fits = " or ".join(f"'lstmkit train {t} --corpus {args.corpus}'" for t in tasks_for_data(found)) or "..."
        raise ValueError(f"corpus {args.corpus!r} is for {found}: use {fits}, not '{command}'")
    splits = load_corpus(args.corpus)
    return splits["train"], splits["dev"], splits["test"]


def training_splits(args, kind: str, task: str, read, what: str, corpora: str = "NAME", hold_out=None):
    """(train, dev, test or None): a built-in corpus's splits, or ``read(--train)`` with ``read(--dev)``, or, with
    no ``--dev``, ``hold_out(train) -> (rest, dev)`` (a tenth chosen by a salted hash unless the task says
    otherwise; said on stderr, ``what`` naming the units held out). With ``--limit N``, the first N of each."""
    from ..data.corpora import hold_out as hash_hold_out

    if args.corpus:
        splits = corpus_splits(args, kind, task)
    elif not args.train:
        raise ValueError(f"--train FILE (or --corpus {corpora}) is required")
    else:
        train = read(args.train)
        if args.dev:
            splits = train, read(args.dev), None
        else:
            rest, dev = (hold_out or (lambda d: hash_hold_out(d, 0.1)))(train)
            if not len(rest) or not len(dev):
                raise ValueError(f"{args.train}: too few {what} ({len(train)}) to hold out a dev set; give --dev "
                                 f"FILE")
            print(f"no --dev given: holding out {len(dev):,} of {len(train):,} {what} as dev", file=sys.stderr)
            splits = rest, dev, None
    if getattr(args, "limit", None):
        splits = tuple(None if part is None else part.head(args.limit) for part in splits)
        print(f"--limit {args.limit}: {', '.join(f'{len(p):,}' for p in splits if p is not None)} {what} "
              f"(train, dev{', test' if splits[2] is not None else ''})", file=sys.stderr)
    return splits


def fresh_or_warm(args, config, name: str, build):
    """(task, extra config entries): ``build()``, a new task, or with ``--init-from RUN`` the run to train further."""
    if getattr(args, "init_from", None):
        return warm_start(args.init_from, config, name), {"init_from": args.init_from}
    return build(), {}


def warm_start(run: str, given, name: str):
    """The ``name`` run ``run``, to train further: its weights, vocabularies and model options. A model option
    given on the command line (one that differs from the default) must agree with the run's: the model is the
    run's. ``given`` is the config the command line built."""
    from dataclasses import fields

    from ..tasks import load_run
    from ..train.runs import stderr_log

    task = load_run(run)
    if getattr(task, "name", None) != name:
        raise ValueError(f"--init-from {run}: a {getattr(task, 'name', '?')} run; a {name} run is needed")
    default = type(given)()
    for f in fields(given):
        mine, theirs = getattr(given, f.name), getattr(task.config, f.name)
        if mine != theirs and mine != getattr(default, f.name):
            raise ValueError(f"--init-from {run}: the model is the run's, whose {f.name} is {theirs!r}; "
                             f"leave out the option that asks for {mine!r}")
    stderr_log(f"init from {run}: its weights and model options ({task.describe()})")
    return task


def train_and_report(args, task, train, dev, test, test_keys, unit: str, dev_summary, extra=None) -> int:
    """Train ``task`` into ``--out`` (the data's sources, and ``extra``, kept in config.json), then print the test
    split's ``test_keys`` when the corpus has one, else ``dev_summary(best dev metrics)``."""
    from ..train.distributed import environment
    from ..train.runs import stderr_log, train_run
    from .options import saved_options

    extra = {"data": {"train": train.source, "dev": dev.source, "corpus": args.corpus},
             "options": saved_options(args), **(extra or {})}
    group = environment()
    logger = None
    if getattr(args, "tensorboard", None) and (group is None or group.main):     # rank 0 logs
        from ..report.tensorboard import TensorBoardLogger

        logger = TensorBoardLogger(args.tensorboard)       # a missing package is an error before any training
    try:
        best = train_run(task, train, dev, train_config(args), args.out, log=stderr_log, extra=extra,
                         mode=run_mode(args), free_options=RESUME_FREE, on_record=logger and logger.log)
    finally:
        if logger is not None:
            logger.close()
    if group is not None and not group.main:      # under torchrun, rank 0 reports
        return 0
    if test is not None and len(test):
        report_test(args, args.out, test, test_keys, unit=unit)
    else:
        print(dev_summary(best["dev"]))
    return 0


def report_test(args, out, test, metric_keys, unit="examples") -> None:
    """After training: the test split's metrics on one line (when the corpus has a test split)."""
    from ..tasks import evaluate_run

    m = evaluate_run(out, test, device=args.device)  # where it trained
    shown = ", ".join(f"{k} {m[k]:.4f}" for k in dict.fromkeys(metric_keys) if k in m)
    print(f"test ({test.source}, {len(test):,} {unit}): {shown}")
