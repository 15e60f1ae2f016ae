"""fastnn.models.UNet2DModel against diffusers' UNet2DModel: the same parameter names (a diffusers state dict loads),
the same outputs and gradients for the configurations the examples use and the options users set (class
conditioning, Fourier / learned time embeddings, scale-shift conditioning, resnet up/down-sampling, ...), every
form of the timestep argument, the configuration object, save/load, and clear errors for bad input."""
import json

import numpy as np
import pytest

import fastnn
from fastnn.models import UNet2DModel, UNet2DOutput

DIGITS = dict(sample_size=8, in_channels=1, out_channels=1, block_out_channels=(32, 64), layers_per_block=1,
              down_block_types=("DownBlock2D", "AttnDownBlock2D"), up_block_types=("AttnUpBlock2D", "UpBlock2D"),
              norm_num_groups=8)
MNIST = dict(sample_size=28, in_channels=1, out_channels=1, block_out_channels=(32, 64, 64), layers_per_block=1,
             down_block_types=("DownBlock2D", "DownBlock2D", "AttnDownBlock2D"),
             up_block_types=("AttnUpBlock2D", "UpBlock2D", "UpBlock2D"), norm_num_groups=8)
TINY = dict(sample_size=4, in_channels=2, out_channels=3, block_out_channels=(8, 8), layers_per_block=1,
            down_block_types=("DownBlock2D", "AttnDownBlock2D"), up_block_types=("AttnUpBlock2D", "UpBlock2D"),
            norm_num_groups=2, attention_head_dim=4)

CASES = {
    "digits": (DIGITS, {}),
    "28x28 three levels": (MNIST, {}),
    "class labels (Embedding)": (dict(DIGITS, num_class_embeds=10), {"labels": "int"}),
    # float32 only: diffusers feeds the float32 sinusoid of the labels to the class MLP without a cast
    "class_embed_type timestep": (dict(DIGITS, class_embed_type="timestep"), {"labels": "int", "dtype": np.float32}),
    "class_embed_type identity": (dict(DIGITS, class_embed_type="identity"), {"labels": "emb"}),
    "fourier time embedding": (dict(DIGITS, time_embedding_type="fourier"), {"t": "sigma"}),
    "learned time embedding": (dict(DIGITS, time_embedding_type="learned", num_train_timesteps=1000), {}),
    "scale_shift": (dict(DIGITS, resnet_time_scale_shift="scale_shift"), {}),
    "resnet up/down sampling": (dict(DIGITS, down_block_types=("AttnDownBlock2D", "AttnDownBlock2D"),
                                     up_block_types=("AttnUpBlock2D", "AttnUpBlock2D"), downsample_type="resnet",
                                     upsample_type="resnet"), {}),
    "ResnetDownsample/Upsample blocks": (dict(DIGITS, down_block_types=("ResnetDownsampleBlock2D", "AttnDownBlock2D"),
                                              up_block_types=("AttnUpBlock2D", "ResnetUpsampleBlock2D")), {}),
    "two layers, heads of 16, no flip, shift 1": (dict(DIGITS, layers_per_block=2, attention_head_dim=16,
                                                       flip_sin_to_cos=False, freq_shift=1, mid_block_scale_factor=2,
                                                       downsample_padding=0, norm_eps=1e-6, act_fn="mish"), {}),
    "single head, no mid attention, centered, rgb": (dict(DIGITS, in_channels=3, out_channels=3,
                                                          attention_head_dim=None, add_attention=False,
                                                          center_input_sample=True, time_embedding_dim=96), {}),
    "no mid block, attn groups": (dict(DIGITS, mid_block_type=None, attn_norm_num_groups=4), {}),
    "non-square 8x16": (dict(DIGITS, sample_size=(8, 16)), {}),
}


def _pair(diffusers, torch, config, dtype=np.float64):
    torch.manual_seed(0)
    ref = diffusers.UNet2DModel(**config)
    ours = UNet2DModel(**config)
    ours.load_state_dict({k: v.detach().numpy() for k, v in ref.state_dict().items()})
    if dtype == np.float64:
        ref, ours = ref.double(), ours.double()
    return ref.eval(), ours.eval()


def _inputs(config, extra, n, dtype, rng):
    size = config["sample_size"]
    h, w = (size, size) if isinstance(size, int) else size
    x = rng.standard_normal((n, config.get("in_channels", 3), h, w)).astype(dtype)
    if extra.get("t") == "sigma":
        t = rng.uniform(0.05, 50.0, n).astype(np.float32)
    else:
        t = rng.integers(0, 1000, n).astype(np.int64)
    labels = None
    if extra.get("labels") == "int":
        labels = rng.integers(0, 10, n).astype(np.int64)
    elif extra.get("labels") == "emb":
        dim = config.get("time_embedding_dim") or 4 * config["block_out_channels"][0]
        labels = rng.standard_normal((n, dim)).astype(dtype)
    return x, t, labels


def _run_both(ref, ours, torch, x, t, labels):
    kw_t = {} if labels is None else {"class_labels": torch.from_numpy(labels)}
    kw_f = {} if labels is None else {"class_labels": fastnn.from_numpy(labels)}
    want = ref(torch.from_numpy(x), torch.from_numpy(t), **kw_t).sample.detach().numpy()
    got = ours(fastnn.from_numpy(x), fastnn.from_numpy(t), **kw_f).sample.detach().numpy()
    return got, want


def _rel(got, want):
    return float(np.abs(got - want).max() / max(np.abs(want).max(), 1e-30))


@pytest.mark.parametrize("case", list(CASES))
def test_state_dict_names_and_outputs_equal_diffusers(diffusers, torch, case, rng):
    config, extra = CASES[case]
    dtype = extra.get("dtype", np.float64)
    ref, ours = _pair(diffusers, torch, config, dtype)
    assert list(ours.state_dict()) == list(ref.state_dict())
    for k, v in ref.state_dict().items():
        assert tuple(ours.state_dict()[k].shape) == tuple(v.shape), k
    assert ours.num_parameters() == ref.num_parameters()
    x, t, labels = _inputs(config, extra, 3, dtype, rng)
    got, want = _run_both(ref, ours, torch, x, t, labels)
    assert got.shape == want.shape and got.dtype == dtype
    # the time sinusoid is float32 in both libraries (a last-bit difference in sin/exp is all that remains)
    assert _rel(got, want) < (1e-5 if dtype == np.float64 else 1e-4), case


@pytest.mark.parametrize("config", [DIGITS, MNIST], ids=["digits", "28x28"])
def test_float32_outputs_equal_diffusers(diffusers, torch, config, rng):
    ref, ours = _pair(diffusers, torch, config, np.float32)
    x, t, _ = _inputs(config, {}, 2, np.float32, rng)
    got, want = _run_both(ref, ours, torch, x, t, None)
    assert got.dtype == np.float32
    assert _rel(got, want) < 1e-4


def test_gradients_of_input_and_parameters_equal_torch(diffusers, torch, rng):
    config = dict(DIGITS, num_class_embeds=4, resnet_time_scale_shift="scale_shift")
    ref, ours = _pair(diffusers, torch, config, np.float64)
    ref.train(), ours.train()
    x = rng.standard_normal((3, 1, 8, 8))
    target = rng.standard_normal((3, 1, 8, 8))
    t = np.array([1, 40, 999])
    y = np.array([0, 3, 1])
    xt = torch.from_numpy(x).requires_grad_()
    loss_t = torch.nn.functional.mse_loss(ref(xt, torch.from_numpy(t), class_labels=torch.from_numpy(y)).sample,
                                          torch.from_numpy(target))
    loss_t.backward()
    xf = fastnn.from_numpy(x).requires_grad_()
    loss_f = fastnn.nn.functional.mse_loss(ours(xf, fastnn.from_numpy(t), class_labels=fastnn.from_numpy(y)).sample,
                                           fastnn.from_numpy(target))
    loss_f.backward()
    assert abs(loss_f.item() - loss_t.item()) < 1e-6 * abs(loss_t.item())
    assert _rel(xf.grad.numpy(), xt.grad.numpy()) < 1e-5
    ref_params = dict(ref.named_parameters())
    scale = max(float(p.grad.abs().max()) for p in ref_params.values())
    for name, p in ours.named_parameters():
        want = ref_params[name].grad.numpy()
        assert p.grad is not None, name
        # relative to the largest gradient: some (the key biases) are exactly 0 up to rounding in both
        assert np.abs(p.grad.numpy() - want).max() <= 1e-5 * max(np.abs(want).max(), 1e-3 * scale), name


def test_gradient_checkpointing_gives_the_same_gradients(rng):
    model = UNet2DModel(**dict(DIGITS, num_class_embeds=3)).double()
    x = fastnn.from_numpy(rng.standard_normal((2, 1, 8, 8)))
    t, y = fastnn.tensor([5, 700]), fastnn.tensor([2, 0])
    grads = []
    for on in (False, True):
        (model.enable_gradient_checkpointing if on else model.disable_gradient_checkpointing)()
        assert model.is_gradient_checkpointing == on
        model.zero_grad()
        (model(x, t, class_labels=y).sample ** 2).mean().backward()
        grads.append({k: p.grad.numpy().copy() for k, p in model.named_parameters()})
    for k in grads[0]:
        np.testing.assert_allclose(grads[1][k], grads[0][k], rtol=1e-10, atol=1e-12, err_msg=k)


def test_gradcheck_through_the_whole_network():
    fastnn.manual_seed(0)
    model = UNet2DModel(**TINY).double()
    x = fastnn.randn(1, 2, 4, 4, dtype=fastnn.float64, requires_grad=True)
    assert fastnn.autograd.gradcheck(lambda s: model(s, 17).sample, (x,), eps=1e-6, atol=1e-5, rtol=1e-4)


def test_every_form_of_timestep(diffusers, torch, rng):
    ref, ours = _pair(diffusers, torch, DIGITS, np.float64)
    x = rng.standard_normal((2, 1, 8, 8))
    forms = [(7, 7), (7.9, 7.9), (torch.tensor(7), fastnn.tensor(7)), (torch.tensor([7]), fastnn.tensor([7])),
             (torch.tensor([3, 900]), fastnn.tensor([3, 900])),
             (torch.tensor([3.5, 900.25]), fastnn.tensor([3.5, 900.25])), (np.int64(7), np.int64(7))]
    for t_ref, t_ours in forms:
        want = ref(torch.from_numpy(x), t_ref).sample.detach().numpy()
        got = ours(fastnn.from_numpy(x), t_ours).sample.detach().numpy()
        assert _rel(got, want) < 1e-5, t_ref


def test_non_contiguous_sample_and_output_forms(rng):
    model = UNet2DModel(**DIGITS).eval()
    base = rng.standard_normal((2, 1, 8, 8)).astype(np.float32)
    x = fastnn.from_numpy(base)
    xt = fastnn.from_numpy(np.ascontiguousarray(base.transpose(0, 1, 3, 2))).transpose(2, 3)
    assert not xt.is_contiguous()
    with fastnn.no_grad():
        out = model(x, 5)
        got = model(xt, 5)
    np.testing.assert_allclose(got.sample.numpy(), out.sample.numpy(), rtol=1e-6, atol=1e-6)
    assert isinstance(out, UNet2DOutput)
    assert out[0] is out.sample and out["sample"] is out.sample and out.to_tuple() == (out.sample,)
    tup = model(x, 5, return_dict=False)
    assert isinstance(tup, tuple) and len(tup) == 1
    np.testing.assert_array_equal(tup[0].detach().numpy(), out.sample.numpy())


def test_batch_sizes_and_train_mode_with_dropout(rng):
    model = UNet2DModel(**dict(DIGITS, dropout=0.1))
    for n in (1, 5):
        out = model(fastnn.randn(n, 1, 8, 8), fastnn.tensor([10] * n)).sample
        assert tuple(out.shape) == (n, 1, 8, 8)
    model.eval()
    x = fastnn.randn(2, 1, 8, 8)
    with fastnn.no_grad():
        a, b = model(x, 3).sample.numpy(), model(x, 3).sample.numpy()
    np.testing.assert_array_equal(a, b)


def test_config_attribute_and_key_access_and_read_only():
    model = UNet2DModel(**DIGITS)
    cfg = model.config
    assert cfg.sample_size == 8 and cfg["in_channels"] == 1 and cfg.block_out_channels == (32, 64)
    assert cfg.layers_per_block == 1 and cfg.norm_num_groups == 8 and cfg.time_embedding_type == "positional"
    assert cfg.attention_head_dim == 8 and cfg.num_class_embeds is None
    with pytest.raises(TypeError):
        cfg["sample_size"] = 16
    with pytest.raises(TypeError):
        cfg.sample_size = 16
    with pytest.raises(AttributeError):
        cfg.no_such_key
    assert model.dtype == np.float32 and model.device == "cpu"


def test_arguments_defaults_and_config_keys_are_diffusers(diffusers):
    import inspect
    theirs = inspect.signature(diffusers.UNet2DModel.__init__).parameters
    ours = inspect.signature(UNet2DModel.__init__).parameters
    assert list(ours) == list(theirs)
    for name, p in theirs.items():
        assert ours[name].default == p.default, name
    ref_config = {k for k in diffusers.UNet2DModel(**DIGITS).config if not k.startswith("_")}
    assert {k for k in UNet2DModel(**DIGITS).config if not k.startswith("_")} == ref_config


def test_save_pretrained_and_from_pretrained(tmp_path, rng, diffusers):
    fastnn.manual_seed(3)
    model = UNet2DModel(**dict(DIGITS, num_class_embeds=10)).eval()
    folder = tmp_path / "unet"
    model.save_pretrained(folder)
    with open(folder / "config.json") as fh:
        data = json.load(fh)
    assert data["_class_name"] == "UNet2DModel" and data["block_out_channels"] == [32, 64]
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "diffusion_fastnn_model.fnn"]
    loaded = UNet2DModel.from_pretrained(folder)
    assert loaded.config.block_out_channels == [32, 64] and loaded.config.num_class_embeds == 10
    x = fastnn.from_numpy(rng.standard_normal((2, 1, 8, 8)).astype(np.float32))
    y = fastnn.tensor([1, 9])
    with fastnn.no_grad():
        np.testing.assert_array_equal(loaded(x, 4, class_labels=y).sample.numpy(),
                                      model(x, 4, class_labels=y).sample.numpy())
    # diffusers reads the configuration and builds the same network
    ref = diffusers.UNet2DModel.from_config(diffusers.UNet2DModel.load_config(str(folder)))
    assert list(ref.state_dict()) == list(loaded.state_dict())
    # keyword arguments override the saved configuration (here, a harmless one)
    assert UNet2DModel.from_pretrained(folder, dropout=0.5).config.dropout == 0.5
    assert UNet2DModel.from_pretrained(folder, torch_dtype=fastnn.float64).dtype == np.float64
    with pytest.raises(EnvironmentError):
        UNet2DModel.from_pretrained(tmp_path / "missing")
    other = UNet2DModel.from_config(model.config)
    assert list(other.state_dict()) == list(model.state_dict())


def test_from_pretrained_reads_a_folder_diffusers_saved(tmp_path, diffusers, torch, rng):
    torch.manual_seed(1)
    ref = diffusers.UNet2DModel(**dict(DIGITS, num_class_embeds=3)).eval()
    ref.save_pretrained(str(tmp_path / "d"))
    ours = UNet2DModel.from_pretrained(tmp_path / "d")
    x = rng.standard_normal((2, 1, 8, 8)).astype(np.float32)
    y = np.array([2, 0])
    want = ref(torch.from_numpy(x), 9, class_labels=torch.from_numpy(y)).sample.detach().numpy()
    with fastnn.no_grad():
        got = ours(fastnn.from_numpy(x), 9, class_labels=fastnn.from_numpy(y)).sample.numpy()
    assert _rel(got, want) < 1e-4
    # half-precision files widen exactly
    ref.half().save_pretrained(str(tmp_path / "h"))
    half = UNet2DModel.from_pretrained(tmp_path / "h")
    np.testing.assert_array_equal(half.conv_in.weight.detach().numpy().astype(np.float16),
                                  ref.conv_in.weight.detach().numpy())
    ref.to(torch.bfloat16).save_pretrained(str(tmp_path / "b"))
    bf = UNet2DModel.from_pretrained(tmp_path / "b")
    np.testing.assert_array_equal(bf.conv_in.weight.detach().numpy(), ref.conv_in.weight.float().detach().numpy())


def test_bad_input_raises_naming_the_argument():
    model = UNet2DModel(**DIGITS)
    with pytest.raises(ValueError, match="sample.*in_channels=1"):
        model(fastnn.randn(2, 3, 8, 8), 1)
    with pytest.raises(ValueError, match="sample"):
        model(fastnn.randn(1, 8, 8), 1)
    with pytest.raises(ValueError, match="multiples of .* = 2"):
        model(fastnn.randn(1, 1, 9, 8), 1)
    with pytest.raises(ValueError, match="timestep"):
        model(fastnn.randn(2, 1, 8, 8), fastnn.tensor([1, 2, 3]))
    with pytest.raises(TypeError, match="timestep"):
        model(fastnn.randn(2, 1, 8, 8), "1")
    with pytest.raises(TypeError, match="sample"):
        model(np.zeros((2, 1, 8, 8), np.float32), 1)
    with pytest.raises(ValueError, match="class_embedding needs to be initialized"):
        model(fastnn.randn(2, 1, 8, 8), 1, class_labels=fastnn.tensor([0, 1]))
    cond = UNet2DModel(**dict(DIGITS, num_class_embeds=3))
    with pytest.raises(ValueError, match="class_labels should be provided"):
        cond(fastnn.randn(2, 1, 8, 8), 1)
    with pytest.raises(ValueError, match="class_labels"):
        cond(fastnn.randn(2, 1, 8, 8), 1, class_labels=fastnn.tensor([0, 3]))
    with pytest.raises(ValueError, match="class_labels"):
        cond(fastnn.randn(2, 1, 8, 8), 1, class_labels=fastnn.tensor([0]))


def test_bad_configuration_raises_like_diffusers():
    with pytest.raises(ValueError, match="same number of `down_block_types` as `up_block_types`"):
        UNet2DModel(**dict(DIGITS, up_block_types=("UpBlock2D",)))
    with pytest.raises(ValueError, match="same number of `block_out_channels`"):
        UNet2DModel(**dict(DIGITS, block_out_channels=(32, 64, 64)))
    with pytest.raises(ValueError, match="CrossAttnDownBlock2D"):
        UNet2DModel(**dict(DIGITS, down_block_types=("DownBlock2D", "CrossAttnDownBlock2D")))
    with pytest.raises(ValueError, match="NoSuchBlock does not exist"):
        UNet2DModel(**dict(DIGITS, up_block_types=("NoSuchBlock", "UpBlock2D")))
    with pytest.raises(ValueError, match="divisible by norm_num_groups"):
        UNet2DModel(**dict(DIGITS, block_out_channels=(30, 64)))
    with pytest.raises(ValueError, match="time_embedding_type|does not exist"):
        UNet2DModel(**dict(DIGITS, time_embedding_type="rotary"))
    with pytest.raises(ValueError, match="activation function"):
        UNet2DModel(**dict(DIGITS, act_fn="softsign"))
    with pytest.raises(ValueError, match="resnet_time_scale_shift"):
        UNet2DModel(**dict(DIGITS, resnet_time_scale_shift="spatial"))


def test_exported_names():
    import fastnn.models as models
    assert models.UNet2DModel is UNet2DModel and models.UNet2DOutput is UNet2DOutput


@pytest.mark.parametrize("shape", [(2, 5, 3, 16), (3, 7, 16)], ids=["feature map", "sequence"])
def test_attention_block_equals_diffusers(diffusers, torch, shape, rng):
    from diffusers.models.attention_processor import Attention as Ref

    from fastnn.models.unet_blocks import Attention
    torch.manual_seed(0)
    kw = dict(heads=2, dim_head=8, rescale_output_factor=2.0, eps=1e-6, norm_num_groups=4, residual_connection=True,
              bias=True, upcast_softmax=True, _from_deprecated_attn_block=True)
    ref = Ref(16, **kw).double()
    ours = Attention(16, **kw).double()
    ours.load_state_dict({k: v.detach().numpy() for k, v in ref.state_dict().items()})
    x = rng.standard_normal(shape)
    if len(shape) == 4:
        x = np.ascontiguousarray(x.transpose(0, 3, 1, 2))  # (N, H, W, 16) -> (N, 16, H, W)
    xt = torch.from_numpy(x).requires_grad_()
    xf = fastnn.from_numpy(x).requires_grad_()
    want, got = ref(xt), ours(xf)
    assert _rel(got.detach().numpy(), want.detach().numpy()) < 1e-12
    (want ** 2).sum().backward()
    (got ** 2).sum().backward()
    assert _rel(xf.grad.numpy(), xt.grad.numpy()) < 1e-12


def test_norm_then_silu_fused_unless_hooks_ask_for_the_modules(rng):
    # the resnets' GroupNorm -> SiLU run as one fused pass; a hook on either module makes both run as modules
    # (the hook sees the normalised tensor), with the same output
    fastnn.manual_seed(3)
    unet = UNet2DModel(sample_size=8, in_channels=1, out_channels=1, block_out_channels=(16, 32),
                       layers_per_block=1, norm_num_groups=4, down_block_types=("DownBlock2D", "DownBlock2D"),
                       up_block_types=("UpBlock2D", "UpBlock2D"))
    x = fastnn.tensor(rng.standard_normal((2, 1, 8, 8)).astype(np.float32))
    t = fastnn.tensor([3, 700])
    plain = unet(x, t).sample.detach().numpy()
    seen = []
    resnet = unet.down_blocks[0].resnets[0]
    handle = resnet.norm1.register_forward_hook(lambda m, inp, out: seen.append(tuple(out.shape)))
    hooked = unet(x, t).sample.detach().numpy()
    handle.remove()
    assert seen == [(2, 16, 8, 8)]
    assert np.array_equal(plain, hooked)
    from fastnn.models.unet_blocks import norm_act
    h = fastnn.tensor(rng.standard_normal((2, 16, 4, 4)).astype(np.float32), requires_grad=True)
    fused = norm_act(resnet.norm1, resnet.nonlinearity, h)
    assert fused.grad_fn.name() == "_GroupNormBackward0"      # one node: no separate SiLU
    assert np.array_equal(fused.detach().numpy(), resnet.nonlinearity(resnet.norm1(h)).detach().numpy())
