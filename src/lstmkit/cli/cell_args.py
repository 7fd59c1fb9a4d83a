"""The cell options every ``train`` command takes: ``--cell basic|lstm|layernorm`` and the engine's cell options.

``add_cell_args(group, defaults)`` adds them to an argparse group; ``cell_config(args)`` turns them into a
checked :class:`lstmkit.nn.CellConfig` (a task config stores it as ``cell`` and ``cell_options``).
"""
from __future__ import annotations

import argparse
import math

from .common import finite_float, positive_float, positive_int

# CellConfig's field -> the option that sets it
FLAGS = {"forget_bias": "--forget-bias", "use_peepholes": "--peepholes", "cell_clip": "--cell-clip",
         "num_proj": "--num-proj", "proj_clip": "--proj-clip", "zoneout_c": "--zoneout", "zoneout_h": "--zoneout"}
CELL_NAMES = {"basic": "BasicLSTMCell", "lstm": "LSTMCell", "layernorm": "LayerNormLSTMCell"}


def zoneout_pair(text: str) -> tuple[float, float]:
    """``--zoneout C,H`` (or one number for both): two probabilities in [0, 1)."""
    parts = text.split(",")
    try:
        values = [float(p) for p in parts]
    except ValueError:
        values = []
    if len(values) not in (1, 2) or not all(math.isfinite(v) and 0.0 <= v < 1.0 for v in values):
        raise argparse.ArgumentTypeError(f"expected C,H: two numbers in [0, 1) (or one for both), got {text!r}")
    return (values[0], values[-1])


def add_cell_args(group, defaults) -> None:
    """``--cell``, ``--forget-bias``, ``--peepholes``, ``--cell-clip``, ``--num-proj``, ``--proj-clip``,
    ``--zoneout``; the defaults are ``defaults``' (a :class:`~lstmkit.nn.CellConfig`: the task config's own cell)."""
    group.add_argument("--cell", default=defaults.cell, choices=list(CELL_NAMES),
                       help="basic: TensorFlow's BasicLSTMCell; lstm: its LSTMCell, which also takes --peepholes, "
                            "--cell-clip, --num-proj and --proj-clip; layernorm: an LSTM with layer normalisation "
                            "of the gates and the cell state (Ba et al. 2016, as haste's LayerNormLSTM)")
    group.add_argument("--forget-bias", type=finite_float, default=defaults.forget_bias, metavar="F",
                       help="added to the forget gate's pre-activation (a constant, not a weight)")
    group.add_argument("--peepholes", action="store_true", default=defaults.use_peepholes,
                       help="--cell lstm: diagonal peephole weights from the cell state c into the i, f, o gates")
    group.add_argument("--cell-clip", type=positive_float, default=defaults.cell_clip, metavar="C",
                       help="--cell lstm: clip the cell state c to [-C, C] after every step")
    group.add_argument("--num-proj", type=positive_int, default=defaults.num_proj, metavar="P",
                       help="--cell lstm: project h from H to P units (the output and recurrent size)")
    group.add_argument("--proj-clip", type=positive_float, default=defaults.proj_clip, metavar="C",
                       help="--cell lstm with --num-proj: clip the projected h to [-C, C]")
    group.add_argument("--zoneout", type=zoneout_pair, default=(defaults.zoneout_c, defaults.zoneout_h),
                       metavar="C,H",
                       help="every cell: in training each unit of c (of h) keeps its previous value with "
                            "probability C (H) at every step; evaluation takes the expectation (Krueger et al. "
                            "2017). One number sets both. Runs the step loop, not the fused kernel (default 0,0: off)")


def cell_config(args):
    """The checked :class:`~lstmkit.nn.CellConfig` of the command line; an option ``--cell basic`` or
    ``--cell layernorm`` does not have, or ``--proj-clip`` without ``--num-proj``, is a ``ValueError`` naming the
    option."""
    from ..nn import CellConfig
    from ..nn.cell_config import LSTM_ONLY

    zoneout_c, zoneout_h = args.zoneout
    config = CellConfig(cell=args.cell, forget_bias=args.forget_bias, use_peepholes=args.peepholes,
                        cell_clip=args.cell_clip, num_proj=args.num_proj, proj_clip=args.proj_clip,
                        zoneout_c=zoneout_c, zoneout_h=zoneout_h)
    default = CellConfig()
    if config.cell != "lstm":
        for name in LSTM_ONLY:
            if getattr(config, name) != getattr(default, name):
                raise ValueError(f"{FLAGS[name]} is an option of --cell lstm (TensorFlow's LSTMCell); "
                                 f"--cell {config.cell} has none: add --cell lstm")
    if config.proj_clip is not None and config.num_proj is None:
        raise ValueError("--proj-clip clips the projection: give --num-proj P too")
    return config.check()
