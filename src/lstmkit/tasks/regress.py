"""Regression on numeric series: a window of the past -> the next values, with last-value baselines beside it.

windows ``(B, T, I)`` -> normalise (statistics of the training series only) -> relative to the window's last
value (optional) -> LSTM -> the top layer's final h ``(B, D*units)`` -> Linear -> ``(B, H)`` -> undo the
normalisation -> forecasts in the series' own units. Trained with MSE or MAE.

Shape legend: ``B`` batch, ``N`` windows, ``T`` window length, ``I`` input columns, ``H`` horizon (the
forecast steps; the LSTM's units are written ``units`` here), ``D`` directions.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..checks import fractions, positive_ints
from ..data.series import SeriesDataset, first_target, make_windows
from ..nn import LSTM, CellConfig, last_hidden, record
from ..train.metrics import errors
from ..train.task import Task

LOSSES = ("mse", "mae")


@dataclass
class RegressConfig:
    """Everything needed to rebuild a forecaster and its normaliser; stored in the run's ``config.json``.

    ``columns``: the input columns (``I`` of them; empty: the training data's); ``target``: the forecast column,
    one of ``columns`` (default the first). ``window``: ``T``, ``horizon``: ``H``. ``season``: the season length
    in steps for the seasonal-naive baseline (None: no seasonal baseline). ``normalize``: z-scores with each
    column's ``mean``/``std`` over the training series (filled by :meth:`RegressTask.from_data`).
    ``relative``: the model reads the window minus its last value and predicts the change from it, so a
    trending series never leaves the range seen in training (the naive forecast is the model's zero).
    """

    columns: list = field(default_factory=list)
    target: str | None = None
    window: int = 24
    horizon: int = 1
    season: int | None = None
    normalize: bool = True
    relative: bool = True
    loss: str = "mse"
    units: int = 64
    layers: int = 1
    bidirectional: bool = False
    dropout: float = 0.0
    cell: str = "basic"                                # "basic" or "lstm" (TensorFlow's LSTMCell)
    cell_options: dict = field(default_factory=dict)   # CellConfig's: forget_bias, use_peepholes, num_proj, ...
    mean: list = field(default_factory=list)
    std: list = field(default_factory=list)

    def check(self) -> "RegressConfig":
        if not isinstance(self.columns, list) or not all(isinstance(c, str) and c for c in self.columns):
            raise TypeError(f"columns must be a list of column names, got {self.columns!r}")
        if len(set(self.columns)) != len(self.columns):
            raise ValueError(f"columns must not repeat a name, got {self.columns}")
        if self.target is None and self.columns:
            self.target = self.columns[0]
        if self.columns and self.target not in self.columns:
            raise ValueError(f"target {self.target!r} must be one of the input columns {self.columns}")
        positive_ints(self, ("window", "horizon", "units", "layers") + (("season",) if self.season is not None else ()))
        if self.loss not in LOSSES:
            raise ValueError(f"loss must be one of {LOSSES}, got {self.loss!r}")
        fractions(self, ("dropout",))
        CellConfig.of(self)
        if self.mean or self.std:
            if len(self.mean) != len(self.columns) or len(self.std) != len(self.columns):
                raise ValueError(f"mean and std need one value per column ({len(self.columns)}), got "
                                 f"{len(self.mean)} and {len(self.std)}")
            if not all(math.isfinite(s) and s > 0 for s in self.std):
                raise ValueError(f"std must be positive numbers, got {self.std}")
        return self

    @classmethod
    def from_dict(cls, data: dict) -> "RegressConfig":
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__}).check()


class SeriesRegressor(nn.Module):
    """``(B, T, I)`` windows -> LSTM -> top layer's final h ``(B, D*units)`` (``D*num_proj`` when the cells project
    h) -> Linear -> ``(B, H)``.

    Recorded under :func:`lstmkit.nn.recording` (``lstmkit explain`` shows these; ``H`` is the horizon):

    ================  ======================================================================
    ``window``        ``(B, T, I)`` the normalised input window the LSTM reads
    ``outputs``       ``(B, T, D*units)`` every step's h of the top layer (``D*num_proj`` when projected)
    ``final_states``  per layer ``LSTMStateTuple(c (B, units), h (B, units or num_proj))``, or a ``(fw, bw)`` pair
    ``forecast``      ``(B, H)`` normalised (and relative, with ``relative``), as returned
    ================  ======================================================================
    """

    def __init__(self, config: RegressConfig):
        super().__init__()
        c = config
        self.lstm = LSTM(len(c.columns), c.units, num_layers=c.layers, bidirectional=c.bidirectional,
                         dropout=c.dropout if c.layers > 1 else 0.0, **CellConfig.of(c).to_options())
        self.head = nn.Linear(self.lstm.output_size, c.horizon)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        record("window", x)
        outputs, states = self.lstm(x)                              # every window is T long: no lengths
        record("outputs", outputs)
        record("final_states", states)
        forecast = self.head(last_hidden(states))                    # (B, D*units) -> (B, H)
        record("forecast", forecast)
        return forecast


class WindowBatches:
    """Batches of whole windows (all ``T`` long: no padding); ``len()`` counts them. Each batch holds every
    tensor of ``tensors`` at the batch's rows and ``"index"``, the example indices."""

    def __init__(self, tensors: dict, n: int, batch_size: int, shuffle: bool = False, seed: int = 0):
        positive_ints({"batch_size": batch_size}, ("batch_size",))
        order = np.random.default_rng(seed).permutation(n) if shuffle else np.arange(n)
        self.tensors = tensors
        self.order = [order[k: k + batch_size] for k in range(0, n, batch_size)]

    def __len__(self) -> int:
        return len(self.order)

    def __iter__(self):
        for idx in self.order:
            rows = torch.from_numpy(idx)
            yield {"index": idx, **{name: t[rows.to(t.device)] for name, t in self.tensors.items()}}


class RegressTask(Task):
    """The forecasting task: windows, batches, the training step, forecasts and errors beside the baselines."""

    name = "regress"
    config_class = RegressConfig
    greater_is_better = False

    def __init__(self, config: RegressConfig):
        self.config = config.check()
        if not config.columns:
            raise ValueError("RegressTask: the configuration names no columns; build the task with "
                             "RegressTask.from_data(config, train) or give columns")
        if config.normalize and not config.mean:
            raise ValueError("RegressTask: normalize=True needs the training statistics (mean, std); build the "
                             "task with RegressTask.from_data(config, train)")
        self.model = SeriesRegressor(config)

    @property
    def primary_metric(self) -> str:
        return "mae" if self.config.loss == "mae" else "rmse"

    @classmethod
    def from_data(cls, config: RegressConfig, train: SeriesDataset) -> "RegressTask":
        """Fit the normaliser on the training series only (dev and test never shape it) and build the model."""
        if not isinstance(train, SeriesDataset):
            raise TypeError(f"RegressTask.from_data: train must be a SeriesDataset, got {type(train).__name__}")
        config = replace(config, columns=list(config.columns or train.columns)).check()   # the caller's stays
        values = train.matrix(config.columns)                        # (S, I)
        if len(values) == 0:
            raise ValueError(f"{train.source}: the training series is empty")
        if config.normalize:
            std = values.std(axis=0)
            config = replace(config, mean=[float(v) for v in values.mean(axis=0)],
                             std=[float(s) if s > 0 else 1.0 for s in std])   # a constant column stays as it is
        else:
            config = replace(config, mean=[], std=[])
        return cls(config)

    def describe(self) -> str:
        c = self.config
        how = ("normalised on train" if c.normalize else "not normalised") + (
            ", relative to the last value" if c.relative else "")
        return (f"window T={c.window} -> horizon H={c.horizon}, inputs {c.columns} (I={len(c.columns)}), target "
                f"{c.target!r}, season {c.season or 'none'}, {how}")

    # -- data ------------------------------------------------------------------------------------------------
    def _stats(self) -> tuple[np.ndarray, np.ndarray]:
        I = len(self.config.columns)
        if not self.config.normalize:
            return np.zeros(I), np.ones(I)
        return np.array(self.config.mean, dtype=np.float64), np.array(self.config.std, dtype=np.float64)

    def _model_inputs(self, raw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Raw windows ``(N, T, I)`` -> what the model reads ``(N, T, I)`` and ``base`` ``(N,)``, the
        normalised last target value its outputs are relative to (0 when not ``relative``)."""
        mean, std = self._stats()
        k = self.config.columns.index(self.config.target)
        x = (raw - mean) / std                                        # (N, T, I)
        last = x[:, -1, :]                                            # (N, I)
        if not self.config.relative:
            return x, np.zeros(len(x))
        return x - last[:, None, :], last[:, k]

    def encode(self, data: SeriesDataset) -> dict:
        """Every window of ``data`` whose targets are its own steps: model inputs and targets (normalised),
        the true values and the naive and seasonal-naive forecasts (original units)."""
        c = self.config
        values = data.matrix(c.columns)                               # (S, I)
        k = c.columns.index(c.target)
        first = first_target(data, c.window, c.season)
        if len(values) < first + c.horizon:
            season = f", a season of {c.season}" if c.season else ""
            raise ValueError(f"{data.source}: too short for one window: {len(data)} steps of its own "
                             f"({len(values)} in all); a window of {c.window}{season} then {c.horizon} target "
                             f"step(s) need at least {first + c.horizon} steps")
        raw_x, y, t = make_windows(values, c.window, c.horizon, k, first)  # (N, T, I), (N, H), (N,)
        x, base = self._model_inputs(raw_x)
        mean, std = self._stats()
        targets = (y - mean[k]) / std[k] - base[:, None]               # (N, H), in the model's units
        enc = {"inputs": x.astype(np.float32), "targets": targets.astype(np.float32), "base": base, "y": y,
               "naive": np.repeat(raw_x[:, -1, k:k + 1], c.horizon, axis=1), "seasonal": None, "t": t}
        if c.season:
            h = np.arange(1, c.horizon + 1)
            back = t[:, None] + h[None, :] - 1 - c.season * np.ceil(h / c.season).astype(int)  # (N, H)
            enc["seasonal"] = values[back, k]                          # the same phase one season earlier
        return enc

    def batches(self, enc: dict, batch_size: int, shuffle: bool = False, seed: int = 0) -> WindowBatches:
        device = self.model.head.weight.device
        tensors = {name: torch.from_numpy(enc[name]).to(device) for name in ("inputs", "targets")}
        return WindowBatches(tensors, len(enc["inputs"]), batch_size, shuffle, seed)

    # -- training and inference ------------------------------------------------------------------------------
    def _loss(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return F.l1_loss(pred, target) if self.config.loss == "mae" else F.mse_loss(pred, target)

    def step(self, batch) -> torch.Tensor:
        return self._loss(self.model(batch["inputs"]), batch["targets"])

    @torch.no_grad()
    def _outputs(self, enc: dict, batch_size: int = 512) -> np.ndarray:
        """The model's ``(N, H)`` outputs (normalised, relative), in the input order."""
        self.model.eval()
        out = np.zeros(enc["targets"].shape, dtype=np.float32)
        for batch in self.batches(enc, batch_size):
            out[batch["index"]] = self.model(batch["inputs"]).cpu().numpy()
        return out

    def _original_units(self, outputs: np.ndarray, base: np.ndarray) -> np.ndarray:
        mean, std = self._stats()
        k = self.config.columns.index(self.config.target)
        return (outputs.astype(np.float64) + base[:, None]) * std[k] + mean[k]   # (N, H)

    def predict(self, enc: dict) -> np.ndarray:
        """Forecasts ``(N, H)`` in the target's own units."""
        return self._original_units(self._outputs(enc), enc["base"])

    def evaluate(self, enc: dict) -> dict:
        """``mae``, ``rmse`` of the model and of the naive (last value) and seasonal-naive forecasts (when a
        season is set), over all ``n`` windows' ``H`` steps, in the target's units; ``mae_by_step`` per
        horizon step; ``loss``, the training loss (normalised units)."""
        outputs = self._outputs(enc)
        pred = self._original_units(outputs, enc["base"])
        y = enc["y"]
        report = {"n": int(len(y)), "horizon": self.config.horizon, **errors(pred, y),
                  **errors(enc["naive"], y, "naive_")}
        if enc["seasonal"] is not None:
            report.update(errors(enc["seasonal"], y, "seasonal_naive_"))
            report["season"] = self.config.season
        report["mae_by_step"] = [float(v) for v in np.abs(pred - y).mean(axis=0)] if len(y) else []
        report["loss"] = float(self._loss(torch.from_numpy(outputs), torch.from_numpy(enc["targets"])))
        return report

    def forecast(self, values: np.ndarray) -> np.ndarray:
        """The next ``H`` values after each window of raw inputs ``(N, T, I)`` (columns as ``config.columns``):
        ``(N, H)`` in the target's units."""
        values = np.asarray(values, dtype=np.float64)
        T, I = self.config.window, len(self.config.columns)
        if values.ndim != 3 or values.shape[1:] != (T, I):
            raise ValueError(f"forecast: windows must be (N, T={T}, I={I}), got {tuple(values.shape)}")
        x, base = self._model_inputs(values)
        enc = {"inputs": x.astype(np.float32), "targets": np.zeros((len(x), self.config.horizon), np.float32)}
        return self._original_units(self._outputs(enc), base)

    def predict_records(self, series) -> list[dict]:
        """One record per :class:`SeriesDataset` (or one): the forecast of the ``H`` steps after its last
        ``T`` rows, ``forecast``, beside the naive one, and which rows were read (``input``)."""
        records = []
        for data in [series] if isinstance(series, SeriesDataset) else list(series):
            c = self.config
            values = data.matrix(c.columns)                           # (S, I)
            S = len(values)
            if S < c.window:
                raise ValueError(f"{data.source}: {S} rows, a forecast reads the last window of {c.window}")
            last = values[-c.window:]                                  # (T, I)
            rec = {"input": f"{data.source}: rows {S - c.window + 1}-{S} of {S}", "columns": list(c.columns),
                   "target": c.target, "last": float(last[-1, c.columns.index(c.target)])}
            if data.labels:
                rec["after"] = data.labels[-1]
            rec["forecast"] = [round(float(v), 6) for v in self.forecast(last[None])[0]]
            rec["naive"] = [rec["last"]] * c.horizon
            records.append(rec)
        return records

    def config_dict(self) -> dict:
        return asdict(self.config)

    def vocabs(self) -> dict:
        """No vocabulary: the run folder keeps none (the normaliser's statistics are in the config)."""
        return {}

    @classmethod
    def from_saved(cls, config: RegressConfig, vocabs: dict) -> "RegressTask":
        return cls(config)
