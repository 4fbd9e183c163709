"""The recurrent core shared by every seq2seq model: Keras-exact LSTM, GRU and SimpleRNN.

>>> from seq2seq.core import LSTM, GRU, SimpleRNN, Bidirectional, StackedRNN, summary
"""

from .activations import ACTIVATIONS, get_activation
from .cells import GRUCell, LSTMCell, RecurrentCell, SimpleRNNCell
from .recurrent import GRU, LSTM, RNN, SimpleRNN, reverse_padded
from .stepping import LSTMStep, StepCache, select_state, step_applies
from .summary import summary
from .wrappers import Bidirectional, StackedRNN

__all__ = [
    "ACTIVATIONS", "Bidirectional", "GRU", "GRUCell", "LSTM", "LSTMCell", "LSTMStep", "RNN",
    "RecurrentCell", "SimpleRNN", "SimpleRNNCell", "StackedRNN", "StepCache", "get_activation",
    "reverse_padded", "select_state", "step_applies", "summary",
]
