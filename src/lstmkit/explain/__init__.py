"""Making the LSTM visible: the walkthrough as data (``trace``), its renderings, and parameter counts."""
from .params import params_report
from .report import render_json, render_text
from .trace import Trace, trace

__all__ = ["params_report", "trace", "Trace", "render_text", "render_json"]
