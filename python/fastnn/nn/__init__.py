"""``fastnn.nn``: modules, layers, losses, ``functional``, ``init`` and ``utils`` (PyTorch's ``torch.nn``).

Each family of layers lives in its own module; a new family adds one import line here.
"""
from .module import Module, Parameter, Buffer  # noqa: F401
from .container import Sequential, ModuleList, ModuleDict, ParameterList, ParameterDict  # noqa: F401
from .linear import Identity, Linear, Bilinear  # noqa: F401
from .flatten import Flatten, Unflatten  # noqa: F401
from .activation import *  # noqa: F401,F403
from .dropout import Dropout, Dropout1d, Dropout2d, Dropout3d, AlphaDropout  # noqa: F401
from .loss import *  # noqa: F401,F403
from ._cnn_layers import *  # noqa: F401,F403
from .embedding import Embedding, EmbeddingBag  # noqa: F401
from .normalization import LayerNorm, RMSNorm, GroupNorm  # noqa: F401
from .instancenorm import InstanceNorm1d, InstanceNorm2d, InstanceNorm3d  # noqa: F401
from .sync_batchnorm import SyncBatchNorm  # noqa: F401
from .rnn import RNNBase, RNN, LSTM, GRU, RNNCellBase, RNNCell, LSTMCell, GRUCell  # noqa: F401
from .attention import MultiheadAttention  # noqa: F401
from .transformer import (Transformer, TransformerEncoder, TransformerDecoder, TransformerEncoderLayer,  # noqa: F401
                          TransformerDecoderLayer)
from .positional import SinusoidalPositionalEncoding, LearnedPositionalEmbedding, RotaryEmbedding  # noqa: F401
from . import functional, init, utils, parallel  # noqa: F401
