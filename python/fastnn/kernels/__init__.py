"""Array-level entry to the native kernels: arrays in, arrays out, on the arrays' device.

Tensor ops (autograd) call these; these call the native module of the arrays' device,
``backend.kernel_module(device)`` (``fastnn._C`` or ``fastnn._C_cuda``, which have the same functions
and arguments). One file per kernel family, named as its folder under ``csrc/ops/``.
"""
from .activation import activation_backward, activation_forward
from .attention import attention_backward, attention_forward
from .conv import conv2d, conv2d_backward_input, conv2d_backward_weight, conv2d_output_size, \
    conv_transpose2d_output_size
from .gemm import matmul, sum_outer_inner
from .interp import upsample2d, upsample2d_backward
from .optim import adam_step, sgd_step
from .random import dropout_mask, philox_normal, philox_uniform
from .segment import csr_from_index, gather_rows, index_add_rows, index_coalesce, rows_renorm, segment_dot, \
    segment_max_backward, segment_reduce, segment_softmax, segment_softmax_backward, sparse_adam_step
from .rnn import rnn_backward, rnn_forward
from .norm import batch_norm_backward, batch_norm_forward, group_norm_backward, group_norm_forward, \
    layer_norm_backward, layer_norm_forward, rms_norm_backward, rms_norm_forward
from .pool import adaptive_avg_pool2d, adaptive_avg_pool2d_backward, adaptive_max_pool2d, avg_pool2d, \
    avg_pool2d_backward, max_pool2d, max_pool2d_backward, pool2d_output_size
from .word2vec import word2vec_train

__all__ = ["activation_forward", "activation_backward", "matmul", "sum_outer_inner", "conv2d", "conv2d_backward_input", "conv2d_backward_weight", "conv2d_output_size",
           "conv_transpose2d_output_size", "max_pool2d", "max_pool2d_backward", "avg_pool2d", "avg_pool2d_backward",
           "adaptive_avg_pool2d", "adaptive_avg_pool2d_backward", "adaptive_max_pool2d", "pool2d_output_size",
           "upsample2d", "upsample2d_backward", "adam_step", "sgd_step", "philox_uniform",
           "philox_normal", "dropout_mask", "word2vec_train", "gather_rows", "segment_reduce", "segment_max_backward", "index_coalesce",
           "segment_dot", "csr_from_index", "segment_softmax", "segment_softmax_backward",
           "index_add_rows", "rows_renorm", "sparse_adam_step", "rnn_forward", "rnn_backward",
           "layer_norm_forward", "layer_norm_backward", "batch_norm_forward", "batch_norm_backward", "rms_norm_forward", "rms_norm_backward",
           "group_norm_forward", "group_norm_backward",
           "attention_forward", "attention_backward"]
