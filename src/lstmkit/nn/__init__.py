"""The engine: TensorFlow-exact LSTM cells, the loops over time, and the fused fast path.

Shape legend: B batch, T time steps, I input size, H units, P projection size, D directions.
"""
from .cell_config import CellConfig
from .cells import BasicLSTMCell, LSTMCell, LSTMStateTuple, ParamCount
from .fused import fuse_blocker, tf_to_torch_weights
from .layernorm import LayerNormLSTMCell
from .lstm import LSTM, last_hidden
from .record import Recording, record, recording
from .rnn import MultiRNNCell, bidirectional_dynamic_rnn, dynamic_rnn
from .sequences import reverse_within_lengths, valid_mask

__all__ = [
    "BasicLSTMCell", "LSTMCell", "LayerNormLSTMCell", "CellConfig", "LSTMStateTuple", "MultiRNNCell", "ParamCount",
    "LSTM", "last_hidden",
    "dynamic_rnn", "bidirectional_dynamic_rnn", "reverse_within_lengths", "valid_mask", "fuse_blocker",
    "tf_to_torch_weights",
    "record", "recording", "Recording",
]
