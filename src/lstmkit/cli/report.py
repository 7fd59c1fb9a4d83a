"""``lstmkit report RUN [RUN ...] [--html FILE]``: a run's training history as text, or one page of one or more
runs side by side (:mod:`lstmkit.report`)."""
from __future__ import annotations

import sys
from pathlib import Path

from ..checks import output_file
from .common import positive_int


def cmd_report(args) -> int:
    from ..io import atomic_write_text
    from ..report import read_history, summary_text

    histories = [read_history(run) for run in args.runs]      # every error before any work
    if args.data and not Path(args.data).is_file():
        raise FileNotFoundError(f"--data {args.data}: file not found")
    if not args.html:
        print(summary_text(histories), end="")
        return 0
    from ..report.html import render_report_html

    inputs = [p for run in args.runs for p in Path(run).rglob("*") if p.is_file()]
    output_file(args.html, "--html", args.force, protected=inputs + ([args.data] if args.data else []))
    atomic_write_text(args.html, render_report_html(histories, args.data, args.examples))
    print(f"wrote {args.html}", file=sys.stderr)
    return 0


def add_report(sub) -> None:
    p = sub.add_parser("report", help="a run's curves and metrics: text, or one HTML page of runs side by side",
                       description="A run's training history from its metrics.jsonl: without --html, the best "
                                   "epoch and the metrics of every epoch as text; with --html, one self-contained "
                                   "page (inline SVG, no scripts, nothing fetched) of one run or several side by "
                                   "side: loss, the dev metric and the learning rate per epoch, and at the best "
                                   "epoch the confusion matrix, the per-type precision/recall/F1, the perplexity "
                                   "or the errors beside the naive forecasts; seq2seq attention maps and "
                                   "forecasts against the truth with --data. See docs/report.md.")
    p.add_argument("runs", nargs="+", metavar="RUN", help="run folders (lstmkit train ... --out RUN)")
    p.add_argument("--html", metavar="FILE", help="write the page to FILE")
    p.add_argument("--force", action="store_true", help="replace the --html file if it exists")
    p.add_argument("--data", metavar="FILE",
                   help="dev data in the runs' training format, for the pictures that need the model: attention "
                        "maps of seq2seq runs (pairs), forecasts of regress runs (CSV); a run trained on a built-in "
                        "corpus uses that corpus's dev split without it")
    p.add_argument("--examples", type=positive_int, default=3, metavar="N",
                   help="dev examples with an attention map, per seq2seq run")
    p.set_defaults(func=cmd_report)
