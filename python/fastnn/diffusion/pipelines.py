"""Sampling pipelines, like diffusers' ``DDPMPipeline`` and ``DDIMPipeline``: start from x_T ~ N(0, I),
run the scheduler's reverse steps with the UNet's predictions, convert the images.

Beyond diffusers, the call takes ``class_labels`` (for a class-conditional UNet), ``guidance_scale`` with
``null_class`` (classifier-free guidance, Ho & Salimans 2022) and ``return_intermediates`` (the x_t
of chosen steps, for pictures of the reverse process). The reverse loop is written once, in
:func:`denoise`, and used by the pipelines and by the interpolation helpers.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import creation, dtypes, _ops_math, _ops_shape
from .._autograd_engine import no_grad
from ..tensor import Tensor
from ..utils.outputs import BaseOutput

__all__ = ["DDPMPipeline", "DDIMPipeline", "ImagePipelineOutput", "DiffusionPipeline", "denoise",
           "guided_model_output"]

OUTPUT_TYPES = ("pil", "np", "numpy", "pt", "tensor", "latent")


@dataclass
class ImagePipelineOutput(BaseOutput):
    """``images``: a list of PIL images, a (N, H, W, C) numpy array in [0, 1] or a (N, C, H, W) Tensor;
    ``intermediates`` (with ``return_intermediates``): the images of the reverse process at
    ``intermediate_timesteps``, each converted as ``images`` is."""

    images: Any
    intermediates: Any = None
    intermediate_timesteps: Any = None


def _config_value(unet, name):
    cfg = getattr(unet, "config", None)
    if cfg is None:
        return None
    return cfg.get(name) if isinstance(cfg, dict) else getattr(cfg, name, None)


def _null_class(unet, null_class):
    if null_class is not None:
        return int(null_class)
    k = _config_value(unet, "num_class_embeds")
    if not k:
        raise ValueError("classifier-free guidance needs the label of the unconditional class: pass "
                         "'null_class', or use a UNet whose config has num_class_embeds (its last class, "
                         "num_class_embeds - 1, is then the null class)")
    return int(k) - 1


def _labels(class_labels, n, device):
    if class_labels is None:
        return None
    if isinstance(class_labels, Tensor):
        lab = class_labels.detach().cpu().numpy()
    else:
        lab = np.asarray(class_labels)
    if lab.dtype.kind not in "iu":
        raise TypeError(f"argument 'class_labels' must hold integers, got dtype {lab.dtype}")
    lab = lab.astype(np.int64).reshape(-1)
    if lab.size == 1:
        lab = np.full(n, lab[0], dtype=np.int64)
    if lab.size != n:
        raise ValueError(f"argument 'class_labels' must hold one label per image (or a single one): got "
                         f"{lab.size} labels for batch_size={n}")
    return Tensor._wrap(lab).to(device)


def guided_model_output(unet, x, t, class_labels=None, guidance_scale=1.0, null_class=None):
    """The UNet's output at (x, t), with classifier-free guidance (Ho & Salimans 2022, eq. 6) when
    ``guidance_scale`` ≠ 1: ε̃ = ε_∅ + w (ε_c - ε_∅), the conditional and unconditional predictions taken
    in one batch of 2N. A learned-variance output (2C channels) is guided on its first C channels and keeps
    the conditional variance."""
    if class_labels is None or guidance_scale == 1.0:
        out = unet(x, t, class_labels=class_labels) if class_labels is not None else unet(x, t)
        return out.sample if hasattr(out, "sample") else out[0]
    n = x.shape[0]
    null = creation.full((n,), _null_class(unet, null_class), dtype=dtypes.int64, device=class_labels.device)
    out = unet(_ops_shape.cat([x, x]), t, class_labels=_ops_shape.cat([class_labels, null]))
    out = out.sample if hasattr(out, "sample") else out[0]
    cond, uncond = out[:n], out[n:]
    c = x.shape[1]
    if cond.shape[1] == 2 * c:
        eps_c, var_c = cond[:, :c], cond[:, c:]
        eps = uncond[:, :c] + guidance_scale * (eps_c - uncond[:, :c])
        return _ops_shape.cat([eps, var_c], dim=1)
    return uncond + guidance_scale * (cond - uncond)


def _chosen_steps(return_intermediates, timesteps):
    """Indices into ``timesteps`` after which x_t is kept."""
    n = len(timesteps)
    if return_intermediates is False or return_intermediates is None:
        return set()
    if return_intermediates is True:
        return set(range(n))
    if isinstance(return_intermediates, (int, np.integer)):
        k = int(return_intermediates)
        if k < 1:
            raise ValueError(f"argument 'return_intermediates' must be True, a positive int or a list of "
                             f"timesteps, got {return_intermediates}")
        return set(np.unique(np.round(np.linspace(0, n - 1, min(k, n))).astype(int)).tolist())
    wanted = [int(v) for v in return_intermediates]
    ts = [int(v) for v in timesteps]
    missing = [v for v in wanted if v not in ts]
    if missing:
        raise ValueError(f"argument 'return_intermediates': timesteps {missing} are not among the sampling "
                         f"timesteps {ts}")
    return {ts.index(v) for v in wanted}


def denoise(unet, scheduler, sample, timesteps=None, *, generator=None, class_labels=None, guidance_scale=1.0,
            null_class=None, return_intermediates=False, step_kwargs=None, progress=None):
    """The reverse process from ``sample`` = x_t over ``timesteps`` (default: ``scheduler.timesteps``):
    x ← scheduler.step(unet(x, t), t, x).prev_sample. Returns ``(x_0, intermediates, their timesteps)``;
    ``intermediates`` holds the x after the chosen steps (see ``return_intermediates`` of the pipelines)."""
    timesteps = scheduler.timesteps if timesteps is None else timesteps
    keep = _chosen_steps(return_intermediates, timesteps)
    kept, kept_t = [], []
    step_kwargs = dict(step_kwargs or {})
    x = scheduler.init_noise_sigma * sample if scheduler.init_noise_sigma != 1.0 else sample
    with no_grad():
        for i, t in enumerate(timesteps):
            model_in = scheduler.scale_model_input(x, t)
            out = guided_model_output(unet, model_in, t, class_labels, guidance_scale, null_class)
            x = scheduler.step(out, t, x, generator=generator, **step_kwargs).prev_sample
            if i in keep:
                kept.append(x)
                kept_t.append(int(t))
            if progress is not None:
                progress(i + 1, len(timesteps))
    return x, kept, kept_t


def _to_output(image, output_type):
    """diffusers' conversion: (x/2 + 0.5) clamped to [0, 1]; "pt"/"tensor" keep (N, C, H, W), "np" gives
    (N, H, W, C) numpy, "pil" PIL images; "latent" returns the raw sample."""
    if output_type == "latent":
        return image
    image = _ops_math.clamp(image / 2 + 0.5, 0, 1)
    if output_type in ("pt", "tensor"):
        return image
    arr = np.ascontiguousarray(image.float().cpu().numpy().transpose(0, 2, 3, 1))
    if output_type in ("np", "numpy"):
        return arr
    return numpy_to_pil(arr)


def numpy_to_pil(images):
    """(N, H, W, C) floats in [0, 1] → a list of PIL images (mode "L" for one channel)."""
    try:
        from PIL import Image
    except ImportError:
        raise ImportError("output_type='pil' needs Pillow (pip install pillow); use output_type='np' or 'pt'") \
            from None
    if images.ndim == 3:
        images = images[None, ...]
    images = (images * 255).round().astype("uint8")
    if images.shape[-1] == 1:
        return [Image.fromarray(im.squeeze(-1), mode="L") for im in images]
    return [Image.fromarray(im) for im in images]


class DiffusionPipeline:
    """What the pipelines share: the UNet and the scheduler, the image shape and the device."""

    def __init__(self, unet, scheduler):
        if not callable(unet):
            raise TypeError(f"{type(self).__name__}: argument 'unet' must be callable (a UNet2DModel), got "
                            f"{type(unet).__name__}")
        if not hasattr(scheduler, "step") or not hasattr(scheduler, "set_timesteps"):
            raise TypeError(f"{type(self).__name__}: argument 'scheduler' must be a scheduler (DDPMScheduler, "
                            f"DDIMScheduler), got {type(scheduler).__name__}")
        self.unet = unet
        self.scheduler = scheduler

    @property
    def components(self):
        return {"unet": self.unet, "scheduler": self.scheduler}

    @property
    def device(self):
        dev = getattr(self.unet, "device", None)
        if dev is None and hasattr(self.unet, "parameters"):
            p = next(iter(self.unet.parameters()), None)
            dev = p.device if p is not None else None
        return dev if dev is not None else "cpu"

    def _dtype(self):
        dt = getattr(self.unet, "dtype", None)
        if dt is None and hasattr(self.unet, "parameters"):
            p = next(iter(self.unet.parameters()), None)
            dt = p.dtype if p is not None else None
        return dt if dt is not None else dtypes.float32

    def to(self, device):
        if hasattr(self.unet, "to"):
            self.unet.to(device)
        return self

    def set_progress_bar_config(self, **kwargs):
        """Accepted for diffusers code (``disable=True``...); fastnn's pipelines show no bar: pass
        ``progress=callable(i, n)`` to follow the steps."""
        self._progress_bar_config = dict(kwargs)

    # ---- folders: model_index.json + one subfolder per component, as diffusers lays them out
    def save_pretrained(self, save_directory):
        """Write ``model_index.json`` and the components into ``unet/`` and ``scheduler/`` (each written
        atomically; the UNet's weights in fastnn's format)."""
        import json
        import os
        from .. import __version__
        from .._atomic import atomic_open
        from ..utils.config import DIFFUSERS_FORMAT_VERSION
        save_directory = os.fspath(save_directory)
        if os.path.isfile(save_directory):
            raise ValueError(f"{type(self).__name__}.save_pretrained: argument 'save_directory' must be a folder, "
                             f"got the file {save_directory!r}")
        index = {"_class_name": type(self).__name__, "_diffusers_version": DIFFUSERS_FORMAT_VERSION,
                 "_fastnn_version": __version__}
        for name, comp in self.components.items():
            if not hasattr(comp, "save_pretrained"):
                raise TypeError(f"{type(self).__name__}.save_pretrained: the {name} ({type(comp).__name__}) has no "
                                f"save_pretrained")
            comp.save_pretrained(os.path.join(save_directory, name))
            index[name] = ["diffusers", type(comp).__name__]
        with atomic_open(os.path.join(save_directory, "model_index.json"), "w", encoding="utf-8") as fh:
            fh.write(json.dumps(index, indent=2, sort_keys=True) + "\n")

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path, **kwargs):
        """The pipeline saved by :meth:`save_pretrained` in a local folder; ``unet=`` / ``scheduler=`` replace
        a component."""
        import json
        import os
        folder = os.fspath(pretrained_model_name_or_path)
        index_file = os.path.join(folder, "model_index.json")
        if not os.path.isfile(index_file):
            raise OSError(f"{cls.__name__}.from_pretrained: no file named model_index.json in {folder!r} (fastnn "
                          f"reads local folders only)")
        with open(index_file, encoding="utf-8") as fh:
            index = json.load(fh)
        from .. import models
        from . import scheduling_ddim, scheduling_ddpm
        known = {"DDPMScheduler": scheduling_ddpm.DDPMScheduler, "DDIMScheduler": scheduling_ddim.DDIMScheduler,
                 "UNet2DModel": getattr(models, "UNet2DModel", None)}
        parts = {}
        for name in ("unet", "scheduler"):
            if name in kwargs:
                parts[name] = kwargs.pop(name)
                continue
            entry = index.get(name)
            klass = known.get(entry[1]) if isinstance(entry, list) and len(entry) == 2 else None
            if klass is None:
                raise ValueError(f"{cls.__name__}.from_pretrained: component {name!r} of class {entry!r} in "
                                 f"{index_file} is not one fastnn can load")
            parts[name] = klass.from_pretrained(os.path.join(folder, name))
        if kwargs:
            raise TypeError(f"{cls.__name__}.from_pretrained: unexpected arguments {sorted(kwargs)}")
        return cls(parts["unet"], parts["scheduler"])

    def _image_shape(self, batch_size, sample_size, in_channels):
        size = sample_size if sample_size is not None else _config_value(self.unet, "sample_size")
        ch = in_channels if in_channels is not None else _config_value(self.unet, "in_channels")
        if size is None or ch is None:
            raise ValueError(f"{type(self).__name__}: the image shape comes from unet.config.sample_size and "
                             f"unet.config.in_channels; this unet has none: pass sample_size= and in_channels=")
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ValueError(f"{type(self).__name__}: argument 'batch_size' must be a positive int, got "
                             f"{batch_size!r}")
        hw = (int(size), int(size)) if isinstance(size, (int, np.integer)) else tuple(int(s) for s in size)
        return (int(batch_size), int(ch)) + hw

    def _run(self, batch_size, generator, num_inference_steps, output_type, return_dict, class_labels,
             guidance_scale, null_class, return_intermediates, sample_size, in_channels, step_kwargs, progress,
             latents):
        name = type(self).__name__
        if output_type not in OUTPUT_TYPES:
            raise ValueError(f"{name}: argument 'output_type' must be one of {', '.join(map(repr, OUTPUT_TYPES))}, "
                             f"got {output_type!r}")
        if isinstance(generator, (list, tuple)):
            raise TypeError(f"{name}: argument 'generator' must be one fastnn.Generator (a list of generators is "
                            f"not supported)")
        if generator is not None and not hasattr(generator, "_philox"):
            raise TypeError(f"{name}: argument 'generator' must be a fastnn.Generator or None, got "
                            f"{type(generator).__name__}")
        if latents is not None:
            if not isinstance(latents, Tensor) or latents.ndim != 4:
                raise ValueError(f"{name}: argument 'latents' must be a (N, C, H, W) Tensor (x_T), got "
                                 f"{getattr(latents, 'shape', type(latents).__name__)}")
            shape = tuple(latents.shape)
            device = latents.device
        else:
            shape = self._image_shape(batch_size, sample_size, in_channels)
            device = self.device
        labels = _labels(class_labels, shape[0], device)
        if labels is None and guidance_scale != 1.0:
            raise ValueError(f"{name}: guidance_scale={guidance_scale} needs class_labels (classifier-free "
                             f"guidance steers towards the given classes)")
        image = latents if latents is not None else \
            creation.randn(*shape, generator=generator, dtype=self._dtype(), device=device)
        self.scheduler.set_timesteps(num_inference_steps)
        image, kept, kept_t = denoise(self.unet, self.scheduler, image, generator=generator, class_labels=labels,
                                      guidance_scale=guidance_scale, null_class=null_class,
                                      return_intermediates=return_intermediates, step_kwargs=step_kwargs,
                                      progress=progress)
        images = _to_output(image, output_type)
        inter = [_to_output(x, output_type) for x in kept] if return_intermediates else None
        if not return_dict:
            return (images, inter) if return_intermediates else (images,)
        return ImagePipelineOutput(images=images, intermediates=inter,
                                   intermediate_timesteps=kept_t if return_intermediates else None)


class DDPMPipeline(DiffusionPipeline):
    """Ancestral sampling with a DDPM (Ho et al. 2020, Algorithm 2), like ``diffusers.DDPMPipeline``."""

    def __call__(self, batch_size=1, generator=None, num_inference_steps=1000, output_type="pil",
                 return_dict=True, *, class_labels=None, guidance_scale=1.0, null_class=None,
                 return_intermediates=False, sample_size=None, in_channels=None, latents=None, progress=None):
        """``batch_size`` images from x_T ~ N(0, I) (drawn from ``generator``, a ``fastnn.Generator``).

        ``output_type``: "pil" (list of PIL images), "np" ((N, H, W, C) in [0, 1]), "pt"/"tensor" (a
        (N, C, H, W) Tensor in [0, 1]) or "latent" (the raw x_0, about [-1, 1]). ``class_labels`` (an int or
        one per image) conditions a class-conditional UNet; ``guidance_scale`` w ≠ 1 applies classifier-free
        guidance against ``null_class`` (default: unet.config.num_class_embeds - 1, the label the model was
        trained with for "no class"). ``return_intermediates``: True (every step), an int k (k steps evenly
        spaced, the last included) or a list of timesteps: the images after those steps, converted like
        ``images``, in ``intermediates`` (and the tuple's second item with ``return_dict=False``).
        ``latents``: a given x_T (N, C, H, W) instead of a drawn one (``interpolate_noise`` makes such
        batches). ``progress(i, n)`` is called after each step."""
        return self._run(batch_size, generator, num_inference_steps, output_type, return_dict, class_labels,
                         guidance_scale, null_class, return_intermediates, sample_size, in_channels, None, progress,
                         latents)


class DDIMPipeline(DiffusionPipeline):
    """DDIM sampling (Song et al. 2021), like ``diffusers.DDIMPipeline``: the scheduler given is turned into a
    DDIMScheduler with the same config (a DDPM-trained model samples with DDIM in few steps)."""

    def __init__(self, unet, scheduler):
        from .scheduling_ddim import DDIMScheduler
        super().__init__(unet, scheduler)
        self.scheduler = DDIMScheduler.from_config(scheduler.config)

    def __call__(self, batch_size=1, generator=None, eta=0.0, num_inference_steps=50, use_clipped_model_output=None,
                 output_type="pil", return_dict=True, *, class_labels=None, guidance_scale=1.0, null_class=None,
                 return_intermediates=False, sample_size=None, in_channels=None, latents=None, progress=None):
        """As :meth:`DDPMPipeline.__call__`, with DDIM's ``eta`` (0: deterministic given x_T) and
        ``use_clipped_model_output``."""
        return self._run(batch_size, generator, num_inference_steps, output_type, return_dict, class_labels,
                         guidance_scale, null_class, return_intermediates, sample_size, in_channels,
                         {"eta": eta, "use_clipped_model_output": use_clipped_model_output}, progress, latents)
