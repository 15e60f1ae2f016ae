"""The configuration and output records of fastnn.diffusion (diffusers' ``configuration_utils``): one
implementation, in fastnn.utils, shared with the diffusers-style models (``UNet2DModel``)."""
from ..utils.config import ConfigMixin, FrozenDict, register_to_config
from ..utils.outputs import BaseOutput

__all__ = ["ConfigMixin", "FrozenDict", "register_to_config", "BaseOutput"]
