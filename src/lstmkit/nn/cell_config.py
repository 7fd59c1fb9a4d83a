"""``CellConfig``: which TensorFlow cell an ``LSTM`` stacks and with which options, as one checked value.

Task configs store it as two JSON fields, ``cell`` (``"basic"``, ``"lstm"`` or ``"layernorm"``) and
``cell_options`` (a dict of the options that differ from the defaults), as they always have; :meth:`CellConfig.of`
reads those two fields and checks them, :meth:`CellConfig.to_options` gives the keyword arguments of
:class:`lstmkit.nn.LSTM`.

Shape legend: ``H`` units, ``P`` projection size (``num_proj``, else ``H``).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, fields

from .lstm import CELLS

ACTIVATIONS = ("tanh", "relu", "sigmoid")
LSTM_ONLY = ("use_peepholes", "cell_clip", "num_proj", "proj_clip")   # what only LSTMCell has


@dataclass(frozen=True)
class CellConfig:
    """The cell of every layer and direction of an ``LSTM``.

    Args:
        cell: ``"basic"`` (:class:`BasicLSTMCell`), ``"lstm"`` (:class:`LSTMCell`, TensorFlow's ``LSTMCell``) or
            ``"layernorm"`` (:class:`LayerNormLSTMCell`, layer normalisation as in Ba et al. 2016 and haste).
        forget_bias: added to the forget gate's pre-activation (default 1.0); every cell.
        use_peepholes: diagonal peephole weights ``(H,)`` from ``c`` into the i, f and o gates (``"lstm"`` only).
        cell_clip: clip ``c`` to ``[-cell_clip, cell_clip]`` after each step (``"lstm"`` only; None: no clip).
        num_proj: ``P``; project ``h`` ``(B, H) -> (B, P)``, the output and recurrent size (``"lstm"`` only).
        proj_clip: clip the projected ``h`` to ``[-proj_clip, proj_clip]`` (``"lstm"`` only; needs num_proj).
        activation: ``"tanh"`` (default), ``"relu"`` or ``"sigmoid"``; every cell.
        zoneout_c, zoneout_h: the probabilities that a unit of ``c`` (of ``h``) keeps its previous value at a step
            in training (Krueger et al. 2017; evaluation takes the expectation); numbers in [0, 1), default 0;
            every cell.

    Example::

        >>> cc = CellConfig.from_dict({"cell": "lstm", "num_proj": 8, "use_peepholes": True})
        >>> LSTM(28, 32, **cc.to_options()).output_size
        8
    """

    cell: str = "basic"
    forget_bias: float = 1.0
    use_peepholes: bool = False
    cell_clip: float | None = None
    num_proj: int | None = None
    proj_clip: float | None = None
    activation: str = "tanh"
    zoneout_c: float = 0.0
    zoneout_h: float = 0.0

    def check(self) -> "CellConfig":
        """This config when it is valid; else a ``TypeError``/``ValueError`` naming the option."""
        if self.cell not in CELLS:
            raise ValueError(f"CellConfig: cell must be one of {sorted(CELLS)}, got {self.cell!r}")
        if not _is_number(self.forget_bias):
            raise TypeError(f"CellConfig: forget_bias must be a number, got {self.forget_bias!r}")
        if not math.isfinite(self.forget_bias):
            raise ValueError(f"CellConfig: forget_bias must be a finite number, got {self.forget_bias!r}")
        if not isinstance(self.use_peepholes, bool):
            raise TypeError(f"CellConfig: use_peepholes must be true or false, got {self.use_peepholes!r}")
        for name in ("cell_clip", "proj_clip"):
            value = getattr(self, name)
            if value is not None and not (_is_number(value) and value > 0):
                raise ValueError(f"CellConfig: {name} must be a positive number or None, got {value!r}")
        n = self.num_proj
        if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 1):
            raise ValueError(f"CellConfig: num_proj must be a positive int (P) or None, got {n!r}")
        if self.proj_clip is not None and self.num_proj is None:
            raise ValueError("CellConfig: proj_clip needs num_proj (there is no projection to clip)")
        for name in ("zoneout_c", "zoneout_h"):
            value = getattr(self, name)
            if not (_is_number(value) and 0.0 <= value < 1.0):
                raise ValueError(f"CellConfig: {name} must be a number in [0, 1), got {value!r}")
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"CellConfig: activation must be one of {ACTIVATIONS}, got {self.activation!r}")
        if self.cell != "lstm":
            given = [name for name in LSTM_ONLY if getattr(self, name) != _DEFAULTS[name]]
            if given:
                raise ValueError(f"CellConfig: {given[0]} is an option of cell 'lstm' (LSTMCell); cell "
                                 f"'{self.cell}' ({CELLS[self.cell].__name__}) has no {given[0]}")
        return self

    def options(self) -> dict:
        """The options that differ from the defaults, ``cell`` left out: what a task config's ``cell_options``
        holds (JSON values)."""
        return {f.name: getattr(self, f.name) for f in fields(self)
                if f.name != "cell" and getattr(self, f.name) != _DEFAULTS[f.name]}

    def to_options(self) -> dict:
        """The keyword arguments of :class:`lstmkit.nn.LSTM`: ``cell`` and the options that differ from the
        defaults (so a ``"basic"`` or ``"layernorm"`` cell never receives an option only ``LSTMCell`` takes)."""
        return {"cell": self.cell, **self.check().options()}

    @classmethod
    def from_dict(cls, data: dict) -> "CellConfig":
        """A checked config from ``{"cell": ..., option: value, ...}``; an unknown key is a ``ValueError``."""
        if not isinstance(data, dict):
            raise TypeError(f"CellConfig.from_dict: expected a dict of cell options, got {type(data).__name__}")
        unknown = sorted(set(data) - set(_DEFAULTS))
        if unknown:
            raise ValueError(f"CellConfig: unknown cell option {unknown[0]!r}; known: {', '.join(_DEFAULTS)}")
        return cls(**data).check()

    @classmethod
    def of(cls, config) -> "CellConfig":
        """The checked cell of a task config with the fields ``cell`` and ``cell_options`` (a dict)."""
        options = config.cell_options
        if not isinstance(options, dict):
            raise TypeError(f"cell_options must be a dict of cell options, got {type(options).__name__}")
        if "cell" in options:
            raise ValueError("cell_options: give the cell in the field cell, not in cell_options")
        return cls.from_dict({"cell": config.cell, **options})


_DEFAULTS = {f.name: f.default for f in fields(CellConfig)}


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
