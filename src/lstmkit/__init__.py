"""lstmkit: LSTM sequence models from raw text to predictions, every tensor shape made visible."""

__version__ = "0.1.0"
