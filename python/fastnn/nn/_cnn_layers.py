"""The convolutional-network layers, gathered for ``fastnn.nn``."""
from .conv import *  # noqa: F401,F403
from .pooling import *  # noqa: F401,F403
from .upsampling import *  # noqa: F401,F403
from .batchnorm import *  # noqa: F401,F403
