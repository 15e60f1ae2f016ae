"""PyTorch's default DDP communication hooks: ``hook(process_group, bucket) -> Future`` of the averaged
bucket. ``process_group`` is the hook's state (None: the default group)."""
from __future__ import annotations

from .... import float16


def _allreduce_fut(process_group, tensor):
    """Average ``tensor`` over the group in place; a Future of it."""
    from .... import distributed as dist
    tensor.div_(dist.get_world_size(process_group))
    work = dist.all_reduce(tensor, group=process_group, async_op=True)
    return work.get_future().then(lambda fut: fut.value()[0])


def allreduce_hook(process_group, bucket):
    """What DDP does without a hook: the bucket divided by the world size, then summed across ranks."""
    return _allreduce_fut(process_group, bucket.buffer())


def _compress_hook(dtype, process_group, bucket):
    buffer = bucket.buffer()
    compressed = buffer.to(dtype)

    def decompress(fut):
        buffer.copy_(fut.value()[0] if isinstance(fut.value(), list) else fut.value())
        return buffer

    return _allreduce_fut(process_group, compressed).then(decompress)


def fp16_compress_hook(process_group, bucket):
    """The bucket sent as float16 (half the bytes), averaged, then written back in its own dtype."""
    return _compress_hook(float16, process_group, bucket)
