"""``fastnn.nn.functional``: the stateless forms of the layers and losses (PyTorch's ``torch.nn.functional``).

Each family lives in its own module and is re-exported here; a new family adds one import line.
"""
from ._functional_linear import *  # noqa: F401,F403
from ._functional_activation import *  # noqa: F401,F403
from ._functional_loss import *  # noqa: F401,F403
from ._functional_misc import *  # noqa: F401,F403
from .conv_functional import *  # noqa: F401,F403
from ._functional_embedding import *  # noqa: F401,F403
from ._functional_norm import *  # noqa: F401,F403
from ._functional_attention import *  # noqa: F401,F403
from ._functional_mha import *  # noqa: F401,F403
