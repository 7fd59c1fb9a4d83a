"""A picture of every run: its training history as text or as one self-contained HTML page (``lstmkit report``),
and a TensorBoard logger for the epochs as they come (:mod:`lstmkit.report.tensorboard`)."""
from .history import RunHistory, read_history, summary_text

__all__ = ["RunHistory", "read_history", "summary_text"]
