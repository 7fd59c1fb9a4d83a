"""Making the LSTM visible: parameter counts with their formulas, and (later) step-by-step traces."""
from .params import params_report

__all__ = ["params_report"]
