"""The building blocks of :class:`~fastnn.models.UNet2DModel`, with diffusers' class names, constructor
arguments and submodule names (so a diffusers state dict loads): ``ResnetBlock2D``, ``Downsample2D``,
``Upsample2D``, ``Attention`` (the spatial self-attention of DDPM), the down blocks ``DownBlock2D``,
``AttnDownBlock2D``, ``ResnetDownsampleBlock2D``, the up blocks ``UpBlock2D``, ``AttnUpBlock2D``,
``ResnetUpsampleBlock2D``, and ``UNetMidBlock2D``; ``get_down_block`` / ``get_up_block`` build them by name.

The three down blocks differ only in whether an attention follows each resnet and in how they
downsample (a stride-2 convolution, a resnet that average-pools, or nothing), so one class
(:class:`_DownBlock`) does the work and the named classes only fix those two choices; the up blocks
likewise.
"""
from __future__ import annotations

from .. import cat, is_grad_enabled, nn
from ..nn import functional as F
from ..utils.checkpoint import checkpoint
from .embeddings import get_activation

__all__ = ["ResnetBlock2D", "Downsample2D", "Upsample2D", "Attention", "DownBlock2D", "AttnDownBlock2D",
           "ResnetDownsampleBlock2D", "UpBlock2D", "AttnUpBlock2D", "ResnetUpsampleBlock2D", "UNetMidBlock2D",
           "get_down_block", "get_up_block"]


def norm_act(norm, act, x):
    """``act(norm(x))``, as one fused pass of the group-norm kernels when ``norm`` is a GroupNorm and ``act`` a
    SiLU (the resnets' pattern) and neither module has hooks to call."""
    if (type(norm) is nn.GroupNorm and type(act) is nn.SiLU and not act.inplace
            and not norm._has_call_hooks() and not act._has_call_hooks()):
        return F.group_norm_silu(x, norm.num_groups, norm.weight, norm.bias, norm.eps)
    return act(norm(x))


class Downsample2D(nn.Module):
    """Halve the resolution: a stride-2 3x3 convolution (``use_conv``; ``padding=0`` pads right/bottom by
    one first, as diffusers does) or a 2x2 average pool."""

    def __init__(self, channels, use_conv=False, out_channels=None, padding=1, name="conv", kernel_size=3,
                 bias=True):
        super().__init__()
        self.channels = channels
        self.out_channels = out_channels or channels
        self.use_conv = use_conv
        self.padding = padding
        self.name = name
        if use_conv:
            conv = nn.Conv2d(channels, self.out_channels, kernel_size=kernel_size, stride=2, padding=padding,
                             bias=bias)
        else:
            if self.channels != self.out_channels:
                raise ValueError(f"Downsample2D: without use_conv, out_channels ({self.out_channels}) must equal "
                                 f"channels ({channels})")
            conv = nn.AvgPool2d(kernel_size=2, stride=2)
        # diffusers' old checkpoints name it Conv2d_0 as well when name == "conv"
        if name == "conv":
            self.Conv2d_0 = conv
        self.conv = conv

    def forward(self, hidden_states):
        if self.use_conv and self.padding == 0:
            hidden_states = F.pad(hidden_states, (0, 1, 0, 1), mode="constant", value=0)
        return self.conv(hidden_states)


class Upsample2D(nn.Module):
    """Double the resolution: nearest-neighbour interpolation, then a 3x3 convolution when ``use_conv``
    (or a stride-2 transposed convolution when ``use_conv_transpose``)."""

    def __init__(self, channels, use_conv=False, use_conv_transpose=False, out_channels=None, name="conv",
                 kernel_size=None, padding=1, bias=True, interpolate=True):
        super().__init__()
        self.channels = channels
        self.out_channels = out_channels or channels
        self.use_conv = use_conv
        self.use_conv_transpose = use_conv_transpose
        self.name = name
        self.interpolate = interpolate
        conv = None
        if use_conv_transpose:
            conv = nn.ConvTranspose2d(channels, self.out_channels, kernel_size=kernel_size or 4, stride=2,
                                      padding=padding, bias=bias)
        elif use_conv:
            conv = nn.Conv2d(channels, self.out_channels, kernel_size=kernel_size or 3, padding=padding, bias=bias)
        if name == "conv":
            self.conv = conv
        else:
            self.Conv2d_0 = conv

    def forward(self, hidden_states, output_size=None):
        if self.use_conv_transpose:
            return self.conv(hidden_states)
        if self.interpolate:
            if output_size is None:
                hidden_states = F.interpolate(hidden_states, scale_factor=2.0, mode="nearest")
            else:
                hidden_states = F.interpolate(hidden_states, size=output_size, mode="nearest")
        if self.use_conv:
            hidden_states = (self.conv if self.name == "conv" else self.Conv2d_0)(hidden_states)
        return hidden_states


class ResnetBlock2D(nn.Module):
    """The DDPM residual block: ``norm1 -> act -> conv1 -> + time_emb_proj(act(temb)) -> norm2 -> act ->
    dropout -> conv2``, plus the input (through a 1x1 ``conv_shortcut`` when the widths differ), divided by
    ``output_scale_factor``. ``time_embedding_norm="scale_shift"`` conditions as ``norm2(h) * (1 + scale) +
    shift`` instead (one projection to 2 * out_channels, split in two). ``up``/``down`` resample both paths
    (nearest x2 / 2x2 average pool) after the first activation."""

    def __init__(self, *, in_channels, out_channels=None, conv_shortcut=False, dropout=0.0, temb_channels=512,
                 groups=32, groups_out=None, pre_norm=True, eps=1e-6, non_linearity="swish", skip_time_act=False,
                 time_embedding_norm="default", kernel=None, output_scale_factor=1.0, use_in_shortcut=None,
                 up=False, down=False, conv_shortcut_bias=True, conv_2d_out_channels=None):
        super().__init__()
        if time_embedding_norm not in ("default", "scale_shift"):
            raise ValueError(f"unknown time_embedding_norm : {time_embedding_norm} (fastnn supports 'default' and "
                             "'scale_shift')")
        if kernel is not None:
            raise ValueError(f"ResnetBlock2D: kernel={kernel!r} (FIR / sde_vp resampling) is not supported; use None")
        self.pre_norm = True
        self.in_channels = in_channels
        out_channels = in_channels if out_channels is None else out_channels
        self.out_channels = out_channels
        self.use_conv_shortcut = conv_shortcut
        self.up, self.down = up, down
        self.output_scale_factor = output_scale_factor
        self.time_embedding_norm = time_embedding_norm
        self.skip_time_act = skip_time_act
        groups_out = groups if groups_out is None else groups_out

        self.norm1 = nn.GroupNorm(num_groups=groups, num_channels=in_channels, eps=eps, affine=True)
        self.conv1 = nn.Conv2d(in_channels, out_channels, kernel_size=3, stride=1, padding=1)
        if temb_channels is not None:
            width = 2 * out_channels if time_embedding_norm == "scale_shift" else out_channels
            self.time_emb_proj = nn.Linear(temb_channels, width)
        else:
            self.time_emb_proj = None
        self.norm2 = nn.GroupNorm(num_groups=groups_out, num_channels=out_channels, eps=eps, affine=True)
        self.dropout = nn.Dropout(dropout)
        conv_2d_out_channels = conv_2d_out_channels or out_channels
        self.conv2 = nn.Conv2d(out_channels, conv_2d_out_channels, kernel_size=3, stride=1, padding=1)
        self.nonlinearity = get_activation(non_linearity)
        self.upsample = self.downsample = None
        if up:
            self.upsample = Upsample2D(in_channels, use_conv=False)
        elif down:
            self.downsample = Downsample2D(in_channels, use_conv=False, padding=1, name="op")
        self.use_in_shortcut = in_channels != conv_2d_out_channels if use_in_shortcut is None else use_in_shortcut
        self.conv_shortcut = None
        if self.use_in_shortcut:
            self.conv_shortcut = nn.Conv2d(in_channels, conv_2d_out_channels, kernel_size=1, stride=1, padding=0,
                                           bias=conv_shortcut_bias)

    def forward(self, input_tensor, temb):
        hidden_states = norm_act(self.norm1, self.nonlinearity, input_tensor)
        if self.upsample is not None:
            input_tensor = self.upsample(input_tensor)
            hidden_states = self.upsample(hidden_states)
        elif self.downsample is not None:
            input_tensor = self.downsample(input_tensor)
            hidden_states = self.downsample(hidden_states)
        hidden_states = self.conv1(hidden_states)

        if self.time_emb_proj is not None and temb is not None:
            if not self.skip_time_act:
                temb = self.nonlinearity(temb)
            temb = self.time_emb_proj(temb)[:, :, None, None]
        if self.time_embedding_norm == "default":
            if temb is not None:
                hidden_states = hidden_states + temb
            hidden_states = norm_act(self.norm2, self.nonlinearity, hidden_states)
        else:
            if temb is None:
                raise ValueError(f" `temb` should not be None when `time_embedding_norm` is {self.time_embedding_norm}")
            time_scale, time_shift = temb.chunk(2, dim=1)
            hidden_states = self.nonlinearity(self.norm2(hidden_states) * (1 + time_scale) + time_shift)
        hidden_states = self.dropout(hidden_states)
        hidden_states = self.conv2(hidden_states)
        if self.conv_shortcut is not None:
            input_tensor = self.conv_shortcut(input_tensor)
        out = input_tensor + hidden_states
        # dividing by 1.0 changes no bit, so the common case skips a pass over memory
        return out if self.output_scale_factor == 1.0 else out / self.output_scale_factor


class Attention(nn.Module):
    """Spatial self-attention over the H*W positions of (N, C, H, W) feature maps, as diffusers' ``Attention``
    built by the UNet blocks (``_from_deprecated_attn_block``): optional ``group_norm``, ``to_q``/``to_k``/
    ``to_v`` projections to ``heads * dim_head``, scaled dot-product attention per head through fastnn's
    fused kernel, ``to_out.0`` back to ``query_dim`` (``to_out.1`` is dropout), plus the input
    (``residual_connection``), divided by ``rescale_output_factor``. Also accepts (N, L, C) sequences."""

    def __init__(self, query_dim, heads=8, dim_head=64, dropout=0.0, bias=False, upcast_attention=False,
                 upcast_softmax=False, out_bias=True, scale_qk=True, eps=1e-5, rescale_output_factor=1.0,
                 residual_connection=False, norm_num_groups=None, out_dim=None, _from_deprecated_attn_block=False,
                 **unsupported):
        super().__init__()
        for key, value in unsupported.items():
            if value is not None and value is not False:
                raise ValueError(f"Attention: argument {key}={value!r} (cross-attention and its variants) is not "
                                 "supported by fastnn's spatial self-attention")
        self.inner_dim = out_dim if out_dim is not None else dim_head * heads
        self.query_dim = query_dim
        self.out_dim = out_dim if out_dim is not None else query_dim
        self.heads = out_dim // dim_head if out_dim is not None else heads
        if self.heads < 1:
            raise ValueError(f"Attention: {query_dim} channels give no head of dim_head={dim_head}")
        self.scale_qk = scale_qk
        self.scale = dim_head ** -0.5 if scale_qk else 1.0
        self.rescale_output_factor = rescale_output_factor
        self.residual_connection = residual_connection
        self.group_norm = (nn.GroupNorm(num_channels=query_dim, num_groups=norm_num_groups, eps=eps, affine=True)
                           if norm_num_groups is not None else None)
        self.to_q = nn.Linear(query_dim, self.inner_dim, bias=bias)
        self.to_k = nn.Linear(query_dim, self.inner_dim, bias=bias)
        self.to_v = nn.Linear(query_dim, self.inner_dim, bias=bias)
        self.to_out = nn.ModuleList([nn.Linear(self.inner_dim, self.out_dim, bias=out_bias), nn.Dropout(dropout)])

    def forward(self, hidden_states, encoder_hidden_states=None, attention_mask=None, temb=None):
        if encoder_hidden_states is not None or attention_mask is not None:
            raise ValueError("Attention: fastnn's UNet attention is self-attention without a mask "
                             "(encoder_hidden_states and attention_mask must be None)")
        residual = hidden_states
        spatial = hidden_states.ndim == 4
        if self.group_norm is not None and spatial:
            # GroupNorm over (N, C, H, W) equals diffusers' GroupNorm over the (N, C, H*W) view
            hidden_states = self.group_norm(hidden_states)
        if spatial:
            n, c, h, w = hidden_states.shape
            # (N, H*W, C) copied once: the three projections (and their weight gradients) then read
            # contiguous rows instead of each copying the transposed view
            hidden_states = hidden_states.reshape(n, c, h * w).transpose(1, 2).contiguous()
        elif self.group_norm is not None:
            hidden_states = self.group_norm(hidden_states.transpose(1, 2)).transpose(1, 2)
        n, length = hidden_states.shape[0], hidden_states.shape[1]
        head_dim = self.inner_dim // self.heads

        def heads(t):  # (N, L, heads*d) -> (N, heads, L, d): a view, the kernel reads it through strides
            return t.reshape(n, length, self.heads, head_dim).transpose(1, 2)

        q, k, v = heads(self.to_q(hidden_states)), heads(self.to_k(hidden_states)), heads(self.to_v(hidden_states))
        out = F.scaled_dot_product_attention(q, k, v, scale=self.scale)
        out = out.transpose(1, 2).reshape(n, length, self.heads * head_dim)
        out = self.to_out[1](self.to_out[0](out))
        if spatial:
            out = out.transpose(1, 2).reshape(n, self.out_dim, h, w)
        if self.residual_connection:
            out = out + residual
        return out if self.rescale_output_factor == 1.0 else out / self.rescale_output_factor


def _resnet(in_channels, out_channels, temb_channels, eps, groups, dropout, time_scale_shift, act_fn,
            output_scale_factor, skip_time_act=False, **kw):
    return ResnetBlock2D(in_channels=in_channels, out_channels=out_channels, temb_channels=temb_channels, eps=eps,
                         groups=groups, dropout=dropout, time_embedding_norm=time_scale_shift,
                         non_linearity=act_fn, output_scale_factor=output_scale_factor, skip_time_act=skip_time_act,
                         **kw)


def _attention(channels, attention_head_dim, groups, eps, output_scale_factor):
    if attention_head_dim is None:
        attention_head_dim = channels
    return Attention(channels, heads=channels // attention_head_dim, dim_head=attention_head_dim,
                     rescale_output_factor=output_scale_factor, eps=eps, norm_num_groups=groups,
                     residual_connection=True, bias=True, upcast_softmax=True, _from_deprecated_attn_block=True)


def _run_resnet(block, resnet, hidden_states, temb):
    """``resnet(hidden_states, temb)``, recomputed in the backward instead of keeping its activations when
    the block has gradient checkpointing on (as diffusers checkpoints its resnets)."""
    if block.gradient_checkpointing and is_grad_enabled():
        return checkpoint(resnet, hidden_states, temb)
    return resnet(hidden_states, temb)


class _DownBlock(nn.Module):
    """``num_layers`` resnets (each followed by an attention when ``attention``), then an optional
    downsampler (``"conv"``: stride-2 convolution, ``"resnet"``: a resnet that pools). Returns the
    hidden states and the tuple of every intermediate output (the skip connections)."""

    def __init__(self, in_channels, out_channels, temb_channels, dropout, num_layers, resnet_eps,
                 resnet_time_scale_shift, resnet_act_fn, resnet_groups, output_scale_factor, downsample_padding,
                 downsample_type, attention, attention_head_dim=None, skip_time_act=False):
        super().__init__()
        res = (temb_channels, resnet_eps, resnet_groups, dropout, resnet_time_scale_shift, resnet_act_fn,
               output_scale_factor, skip_time_act)
        # registered in diffusers' order (attentions first), so the state dicts list their keys alike
        if attention:
            self.attentions = nn.ModuleList([_attention(out_channels, attention_head_dim, resnet_groups, resnet_eps,
                                                        output_scale_factor) for _ in range(num_layers)])
        self.resnets = nn.ModuleList([_resnet(in_channels if i == 0 else out_channels, out_channels, *res)
                                      for i in range(num_layers)])
        self.downsample_type = downsample_type
        if downsample_type == "conv":
            self.downsamplers = nn.ModuleList([Downsample2D(out_channels, use_conv=True, out_channels=out_channels,
                                                            padding=downsample_padding, name="op")])
        elif downsample_type == "resnet":
            self.downsamplers = nn.ModuleList([_resnet(out_channels, out_channels, *res, down=True)])
        elif downsample_type is None:
            self.downsamplers = None
        else:
            raise ValueError(f"unknown downsample_type {downsample_type!r}: expected 'conv' or 'resnet'")
        self.gradient_checkpointing = False

    def forward(self, hidden_states, temb=None):
        attentions = getattr(self, "attentions", None)
        output_states = ()
        for i, resnet in enumerate(self.resnets):
            hidden_states = _run_resnet(self, resnet, hidden_states, temb)
            if attentions is not None:
                hidden_states = attentions[i](hidden_states)
            output_states += (hidden_states,)
        if self.downsamplers is not None:
            for down in self.downsamplers:
                hidden_states = down(hidden_states, temb) if self.downsample_type == "resnet" else down(hidden_states)
            output_states += (hidden_states,)
        return hidden_states, output_states


class DownBlock2D(_DownBlock):
    def __init__(self, in_channels, out_channels, temb_channels, dropout=0.0, num_layers=1, resnet_eps=1e-6,
                 resnet_time_scale_shift="default", resnet_act_fn="swish", resnet_groups=32, resnet_pre_norm=True,
                 output_scale_factor=1.0, add_downsample=True, downsample_padding=1):
        super().__init__(in_channels, out_channels, temb_channels, dropout, num_layers, resnet_eps,
                         resnet_time_scale_shift, resnet_act_fn, resnet_groups, output_scale_factor,
                         downsample_padding, "conv" if add_downsample else None, attention=False)


class AttnDownBlock2D(_DownBlock):
    def __init__(self, in_channels, out_channels, temb_channels, dropout=0.0, num_layers=1, resnet_eps=1e-6,
                 resnet_time_scale_shift="default", resnet_act_fn="swish", resnet_groups=32, resnet_pre_norm=True,
                 attention_head_dim=1, output_scale_factor=1.0, downsample_padding=1, downsample_type="conv"):
        super().__init__(in_channels, out_channels, temb_channels, dropout, num_layers, resnet_eps,
                         resnet_time_scale_shift, resnet_act_fn, resnet_groups, output_scale_factor,
                         downsample_padding, downsample_type, attention=True, attention_head_dim=attention_head_dim)


class ResnetDownsampleBlock2D(_DownBlock):
    def __init__(self, in_channels, out_channels, temb_channels, dropout=0.0, num_layers=1, resnet_eps=1e-6,
                 resnet_time_scale_shift="default", resnet_act_fn="swish", resnet_groups=32, resnet_pre_norm=True,
                 output_scale_factor=1.0, add_downsample=True, skip_time_act=False):
        super().__init__(in_channels, out_channels, temb_channels, dropout, num_layers, resnet_eps,
                         resnet_time_scale_shift, resnet_act_fn, resnet_groups, output_scale_factor, 1,
                         "resnet" if add_downsample else None, attention=False, skip_time_act=skip_time_act)


class _UpBlock(nn.Module):
    """``num_layers`` resnets, each on the concatenation of the hidden states and the next skip connection
    (popped from the end of the tuple), each followed by an attention when ``attention``; then an optional
    upsampler (``"conv"``: nearest x2 + convolution, ``"resnet"``: a resnet that interpolates)."""

    def __init__(self, in_channels, prev_output_channel, out_channels, temb_channels, resolution_idx, dropout,
                 num_layers, resnet_eps, resnet_time_scale_shift, resnet_act_fn, resnet_groups, output_scale_factor,
                 upsample_type, attention, attention_head_dim=None, skip_time_act=False):
        super().__init__()
        res = (temb_channels, resnet_eps, resnet_groups, dropout, resnet_time_scale_shift, resnet_act_fn,
               output_scale_factor, skip_time_act)
        resnets = []
        for i in range(num_layers):
            skip = in_channels if i == num_layers - 1 else out_channels
            resnets.append(_resnet((prev_output_channel if i == 0 else out_channels) + skip, out_channels, *res))
        if attention:
            self.attentions = nn.ModuleList([_attention(out_channels, attention_head_dim, resnet_groups, resnet_eps,
                                                        output_scale_factor) for _ in range(num_layers)])
        self.resnets = nn.ModuleList(resnets)
        self.upsample_type = upsample_type
        if upsample_type == "conv":
            self.upsamplers = nn.ModuleList([Upsample2D(out_channels, use_conv=True, out_channels=out_channels)])
        elif upsample_type == "resnet":
            self.upsamplers = nn.ModuleList([_resnet(out_channels, out_channels, *res, up=True)])
        elif upsample_type is None:
            self.upsamplers = None
        else:
            raise ValueError(f"unknown upsample_type {upsample_type!r}: expected 'conv' or 'resnet'")
        self.resolution_idx = resolution_idx
        self.gradient_checkpointing = False

    def forward(self, hidden_states, res_hidden_states_tuple, temb=None, upsample_size=None):
        attentions = getattr(self, "attentions", None)
        for i, resnet in enumerate(self.resnets):
            res_hidden_states = res_hidden_states_tuple[-1]
            res_hidden_states_tuple = res_hidden_states_tuple[:-1]
            hidden_states = _run_resnet(self, resnet, cat([hidden_states, res_hidden_states], dim=1), temb)
            if attentions is not None:
                hidden_states = attentions[i](hidden_states)
        if self.upsamplers is not None:
            for up in self.upsamplers:
                hidden_states = up(hidden_states, temb) if self.upsample_type == "resnet" else up(hidden_states,
                                                                                                   upsample_size)
        return hidden_states


class UpBlock2D(_UpBlock):
    def __init__(self, in_channels, prev_output_channel, out_channels, temb_channels, resolution_idx=None,
                 dropout=0.0, num_layers=1, resnet_eps=1e-6, resnet_time_scale_shift="default",
                 resnet_act_fn="swish", resnet_groups=32, resnet_pre_norm=True, output_scale_factor=1.0,
                 add_upsample=True):
        super().__init__(in_channels, prev_output_channel, out_channels, temb_channels, resolution_idx, dropout,
                         num_layers, resnet_eps, resnet_time_scale_shift, resnet_act_fn, resnet_groups,
                         output_scale_factor, "conv" if add_upsample else None, attention=False)


class AttnUpBlock2D(_UpBlock):
    def __init__(self, in_channels, prev_output_channel, out_channels, temb_channels, resolution_idx=None,
                 dropout=0.0, num_layers=1, resnet_eps=1e-6, resnet_time_scale_shift="default",
                 resnet_act_fn="swish", resnet_groups=32, resnet_pre_norm=True, attention_head_dim=1,
                 output_scale_factor=1.0, upsample_type="conv"):
        super().__init__(in_channels, prev_output_channel, out_channels, temb_channels, resolution_idx, dropout,
                         num_layers, resnet_eps, resnet_time_scale_shift, resnet_act_fn, resnet_groups,
                         output_scale_factor, upsample_type, attention=True, attention_head_dim=attention_head_dim)


class ResnetUpsampleBlock2D(_UpBlock):
    def __init__(self, in_channels, prev_output_channel, out_channels, temb_channels, resolution_idx=None,
                 dropout=0.0, num_layers=1, resnet_eps=1e-6, resnet_time_scale_shift="default",
                 resnet_act_fn="swish", resnet_groups=32, resnet_pre_norm=True, output_scale_factor=1.0,
                 add_upsample=True, skip_time_act=False):
        super().__init__(in_channels, prev_output_channel, out_channels, temb_channels, resolution_idx, dropout,
                         num_layers, resnet_eps, resnet_time_scale_shift, resnet_act_fn, resnet_groups,
                         output_scale_factor, "resnet" if add_upsample else None, attention=False,
                         skip_time_act=skip_time_act)


class UNetMidBlock2D(nn.Module):
    """resnet, then ``num_layers`` times (attention, resnet), at the lowest resolution. The attention has a
    group norm of ``attn_groups`` groups (default: ``resnet_groups`` with the "default" time conditioning,
    none with "scale_shift", as in diffusers)."""

    def __init__(self, in_channels, temb_channels, dropout=0.0, num_layers=1, resnet_eps=1e-6,
                 resnet_time_scale_shift="default", resnet_act_fn="swish", resnet_groups=32, attn_groups=None,
                 resnet_pre_norm=True, add_attention=True, attention_head_dim=1, output_scale_factor=1.0):
        super().__init__()
        resnet_groups = resnet_groups if resnet_groups is not None else min(in_channels // 4, 32)
        self.add_attention = add_attention
        if attn_groups is None:
            attn_groups = resnet_groups if resnet_time_scale_shift == "default" else None
        res = (in_channels, in_channels, temb_channels, resnet_eps, resnet_groups, dropout, resnet_time_scale_shift,
               resnet_act_fn, output_scale_factor)
        if add_attention:
            self.attentions = nn.ModuleList([_attention(in_channels, attention_head_dim, attn_groups, resnet_eps,
                                                        output_scale_factor) for _ in range(num_layers)])
        else:
            self.attentions = None
        self.resnets = nn.ModuleList([_resnet(*res) for _ in range(num_layers + 1)])
        self.gradient_checkpointing = False

    def forward(self, hidden_states, temb=None):
        hidden_states = _run_resnet(self, self.resnets[0], hidden_states, temb)
        for i, resnet in enumerate(self.resnets[1:]):
            if self.attentions is not None:
                hidden_states = self.attentions[i](hidden_states)
            hidden_states = _run_resnet(self, resnet, hidden_states, temb)
        return hidden_states


_DOWN_BLOCKS = {"DownBlock2D": DownBlock2D, "AttnDownBlock2D": AttnDownBlock2D,
                "ResnetDownsampleBlock2D": ResnetDownsampleBlock2D}
_UP_BLOCKS = {"UpBlock2D": UpBlock2D, "AttnUpBlock2D": AttnUpBlock2D, "ResnetUpsampleBlock2D": ResnetUpsampleBlock2D}


def _block_name(name, table, kind):
    if not isinstance(name, str):
        raise TypeError(f"{kind} block types must be strings, got {name!r}")
    name = name[7:] if name.startswith("UNetRes") else name
    if name not in table:
        raise ValueError(f"{name} does not exist. fastnn's UNet2DModel supports the {kind} blocks "
                         f"{', '.join(table)}")
    return name


def get_down_block(down_block_type, num_layers, in_channels, out_channels, temb_channels, add_downsample,
                   resnet_eps, resnet_act_fn, resnet_groups=None, downsample_padding=None,
                   resnet_time_scale_shift="default", resnet_skip_time_act=False, resnet_out_scale_factor=1.0,
                   attention_head_dim=None, downsample_type=None, dropout=0.0, **unused):
    """The down block ``down_block_type`` built from the UNet's arguments, as diffusers' ``get_down_block``."""
    name = _block_name(down_block_type, _DOWN_BLOCKS, "down")
    common = dict(num_layers=num_layers, in_channels=in_channels, out_channels=out_channels,
                  temb_channels=temb_channels, dropout=dropout, resnet_eps=resnet_eps, resnet_act_fn=resnet_act_fn,
                  resnet_groups=resnet_groups, resnet_time_scale_shift=resnet_time_scale_shift)
    if name == "DownBlock2D":
        return DownBlock2D(add_downsample=add_downsample, downsample_padding=downsample_padding, **common)
    if name == "ResnetDownsampleBlock2D":
        return ResnetDownsampleBlock2D(add_downsample=add_downsample, skip_time_act=resnet_skip_time_act,
                                       output_scale_factor=resnet_out_scale_factor, **common)
    downsample_type = (downsample_type or "conv") if add_downsample else None
    return AttnDownBlock2D(downsample_padding=downsample_padding, attention_head_dim=attention_head_dim,
                           downsample_type=downsample_type, **common)


def get_up_block(up_block_type, num_layers, in_channels, out_channels, prev_output_channel, temb_channels,
                 add_upsample, resnet_eps, resnet_act_fn, resolution_idx=None, resnet_groups=None,
                 resnet_time_scale_shift="default", resnet_skip_time_act=False, resnet_out_scale_factor=1.0,
                 attention_head_dim=None, upsample_type=None, dropout=0.0, **unused):
    """The up block ``up_block_type`` built from the UNet's arguments, as diffusers' ``get_up_block``."""
    name = _block_name(up_block_type, _UP_BLOCKS, "up")
    common = dict(num_layers=num_layers, in_channels=in_channels, out_channels=out_channels,
                  prev_output_channel=prev_output_channel, temb_channels=temb_channels,
                  resolution_idx=resolution_idx, dropout=dropout, resnet_eps=resnet_eps, resnet_act_fn=resnet_act_fn,
                  resnet_groups=resnet_groups, resnet_time_scale_shift=resnet_time_scale_shift)
    if name == "UpBlock2D":
        return UpBlock2D(add_upsample=add_upsample, **common)
    if name == "ResnetUpsampleBlock2D":
        return ResnetUpsampleBlock2D(add_upsample=add_upsample, skip_time_act=resnet_skip_time_act,
                                     output_scale_factor=resnet_out_scale_factor, **common)
    upsample_type = (upsample_type or "conv") if add_upsample else None
    return AttnUpBlock2D(attention_head_dim=attention_head_dim, upsample_type=upsample_type, **common)
