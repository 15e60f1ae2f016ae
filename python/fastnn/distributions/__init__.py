"""Probability distributions with ``torch.distributions``'s names and semantics: ``Normal``, ``Bernoulli``,
``Categorical``, ``Independent`` and ``kl_divergence`` (extended with ``register_kl``)."""
from . import constraints
from .bernoulli import Bernoulli
from .categorical import Categorical
from .distribution import Distribution
from .independent import Independent
from .kl import kl_divergence, register_kl
from .normal import Normal

__all__ = ["Bernoulli", "Categorical", "Distribution", "Independent", "Normal", "constraints", "kl_divergence",
           "register_kl"]
