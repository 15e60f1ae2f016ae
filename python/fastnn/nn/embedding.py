"""``Embedding`` and ``EmbeddingBag`` (PyTorch's layers, arguments, parameter name ``weight`` and
initialisation N(0, 1) with the padding row zeroed), over ``F.embedding`` / ``F.embedding_bag``."""
from __future__ import annotations

from .. import no_grad
from ..tensor import Tensor
from . import init
from ._functional_embedding import embedding, embedding_bag
from ._layer_params import empty_tensor
from .module import Module, Parameter

__all__ = ["Embedding", "EmbeddingBag"]


def _check_size(name, value, layer):
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{layer}: argument '{name}' must be a non-negative int, got {value!r}")


def _padding_index(padding_idx, num, message):
    if padding_idx is not None:
        if padding_idx > 0:
            if padding_idx >= num:
                raise AssertionError(message)
        elif padding_idx < 0:
            if padding_idx < -num:
                raise AssertionError(message)
            padding_idx = num + padding_idx
    return padding_idx


def _weight_param(layer, num, dim, weight, dtype, device, requires_grad):
    """(the weight Parameter, whether it is new and needs initialising): ``weight`` (shared) when given."""
    if weight is None:
        return Parameter(empty_tensor((num, dim), dtype, device), requires_grad=requires_grad), True
    if not isinstance(weight, Tensor):
        raise TypeError(f"{layer}: argument '_weight' must be a Tensor, got {type(weight).__name__}")
    if list(weight.shape) != [num, dim]:
        raise AssertionError("Shape of weight does not match num_embeddings and embedding_dim")
    return Parameter(weight, requires_grad=requires_grad), False


def _pretrained(cls, embeddings, **kwargs):
    if not isinstance(embeddings, Tensor):
        raise TypeError(f"{cls.__name__}.from_pretrained: argument 'embeddings' must be a Tensor, got "
                        f"{type(embeddings).__name__}")
    if embeddings.dim() != 2:
        raise AssertionError("Embeddings parameter is expected to be 2-dimensional")
    rows, cols = embeddings.shape
    return cls(num_embeddings=rows, embedding_dim=cols, _weight=embeddings, **kwargs)


class Embedding(Module):
    """A lookup table of ``num_embeddings`` vectors of size ``embedding_dim``: ``forward(input)`` gives
    ``weight[input]``, shape ``input.shape + (embedding_dim,)``. See ``F.embedding`` for the options;
    ``sparse=True`` makes ``weight.grad`` a sparse-rows tensor (``optim.SGD``, ``optim.SparseAdam`` and
    ``optim.Adagrad`` take it)."""

    def __init__(self, num_embeddings, embedding_dim, padding_idx=None, max_norm=None, norm_type=2.0,
                 scale_grad_by_freq=False, sparse=False, _weight=None, _freeze=False, device=None, dtype=None):
        super().__init__()
        _check_size("num_embeddings", num_embeddings, "Embedding")
        _check_size("embedding_dim", embedding_dim, "Embedding")
        self.num_embeddings = num_embeddings
        self.embedding_dim = embedding_dim
        self.padding_idx = _padding_index(padding_idx, num_embeddings, "Padding_idx must be within num_embeddings")
        self.max_norm = max_norm
        self.norm_type = norm_type
        self.scale_grad_by_freq = scale_grad_by_freq
        self.weight, fresh = _weight_param("Embedding", num_embeddings, embedding_dim, _weight, dtype, device,
                                           not _freeze)
        if fresh:
            self.reset_parameters()
        self.sparse = sparse

    def reset_parameters(self):
        init.normal_(self.weight)
        self._fill_padding_idx_with_zero()

    def _fill_padding_idx_with_zero(self):
        if self.padding_idx is not None:
            with no_grad():
                self.weight._data[self.padding_idx] = 0

    def forward(self, input):
        return embedding(input, self.weight, self.padding_idx, self.max_norm, self.norm_type,
                         self.scale_grad_by_freq, self.sparse)

    def extra_repr(self):
        s = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.padding_idx is not None:
            s += f", padding_idx={self.padding_idx}"
        if self.max_norm is not None:
            s += f", max_norm={self.max_norm}"
        if self.norm_type != 2:
            s += f", norm_type={self.norm_type}"
        if self.scale_grad_by_freq is not False:
            s += f", scale_grad_by_freq={self.scale_grad_by_freq}"
        if self.sparse is not False:
            s += ", sparse=True"
        return s

    @classmethod
    def from_pretrained(cls, embeddings, freeze=True, padding_idx=None, max_norm=None, norm_type=2.0,
                        scale_grad_by_freq=False, sparse=False):
        """An Embedding whose weight is ``embeddings`` (shared, not copied; frozen unless ``freeze=False``)."""
        return _pretrained(cls, embeddings, _freeze=freeze, padding_idx=padding_idx, max_norm=max_norm,
                           norm_type=norm_type, scale_grad_by_freq=scale_grad_by_freq, sparse=sparse)


class EmbeddingBag(Module):
    """Sums, means or maxima of bags of embeddings without materialising the lookups: ``forward(input,
    offsets=None, per_sample_weights=None)`` as ``F.embedding_bag``."""

    def __init__(self, num_embeddings, embedding_dim, max_norm=None, norm_type=2.0, scale_grad_by_freq=False,
                 mode="mean", sparse=False, _weight=None, include_last_offset=False, padding_idx=None, device=None,
                 dtype=None):
        super().__init__()
        _check_size("num_embeddings", num_embeddings, "EmbeddingBag")
        _check_size("embedding_dim", embedding_dim, "EmbeddingBag")
        self.num_embeddings = num_embeddings
        self.embedding_dim = embedding_dim
        self.max_norm = max_norm
        self.norm_type = norm_type
        self.scale_grad_by_freq = scale_grad_by_freq
        self.padding_idx = _padding_index(padding_idx, num_embeddings, "padding_idx must be within num_embeddings")
        self.weight, fresh = _weight_param("EmbeddingBag", num_embeddings, embedding_dim, _weight, dtype, device,
                                           True)
        if fresh:
            self.reset_parameters()
        self.mode = mode
        self.sparse = sparse
        self.include_last_offset = include_last_offset

    reset_parameters = Embedding.reset_parameters
    _fill_padding_idx_with_zero = Embedding._fill_padding_idx_with_zero

    def forward(self, input, offsets=None, per_sample_weights=None):
        return embedding_bag(input, self.weight, offsets, self.max_norm, self.norm_type, self.scale_grad_by_freq,
                             self.mode, self.sparse, per_sample_weights, self.include_last_offset, self.padding_idx)

    def extra_repr(self):
        s = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.max_norm is not None:
            s += f", max_norm={self.max_norm!r}"
        if self.norm_type != 2:
            s += f", norm_type={self.norm_type!r}"
        if self.scale_grad_by_freq is not False:
            s += f", scale_grad_by_freq={self.scale_grad_by_freq!r}"
        s += f", mode={self.mode!r}"
        if self.padding_idx is not None:
            s += f", padding_idx={self.padding_idx!r}"
        return s

    @classmethod
    def from_pretrained(cls, embeddings, freeze=True, max_norm=None, norm_type=2.0, scale_grad_by_freq=False,
                        mode="mean", sparse=False, include_last_offset=False, padding_idx=None):
        """An EmbeddingBag whose weight is ``embeddings`` (frozen unless ``freeze=False``)."""
        bag = _pretrained(cls, embeddings, max_norm=max_norm, norm_type=norm_type,
                          scale_grad_by_freq=scale_grad_by_freq, mode=mode, sparse=sparse,
                          include_last_offset=include_last_offset, padding_idx=padding_idx)
        bag.weight.requires_grad = not freeze
        return bag
