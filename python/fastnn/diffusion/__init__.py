"""Diffusion models, as Hugging Face diffusers names them: noise schedulers (``DDPMScheduler``,
``DDIMScheduler``), sampling pipelines (``DDPMPipeline``, ``DDIMPipeline``) and interpolation helpers.

A diffusers training or sampling loop ports by renaming ``diffusers`` to ``fastnn.diffusion`` and
``torch`` to ``fastnn``; beyond diffusers, ``scheduler.diffuse(x0, timesteps, generator)`` noises a batch
in one fused pass, drawing the noise inside the kernel.
"""
from .configuration import ConfigMixin, FrozenDict, BaseOutput, register_to_config
from .schedule import betas_for_alpha_bar, rescale_zero_terminal_snr
from .scheduling_utils import SchedulerMixin
from .scheduling_ddpm import DDPMScheduler, DDPMSchedulerOutput
from .scheduling_ddim import DDIMScheduler, DDIMSchedulerOutput
from .pipelines import DiffusionPipeline, DDPMPipeline, DDIMPipeline, ImagePipelineOutput, denoise
from .interpolation import slerp, interpolate_noise, interpolate_images, InterpolationOutput

__all__ = ["ConfigMixin", "FrozenDict", "BaseOutput", "register_to_config", "betas_for_alpha_bar",
           "rescale_zero_terminal_snr", "SchedulerMixin", "DDPMScheduler", "DDPMSchedulerOutput", "DDIMScheduler",
           "DDIMSchedulerOutput", "DiffusionPipeline", "DDPMPipeline", "DDIMPipeline", "ImagePipelineOutput", "denoise",
           "slerp", "interpolate_noise", "interpolate_images", "InterpolationOutput"]
