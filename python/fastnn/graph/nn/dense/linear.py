"""PyG's ``Linear``: ``torch.nn.Linear`` with a choice of weight / bias initialisers ('glorot', 'uniform',
'kaiming_uniform', 'zeros'; None: PyTorch's default). Parameter names ``weight`` (out, in) and ``bias``."""
from __future__ import annotations

import math

from ....nn import Linear as _TorchLinear
from .. import inits

__all__ = ["Linear"]


class Linear(_TorchLinear):
    def __init__(self, in_channels, out_channels, bias=True, weight_initializer=None, bias_initializer=None):
        if in_channels is None or in_channels < 0:
            raise ValueError(f"Linear: lazy initialisation (in_channels={in_channels}) is not supported; pass the "
                             f"number of input channels")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.weight_initializer, self.bias_initializer = weight_initializer, bias_initializer
        super().__init__(in_channels, out_channels, bias=bias)

    def reset_parameters(self):
        w, b, fan = self.weight, self.bias, self.in_channels
        wi = self.weight_initializer
        if wi == "glorot":
            inits.glorot(w)
        elif wi == "uniform":
            inits.uniform(fan, w)
        elif wi == "kaiming_uniform":
            inits.kaiming_uniform(w, fan, math.sqrt(5))
        elif wi == "zeros":
            inits.zeros(w)
        elif wi is None:
            inits.kaiming_uniform(w, fan, math.sqrt(5))
        else:
            raise RuntimeError(f"Weight initializer '{wi}' is not supported")
        if b is None:
            return
        bi = self.bias_initializer
        if bi == "zeros":
            inits.zeros(b)
        elif bi is None:
            inits.uniform(fan, b)
        else:
            raise RuntimeError(f"Bias initializer '{bi}' is not supported")

    def __repr__(self):
        return f"{self.__class__.__name__}({self.in_channels}, {self.out_channels}, bias={self.bias is not None})"
