"""UNet2DModel on the GPU against the same model on the CPU: outputs, input and parameter gradients, for the
positional and Fourier time embeddings with class labels and timesteps given as numbers and device tensors.
Marked ``gpu``: skipped without a GPU and cupy (tests/cuda_emu/run_gpu_tests_emulated.sh tests/test_unet_cuda.py
runs it on the CPU with the kernels emulated)."""
import numpy as np
import pytest

import fastnn
from fastnn.models import UNet2DModel

from gpu_family import pytestmark, rel_err  # noqa: F401

TINY = dict(sample_size=4, in_channels=2, out_channels=2, block_out_channels=(8, 16), layers_per_block=1,
            down_block_types=("DownBlock2D", "AttnDownBlock2D"), up_block_types=("AttnUpBlock2D", "UpBlock2D"),
            norm_num_groups=4, attention_head_dim=8)


@pytest.mark.parametrize("extra,timestep", [({"num_class_embeds": 3}, 17),
                                            ({"time_embedding_type": "fourier", "class_embed_type": "timestep"},
                                             "tensor")], ids=["positional, labels", "fourier, timestep labels"])
def test_unet_on_the_gpu_equals_the_cpu(extra, timestep):
    rng = np.random.default_rng(5)
    fastnn.manual_seed(0)
    model = UNet2DModel(**dict(TINY, **extra))
    x = rng.standard_normal((2, 2, 4, 4)).astype(np.float32)
    t = np.array([0.5, 3.0], np.float32) if timestep == "tensor" else timestep
    y = np.array([2, 1])  # labels > 0: the Fourier projection takes their log
    results = []
    for device in ("cpu", "cuda"):
        model.to(device)
        model.zero_grad()
        xd = fastnn.tensor(x, device=device, requires_grad=True)
        td = fastnn.tensor(t, device=device) if timestep == "tensor" else t
        out = model(xd, td, class_labels=fastnn.tensor(y, device=device)).sample
        assert str(out.device).startswith(device)
        (out * out).sum().backward()
        results.append((out.detach().cpu().numpy(), xd.grad.cpu().numpy(),
                        {k: p.grad.cpu().numpy() for k, p in model.named_parameters() if p.grad is not None}))
    (oc, gc, pc), (og, gg, pg) = results
    assert rel_err(og, oc) < 1e-5
    assert rel_err(gg, gc) < 1e-4
    assert pc.keys() == pg.keys()
    scale = max(np.abs(g).max() for g in pc.values())
    for k in pc:
        # relative to the largest gradient where a gradient is 0 up to rounding (the attention's key biases)
        err = np.abs(pg[k] - pc[k]).max() / max(np.abs(pc[k]).max(), 1e-3 * scale)
        assert err < 1e-4, k
