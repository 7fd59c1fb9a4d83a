"""The ``lstmkit`` command: argument parsing and exit codes only; the work is the library's.

Every user error ends as one line on stderr and a non-zero exit, never a traceback
(set ``LSTMKIT_DEBUG=1`` to see one).
"""
from __future__ import annotations

import argparse
import os
import sys


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def _cmd_params(args) -> int:
    from .explain import params_report

    print(params_report(args.input_size, args.units, args.layers, args.bidirectional, args.num_proj,
                        args.peepholes))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lstmkit", description="LSTM sequence models, every shape made visible.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

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
        print(f"lstmkit {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("lstmkit: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
