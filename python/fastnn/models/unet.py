"""``UNet2DModel``: the DDPM denoising network, as diffusers' class of the same name.

Same constructor arguments and defaults, same submodule and parameter names (a diffusers
``UNet2DModel`` state dict loads with ``load_state_dict``, and the outputs then agree), same
``forward(sample, timestep, class_labels=None, return_dict=True)``. Built from fastnn's layers:
Conv2d, GroupNorm, SiLU, Linear, and the fused attention kernel for the self-attention blocks.

Shape of the network (Ho et al. 2020, section 4 and appendix B): a sinusoidal embedding of the
timestep goes through a two-layer MLP; ``conv_in`` lifts the image to ``block_out_channels[0]``
channels; each down block runs ``layers_per_block`` residual blocks (conditioned on the time
embedding, optionally followed by self-attention) and halves the resolution (except the last);
a middle block (resnet, attention, resnet) works at the lowest resolution; each up block runs
``layers_per_block + 1`` residual blocks on the concatenation with the matching down-path outputs
(the skip connections) and doubles the resolution; GroupNorm, SiLU and ``conv_out`` give the output.

``save_pretrained(folder)`` writes diffusers' ``config.json`` and the weights in fastnn's own format
(``diffusion_fastnn_model.fnn``), each atomically; ``from_pretrained(folder)`` reads them back, and reads a
folder written by diffusers' ``save_pretrained`` too (its ``diffusion_pytorch_model.safetensors``).
"""
from __future__ import annotations

import dataclasses
import os

import numpy as np

from .. import backend, nn
from ..tensor import Tensor
from ..utils.config import ConfigMixin, register_to_config
from ..utils.outputs import BaseOutput
from .embeddings import GaussianFourierProjection, TimestepEmbedding, Timesteps
from .unet_blocks import UNetMidBlock2D, get_down_block, get_up_block, norm_act

__all__ = ["UNet2DModel", "UNet2DOutput"]

WEIGHTS_NAME = "diffusion_fastnn_model.fnn"
# what diffusers' save_pretrained writes (safe_serialization=True, its default)
DIFFUSERS_WEIGHTS_NAME = "diffusion_pytorch_model.safetensors"
_FORMAT = "fastnn.UNet2DModel"


def _read_weights(who, folder):
    """The state dict saved in ``folder``: fastnn's file, else diffusers' safetensors file."""
    weights = os.path.join(folder, WEIGHTS_NAME)
    if os.path.isfile(weights):
        from .. import load
        data = load(weights, map_location="cpu")
        if not isinstance(data, dict) or data.get("format") != _FORMAT:
            raise ValueError(f"{who}.from_pretrained: {weights} was not written by save_pretrained")
        return data["state_dict"]
    theirs = os.path.join(folder, DIFFUSERS_WEIGHTS_NAME)
    if os.path.isfile(theirs):
        from ..utils.safetensors import load_file
        return load_file(theirs)
    raise EnvironmentError(f"{who}.from_pretrained: no file named {WEIGHTS_NAME} or {DIFFUSERS_WEIGHTS_NAME} in "
                           f"{folder!r} (fastnn reads local folders only)")


@dataclasses.dataclass
class UNet2DOutput(BaseOutput):
    """The output of :class:`UNet2DModel`: ``sample`` (N, out_channels, H, W)."""

    sample: Tensor


def _positive_int(name, value):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"UNet2DModel: argument '{name}' must be a positive int, got {value!r}")
    return int(value)


class UNet2DModel(nn.Module, ConfigMixin):
    """A 2-D UNet that takes a noisy sample and a timestep and returns a sample-shaped output (diffusers'
    ``UNet2DModel``; see the module docstring for its structure and the argument list there)."""

    config_name = "config.json"

    @register_to_config
    def __init__(self, sample_size=None, in_channels=3, out_channels=3, center_input_sample=False,
                 time_embedding_type="positional", time_embedding_dim=None, freq_shift=0, flip_sin_to_cos=True,
                 down_block_types=("DownBlock2D", "AttnDownBlock2D", "AttnDownBlock2D", "AttnDownBlock2D"),
                 mid_block_type="UNetMidBlock2D",
                 up_block_types=("AttnUpBlock2D", "AttnUpBlock2D", "AttnUpBlock2D", "UpBlock2D"),
                 block_out_channels=(224, 448, 672, 896), layers_per_block=2, mid_block_scale_factor=1,
                 downsample_padding=1, downsample_type="conv", upsample_type="conv", dropout=0.0, act_fn="silu",
                 attention_head_dim=8, norm_num_groups=32, attn_norm_num_groups=None, norm_eps=1e-5,
                 resnet_time_scale_shift="default", add_attention=True, class_embed_type=None,
                 num_class_embeds=None, num_train_timesteps=None):
        super().__init__()
        self._check_config(in_channels, out_channels, down_block_types, up_block_types, block_out_channels,
                           layers_per_block, norm_num_groups, mid_block_type, time_embedding_type,
                           class_embed_type, num_class_embeds, num_train_timesteps, resnet_time_scale_shift)
        block_out_channels = tuple(int(c) for c in block_out_channels)
        self.sample_size = sample_size
        time_embed_dim = time_embedding_dim or block_out_channels[0] * 4

        self.conv_in = nn.Conv2d(in_channels, block_out_channels[0], kernel_size=3, padding=(1, 1))

        # time
        if time_embedding_type == "fourier":
            self.time_proj = GaussianFourierProjection(embedding_size=block_out_channels[0], scale=16)
            timestep_input_dim = 2 * block_out_channels[0]
        elif time_embedding_type == "positional":
            self.time_proj = Timesteps(block_out_channels[0], flip_sin_to_cos, freq_shift)
            timestep_input_dim = block_out_channels[0]
        else:  # "learned"
            self.time_proj = nn.Embedding(num_train_timesteps, block_out_channels[0])
            timestep_input_dim = block_out_channels[0]
        self.time_embedding = TimestepEmbedding(timestep_input_dim, time_embed_dim)

        # class embedding, summed with the time embedding
        if class_embed_type is None and num_class_embeds is not None:
            self.class_embedding = nn.Embedding(num_class_embeds, time_embed_dim)
        elif class_embed_type == "timestep":
            self.class_embedding = TimestepEmbedding(timestep_input_dim, time_embed_dim)
        elif class_embed_type == "identity":
            self.class_embedding = nn.Identity(time_embed_dim, time_embed_dim)
        else:
            self.class_embedding = None

        levels = len(block_out_channels)
        head_dim = (lambda c: attention_head_dim if attention_head_dim is not None else c)
        # registered in diffusers' order (the mid block after the up blocks), so the state dicts list their
        # keys alike
        self.down_blocks = nn.ModuleList([])
        self.up_blocks = nn.ModuleList([])
        output_channel = block_out_channels[0]
        for i, down_block_type in enumerate(down_block_types):
            input_channel, output_channel = output_channel, block_out_channels[i]
            self.down_blocks.append(get_down_block(
                down_block_type, num_layers=layers_per_block, in_channels=input_channel,
                out_channels=output_channel, temb_channels=time_embed_dim, add_downsample=i != levels - 1,
                resnet_eps=norm_eps, resnet_act_fn=act_fn, resnet_groups=norm_num_groups,
                attention_head_dim=head_dim(output_channel), downsample_padding=downsample_padding,
                resnet_time_scale_shift=resnet_time_scale_shift, downsample_type=downsample_type, dropout=dropout))

        self.mid_block = None
        if mid_block_type is not None:
            self.mid_block = UNetMidBlock2D(
                in_channels=block_out_channels[-1], temb_channels=time_embed_dim, dropout=dropout,
                resnet_eps=norm_eps, resnet_act_fn=act_fn, output_scale_factor=mid_block_scale_factor,
                resnet_time_scale_shift=resnet_time_scale_shift,
                attention_head_dim=head_dim(block_out_channels[-1]), resnet_groups=norm_num_groups,
                attn_groups=attn_norm_num_groups, add_attention=add_attention)

        reversed_channels = list(reversed(block_out_channels))
        output_channel = reversed_channels[0]
        for i, up_block_type in enumerate(up_block_types):
            prev_output_channel, output_channel = output_channel, reversed_channels[i]
            input_channel = reversed_channels[min(i + 1, levels - 1)]
            self.up_blocks.append(get_up_block(
                up_block_type, num_layers=layers_per_block + 1, in_channels=input_channel,
                out_channels=output_channel, prev_output_channel=prev_output_channel, temb_channels=time_embed_dim,
                add_upsample=i != levels - 1, resnet_eps=norm_eps, resnet_act_fn=act_fn,
                resnet_groups=norm_num_groups, attention_head_dim=head_dim(output_channel),
                resnet_time_scale_shift=resnet_time_scale_shift, upsample_type=upsample_type, dropout=dropout))

        num_groups_out = norm_num_groups if norm_num_groups is not None else min(block_out_channels[0] // 4, 32)
        self.conv_norm_out = nn.GroupNorm(num_channels=block_out_channels[0], num_groups=num_groups_out, eps=norm_eps)
        self.conv_act = nn.SiLU()
        self.conv_out = nn.Conv2d(block_out_channels[0], out_channels, kernel_size=3, padding=1)

    @staticmethod
    def _check_config(in_channels, out_channels, down_block_types, up_block_types, block_out_channels,
                      layers_per_block, norm_num_groups, mid_block_type, time_embedding_type, class_embed_type,
                      num_class_embeds, num_train_timesteps, resnet_time_scale_shift):
        _positive_int("in_channels", in_channels)
        _positive_int("out_channels", out_channels)
        _positive_int("layers_per_block", layers_per_block)
        if len(down_block_types) != len(up_block_types):
            raise ValueError(f"Must provide the same number of `down_block_types` as `up_block_types`. "
                             f"`down_block_types`: {down_block_types}. `up_block_types`: {up_block_types}.")
        if len(block_out_channels) != len(down_block_types):
            raise ValueError(f"Must provide the same number of `block_out_channels` as `down_block_types`. "
                             f"`block_out_channels`: {block_out_channels}. `down_block_types`: {down_block_types}.")
        if len(block_out_channels) == 0:
            raise ValueError("UNet2DModel: block_out_channels must name at least one level")
        for c in block_out_channels:
            _positive_int("block_out_channels", c)
        if norm_num_groups is None:
            raise ValueError("UNet2DModel: norm_num_groups=None is not supported (the blocks' GroupNorms need a "
                             "group count)")
        for c in block_out_channels:
            if c % norm_num_groups:
                raise ValueError(f"UNet2DModel: every block_out_channels entry must be divisible by "
                                 f"norm_num_groups={norm_num_groups}, got block_out_channels={block_out_channels}")
        if mid_block_type not in (None, "UNetMidBlock2D"):
            raise ValueError(f"UNet2DModel: unknown mid_block_type {mid_block_type!r}: expected 'UNetMidBlock2D' "
                             "or None")
        if time_embedding_type not in ("positional", "fourier", "learned"):
            raise ValueError(f"{time_embedding_type} does not exist. Please make sure to use one of `fourier`, "
                             "`positional` or `learned`.")
        if time_embedding_type == "learned" and num_train_timesteps is None:
            raise ValueError("UNet2DModel: time_embedding_type='learned' needs num_train_timesteps")
        if class_embed_type not in (None, "timestep", "identity"):
            raise ValueError(f"UNet2DModel: unknown class_embed_type {class_embed_type!r}: expected None, "
                             "'timestep' or 'identity'")
        if num_class_embeds is not None:
            _positive_int("num_class_embeds", num_class_embeds)
        if resnet_time_scale_shift not in ("default", "scale_shift"):
            raise ValueError(f"UNet2DModel: resnet_time_scale_shift={resnet_time_scale_shift!r} is not supported: "
                             "expected 'default' or 'scale_shift'")

    # ------------------------------------------------------------------------ gradient checkpointing
    _supports_gradient_checkpointing = True

    def _blocks(self):
        return [m for m in self.modules() if hasattr(m, "gradient_checkpointing")]

    def enable_gradient_checkpointing(self):
        """Recompute each resnet's activations in the backward instead of keeping them (less memory, one more
        forward of the resnets per step), as diffusers does."""
        for block in self._blocks():
            block.gradient_checkpointing = True

    def disable_gradient_checkpointing(self):
        for block in self._blocks():
            block.gradient_checkpointing = False

    @property
    def is_gradient_checkpointing(self):
        return any(block.gradient_checkpointing for block in self._blocks())

    # ---------------------------------------------------------------------------------- properties
    @property
    def dtype(self):
        """The dtype of the parameters (float32 unless the model was converted)."""
        for p in self.parameters():
            return p.dtype
        return None

    @property
    def device(self):
        for p in self.parameters():
            return p.device
        return None

    def num_parameters(self, only_trainable=False, exclude_embeddings=False):
        """The number of (trainable, with ``only_trainable``) parameters, optionally without embeddings."""
        skip = set()
        if exclude_embeddings:
            skip = {id(m.weight) for m in self.modules() if isinstance(m, nn.Embedding)}
        return sum(p.numel() for p in self.parameters()
                   if (p.requires_grad or not only_trainable) and id(p) not in skip)

    # ------------------------------------------------------------------------------------ forward
    def _levels(self):
        return len(self.config.block_out_channels)

    def _check_sample(self, sample):
        if not isinstance(sample, Tensor):
            raise TypeError(f"UNet2DModel: argument 'sample' must be a Tensor, got {type(sample).__name__}")
        cin = self.config.in_channels
        if sample.ndim != 4 or sample.shape[1] != cin:
            raise ValueError(f"UNet2DModel: argument 'sample' must have shape (batch, in_channels={cin}, height, "
                             f"width), got {tuple(sample.shape)}")
        if sample._data.dtype != self.dtype:
            raise TypeError(f"UNet2DModel: argument 'sample' has dtype {sample.dtype} but the model's parameters "
                            f"are {self.dtype}")
        factor = 2 ** (self._levels() - 1)
        h, w = sample.shape[2:]
        if h % factor or w % factor:
            raise ValueError(f"UNet2DModel: the height and width of 'sample' must be multiples of "
                             f"2**(len(block_out_channels) - 1) = {factor} (the down path halves them "
                             f"{self._levels() - 1} times), got {h}x{w}")

    def _timesteps(self, timestep, sample):
        """The timesteps as an array (N,), from an int/float (truncated to an integer, as diffusers does), a
        0-d or (1,) tensor (broadcast) or an (N,) tensor."""
        n = sample.shape[0]
        xp = backend.array_module_of(sample._data)
        if isinstance(timestep, Tensor):
            t = timestep._data
        elif isinstance(timestep, np.ndarray) or backend.is_cuda_array(timestep):
            t = timestep
        elif isinstance(timestep, (int, float, np.integer, np.floating)) and not isinstance(timestep, bool):
            t = xp.asarray([int(timestep)], dtype=np.int64)
        else:
            raise TypeError(f"UNet2DModel: argument 'timestep' must be a number or a Tensor, got "
                            f"{type(timestep).__name__}")
        if backend.device_of(t) != backend.device_of(sample._data):
            t = backend.to_device(t, backend.device_of(sample._data))
        if t.ndim == 0:
            t = t[None]
        if t.ndim != 1 or t.shape[0] not in (1, n):
            raise ValueError(f"UNet2DModel: argument 'timestep' must be a number, a 0-d tensor or a 1-D tensor of "
                             f"length 1 or batch={n}, got shape {tuple(t.shape)}")
        if t.dtype.kind not in "iuf":
            raise TypeError(f"UNet2DModel: argument 'timestep' must hold numbers, got dtype {t.dtype}")
        return xp.ascontiguousarray(xp.broadcast_to(t, (n,)))

    def forward(self, sample, timestep, class_labels=None, return_dict=True):
        """The model output for the noisy ``sample`` (N, in_channels, H, W) at ``timestep`` (a number, or one
        per sample), conditioned on ``class_labels`` (N,) when the model has a class embedding. Returns a
        :class:`UNet2DOutput` (``.sample``), or the tuple ``(sample,)`` with ``return_dict=False``."""
        self._check_sample(sample)
        config = self.config
        if config.center_input_sample:
            sample = 2 * sample - 1.0

        # 1. time
        timesteps = self._timesteps(timestep, sample)
        t_emb = self.time_proj(Tensor._wrap(timesteps))
        # the sinusoid is float32 whatever the model's dtype; cast as diffusers does
        if t_emb._data.dtype != self.dtype:
            t_emb = t_emb.to(self.dtype)
        emb = self.time_embedding(t_emb)

        if self.class_embedding is not None:
            if class_labels is None:
                raise ValueError("class_labels should be provided when doing class conditioning (the model has "
                                 f"num_class_embeds={config.num_class_embeds}, "
                                 f"class_embed_type={config.class_embed_type!r})")
            class_labels = self._check_labels(class_labels, sample.shape[0])
            if config.class_embed_type == "timestep":
                class_labels = self.time_proj(class_labels)
                if class_labels._data.dtype != self.dtype:
                    class_labels = class_labels.to(self.dtype)
            class_emb = self.class_embedding(class_labels)
            if class_emb._data.dtype != self.dtype:
                class_emb = class_emb.to(self.dtype)
            emb = emb + class_emb
        elif class_labels is not None:
            raise ValueError("class_embedding needs to be initialized in order to use class conditioning "
                             "(build the model with num_class_embeds or class_embed_type)")

        # 2. pre-process
        sample = self.conv_in(sample)

        # 3. down: keep every intermediate output for the skip connections
        down_block_res_samples = (sample,)
        for block in self.down_blocks:
            sample, res_samples = block(sample, emb)
            down_block_res_samples += res_samples

        # 4. mid
        if self.mid_block is not None:
            sample = self.mid_block(sample, emb)

        # 5. up: each block consumes as many skip connections as it has resnets, from the end
        for block in self.up_blocks:
            k = len(block.resnets)
            res_samples, down_block_res_samples = down_block_res_samples[-k:], down_block_res_samples[:-k]
            sample = block(sample, res_samples, emb)

        # 6. post-process
        sample = self.conv_out(norm_act(self.conv_norm_out, self.conv_act, sample))
        if config.time_embedding_type == "fourier":
            # score-model parametrisation: the output divided by sigma (here the timestep)
            xp = backend.array_module_of(timesteps)
            sigma = Tensor._wrap(xp.ascontiguousarray(timesteps.reshape(-1, 1, 1, 1)))
            sample = sample / sigma
        if not return_dict:
            return (sample,)
        return UNet2DOutput(sample=sample)

    def _check_labels(self, class_labels, n):
        kind = self.config.class_embed_type
        if not isinstance(class_labels, Tensor):
            if isinstance(class_labels, np.ndarray) or backend.is_cuda_array(class_labels):
                class_labels = Tensor._wrap(class_labels)
            else:
                raise TypeError(f"UNet2DModel: argument 'class_labels' must be a Tensor, got "
                                f"{type(class_labels).__name__}")
        shape = tuple(class_labels.shape)
        if kind is None:
            if class_labels._data.dtype.kind not in "iu":
                raise TypeError(f"UNet2DModel: argument 'class_labels' must hold integer class indices, got "
                                f"dtype {class_labels.dtype}")
            k = self.config.num_class_embeds
            if shape != (n,):
                raise ValueError(f"UNet2DModel: argument 'class_labels' must have shape (batch={n},), got {shape}")
            data = class_labels._data
            if n and (int(data.min()) < 0 or int(data.max()) >= k):
                raise ValueError(f"UNet2DModel: argument 'class_labels' must lie in [0, num_class_embeds={k}), got "
                                 f"values in [{int(data.min())}, {int(data.max())}]")
        elif kind == "timestep" and shape != (n,):
            raise ValueError(f"UNet2DModel: argument 'class_labels' must have shape (batch={n},), got {shape}")
        return class_labels

    # ----------------------------------------------------------------------------- save / load
    def save_pretrained(self, save_directory, push_to_hub=False, **unused):
        """Write ``config.json`` (diffusers' keys) and the weights (``diffusion_fastnn_model.fnn``, fastnn's
        format) into the folder ``save_directory``, each file atomically. diffusers' other keywords
        (``safe_serialization``, ``variant``, ...) are accepted and have no effect."""
        from .. import save
        if push_to_hub:
            raise NotImplementedError("save_pretrained: push_to_hub is not supported (local folders only)")
        save_directory = os.fspath(save_directory)
        if os.path.isfile(save_directory):
            raise ValueError(f"save_directory ({save_directory}) should be a directory, not a file")
        os.makedirs(save_directory, exist_ok=True)
        save({"format": _FORMAT, "state_dict": self.state_dict()}, os.path.join(save_directory, WEIGHTS_NAME))
        self.save_config(save_directory)

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path, subfolder=None, torch_dtype=None, device=None,
                        **kwargs):
        """The model saved by :meth:`save_pretrained` (or by diffusers' ``save_pretrained``: its safetensors
        weights) in a local folder (``subfolder`` inside it); ``kwargs`` override configuration values,
        ``torch_dtype`` converts the parameters, ``device`` moves them."""
        folder = os.fspath(pretrained_model_name_or_path)
        if subfolder:
            folder = os.path.join(folder, subfolder)
        model = cls.from_config(cls.load_config(folder), **kwargs)
        model.load_state_dict(_read_weights(cls.__name__, folder))
        if torch_dtype is not None:
            model.to(torch_dtype)
        if device is not None:
            model.to(device)
        return model.eval()
