"""fastnn.data.transforms against references: numpy formulas, PyTorch's interpolate, PIL's equalize."""
import numpy as np
import pytest

from fastnn.random import manual_seed
from fastnn.data import transforms as T
from fastnn.data import _arrays


def rand_img(shape, dtype=np.float32, seed=0):
    rng = np.random.default_rng(seed)
    if dtype == np.uint8:
        return rng.integers(0, 256, size=shape, dtype=np.uint8)
    return rng.random(shape).astype(dtype)


ALL_TRANSFORMS = [
    lambda: T.Resize((5, 7)),
    lambda: T.Resize(6, interpolation="nearest"),
    lambda: T.RandomBrightness(0.3),
    lambda: T.RandomContrast(0.3),
    lambda: T.RandomExposure((0.7, 1.4)),
    lambda: T.ColorJitter(0.2, 0.2, 0.2),
    lambda: T.RandomEqualize(p=1.0),
    lambda: T.RandomRotation(15, interpolation="bilinear"),
    lambda: T.RandomAffine(10, translate=(0.1, 0.2), scale=(0.9, 1.1), shear=5),
    lambda: T.RandomHorizontalFlip(),
    lambda: T.RandomVerticalFlip(),
    lambda: T.GaussianBlur(3, sigma=(0.5, 1.5)),
    lambda: T.RandomCrop(6, padding=2),
    lambda: T.CenterCrop(5),
    lambda: T.Pad((1, 2)),
    lambda: T.Grayscale(),
    lambda: T.RandomApply([T.RandomRotation(5)], p=0.5),
]


@pytest.mark.parametrize("make", ALL_TRANSFORMS)
@pytest.mark.parametrize("shape", [(9, 11), (1, 9, 11), (3, 9, 11), (4, 3, 9, 11), (1, 1, 7, 7)])
@pytest.mark.parametrize("dtype", [np.uint8, np.float32, np.float64])
def test_shapes_dtypes_and_kinds_preserved(make, shape, dtype):
    t = make()
    x = rand_img(shape, dtype)
    manual_seed(0)
    out = t(x)
    assert isinstance(out, np.ndarray) and out.dtype == dtype and out.ndim == x.ndim
    # leading dims survive; spatial size changes only for resizing/cropping/padding transforms
    spatial_changes = isinstance(t, (T.Resize, T.RandomCrop, T.CenterCrop, T.Pad))
    if isinstance(t, T.Grayscale):
        assert out.shape[-2:] == x.shape[-2:]
    elif not spatial_changes:
        assert out.shape == x.shape
    if dtype != np.uint8:
        assert np.isfinite(out).all()
    xt = _arrays.wrap(x.copy())
    manual_seed(0)
    out_t = t(xt)
    assert _arrays.is_tensor(out_t)
    np.testing.assert_array_equal(out_t.numpy(), out)


def test_rotation_by_zero_is_identity():
    for dtype in (np.uint8, np.float32, np.float64):
        x = rand_img((2, 3, 13, 8), dtype)
        np.testing.assert_array_equal(T.rotate(x, 0.0), x)
        np.testing.assert_array_equal(T.rotate(x, 0.0, interpolation="nearest"), x)
        np.testing.assert_array_equal(T.RandomRotation((0, 0))(x), x)
        np.testing.assert_array_equal(T.RandomAffine(0, scale=(1, 1))(x), x)


def test_quarter_turns_match_rot90():
    x = rand_img((2, 3, 9, 9), np.float64)
    np.testing.assert_allclose(T.rotate(x, 90), np.rot90(x, 1, axes=(2, 3)), atol=1e-12)
    np.testing.assert_allclose(T.rotate(x, -90), np.rot90(x, -1, axes=(2, 3)), atol=1e-12)
    y = rand_img((3, 6, 11), np.float32)  # non-square: a half turn keeps the frame
    np.testing.assert_allclose(T.rotate(y, 180), y[:, ::-1, ::-1], atol=1e-6)


def test_integer_translation_shifts_and_fills():
    x = rand_img((2, 8, 10), np.float32) + 1.0
    out = T.affine(x, angle=0, translate=(3, -2), scale=1.0, shear=0, fill=-5.0)
    ref = np.full_like(x, -5.0)
    ref[:, :6, 3:] = x[:, 2:, :7]
    np.testing.assert_array_equal(out, ref)


def test_rotation_of_constant_image_with_same_fill_is_constant():
    x = np.full((1, 3, 12, 12), 0.25, dtype=np.float32)
    out = T.RandomRotation(20, interpolation="bilinear", fill=0.25)(x)
    np.testing.assert_allclose(out, 0.25, atol=1e-6)
    out = T.rotate(x, 33.0, fill=[0.1, 0.2, 0.3])  # per-channel fill shows at the corners
    np.testing.assert_allclose(out[0, :, 0, 0], [0.1, 0.2, 0.3], atol=1e-6)


def test_scale_about_centre_matches_resampled_coordinates():
    # a zoom by 2 about the centre maps output pixel p to input (p - c) / 2 + c
    x = rand_img((1, 1, 9, 9), np.float64)
    out = T.affine(x, angle=0, translate=(0, 0), scale=2.0, shear=0)
    c = 4.0
    for (i, j) in [(4, 4), (2, 6), (0, 0), (8, 3)]:
        sy, sx = (i - c) / 2 + c, (j - c) / 2 + c
        y0, x0 = int(np.floor(sy)), int(np.floor(sx))
        wy, wx = sy - y0, sx - x0
        ref = ((1 - wy) * (1 - wx) * x[0, 0, y0, x0] + (1 - wy) * wx * x[0, 0, y0, min(x0 + 1, 8)]
               + wy * (1 - wx) * x[0, 0, min(y0 + 1, 8), x0] + wy * wx * x[0, 0, min(y0 + 1, 8), min(x0 + 1, 8)])
        assert out[0, 0, i, j] == pytest.approx(ref, abs=1e-12)


def test_flips():
    x = rand_img((3, 2, 5, 7), np.uint8)
    np.testing.assert_array_equal(T.hflip(T.hflip(x)), x)
    np.testing.assert_array_equal(T.vflip(T.vflip(x)), x)
    np.testing.assert_array_equal(T.hflip(x), x[..., ::-1])
    np.testing.assert_array_equal(T.RandomHorizontalFlip(p=1.0)(x), x[..., ::-1])
    np.testing.assert_array_equal(T.RandomVerticalFlip(p=1.0)(x), x[:, :, ::-1])
    np.testing.assert_array_equal(T.RandomHorizontalFlip(p=0.0)(x), x)
    # per-image choice: each image is either flipped or not
    big = rand_img((64, 1, 4, 5), np.float32)
    out = T.RandomHorizontalFlip(p=0.5, generator=3)(big)
    flipped = np.array([np.array_equal(o, b[..., ::-1]) for o, b in zip(out, big)])
    same = np.array([np.array_equal(o, b) for o, b in zip(out, big)])
    assert np.all(flipped | same) and 10 < flipped.sum() < 54


def test_normalize_exact():
    x = rand_img((4, 3, 5, 6), np.float64)
    mean, std = [0.1, 0.5, 0.9], [0.2, 0.3, 0.4]
    ref = (x - np.array(mean)[:, None, None]) / np.array(std)[:, None, None]
    np.testing.assert_array_equal(T.Normalize(mean, std)(x), ref)
    np.testing.assert_array_equal(T.Normalize(mean, std)(x[1]), ref[1])
    y = x.copy()
    assert T.normalize(y, mean, std, inplace=True) is y
    np.testing.assert_array_equal(y, ref)
    x32 = x.astype(np.float32)
    assert T.Normalize(0.5, 0.25)(x32).dtype == np.float32
    with pytest.raises(TypeError, match="floating point"):
        T.Normalize(0.5, 0.5)(rand_img((3, 4, 4), np.uint8))
    with pytest.raises(ValueError, match="std"):
        T.Normalize([0, 0, 0], [1, 0, 1])(x)
    with pytest.raises(ValueError, match="mean"):
        T.Normalize([0, 0], [1, 1, 1])(x)


def test_to_tensor():
    hwc = rand_img((5, 6, 3), np.uint8)
    t = T.ToTensor()(hwc)
    assert _arrays.is_tensor(t) and tuple(t.shape) == (3, 5, 6)
    np.testing.assert_allclose(t.numpy(), hwc.transpose(2, 0, 1) / 255.0, rtol=1e-6)
    assert tuple(T.to_tensor(rand_img((5, 6), np.uint8)).shape) == (1, 5, 6)


@pytest.mark.parametrize("in_hw,out_hw", [((8, 8), (4, 4)), ((7, 13), (11, 5)), ((1, 5), (3, 3)),
                                          ((28, 28), (14, 14)), ((5, 3), (17, 2)), ((6, 6), (6, 6)),
                                          ((9, 4), (1, 1))])
def test_resize_matches_torch_interpolate(in_hw, out_hw):
    torch = pytest.importorskip("torch")
    x = rand_img((2, 3) + in_hw, np.float64, seed=sum(in_hw))
    ref = torch.nn.functional.interpolate(torch.from_numpy(x), size=out_hw, mode="bilinear",
                                          align_corners=False).numpy()
    np.testing.assert_allclose(T.Resize(out_hw)(x), ref, atol=1e-12)
    ref_n = torch.nn.functional.interpolate(torch.from_numpy(x), size=out_hw, mode="nearest").numpy()
    np.testing.assert_array_equal(T.Resize(out_hw, interpolation="nearest")(x), ref_n)
    x32 = x.astype(np.float32)
    np.testing.assert_allclose(T.resize(x32, out_hw), ref, atol=1e-5)


def test_resize_int_keeps_aspect_ratio_and_uint8_rounds():
    x = rand_img((3, 10, 20), np.uint8)
    assert T.Resize(5)(x).shape == (3, 5, 10)
    assert T.Resize(5)(x.transpose(0, 2, 1)).shape == (3, 10, 5)
    up = T.Resize((20, 40))(x)
    ref = np.clip(np.rint(T.Resize((20, 40))(x.astype(np.float64))), 0, 255)
    np.testing.assert_array_equal(up, ref)


def numpy_blur_reference(x, kx, ky, sx, sy):
    """Direct 2-D convolution with the outer product kernel and reflect padding."""
    def k1(k, s):
        t = np.linspace(-(k - 1) / 2, (k - 1) / 2, k)
        p = np.exp(-0.5 * (t / s) ** 2)
        return p / p.sum()
    k2 = np.outer(k1(ky, sy), k1(kx, sx))
    p = np.pad(x, ((0, 0), (ky // 2, ky // 2), (kx // 2, kx // 2)), mode="reflect")
    h, w = x.shape[1:]
    out = np.zeros_like(x)
    for i in range(ky):
        for j in range(kx):
            out += k2[i, j] * p[:, i:i + h, j:j + w]
    return out


@pytest.mark.parametrize("shape,k,sigma", [((1, 9, 9), 3, 1.0), ((3, 7, 11), (5, 3), (1.5, 0.7)),
                                           ((2, 13, 6), 5, 2.0), ((1, 4, 4), 3, 0.3)])
def test_gaussian_blur_matches_direct_convolution(shape, k, sigma):
    x = rand_img(shape, np.float64)
    kx, ky = (k, k) if isinstance(k, int) else k
    sx, sy = (sigma, sigma) if isinstance(sigma, float) else sigma
    np.testing.assert_allclose(T.gaussian_blur(x, k, sigma), numpy_blur_reference(x, kx, ky, sx, sy), atol=1e-12)
    # the transform with a fixed sigma is the same operation
    if isinstance(sigma, float):
        np.testing.assert_allclose(T.GaussianBlur(k, sigma)(x), numpy_blur_reference(x, kx, ky, sx, sy), atol=1e-12)


def test_gaussian_blur_per_image_sigma_equals_per_image_calls():
    x = rand_img((4, 2, 8, 9), np.float32)
    sig = np.array([0.3, 0.8, 1.2, 2.5])
    batch = T.gaussian_blur(x, 5, sig)
    for i in range(4):
        np.testing.assert_allclose(batch[i], T.gaussian_blur(x[i], 5, float(sig[i])), atol=1e-6)


def test_batch_equals_per_image_for_functional_ops():
    x = rand_img((3, 3, 10, 12), np.float32)
    angles = np.array([-10.0, 3.0, 25.0])
    factors = np.array([0.5, 1.0, 1.7])
    for fn, arg in ((T.rotate, angles), (T.adjust_brightness, factors), (T.adjust_contrast, factors),
                    (T.adjust_saturation, factors), (T.adjust_gamma, factors)):
        batch = fn(x, arg)
        for i in range(3):
            np.testing.assert_allclose(batch[i], fn(x[i], float(arg[i])), atol=1e-6, err_msg=fn.__name__)
    for fn in (T.equalize, T.rgb_to_grayscale, lambda im: T.resize(im, (5, 7)), T.hflip,
               lambda im: T.center_crop(im, 6)):
        batch = fn(x)
        for i in range(3):
            np.testing.assert_array_equal(batch[i], fn(x[i]))


def test_photometric_formulas():
    x = rand_img((2, 3, 6, 7), np.float64)
    np.testing.assert_array_equal(T.adjust_brightness(x, 1.0), x)
    np.testing.assert_array_equal(T.adjust_brightness(x, 0.0), np.zeros_like(x))
    np.testing.assert_allclose(T.adjust_brightness(x, 1.5), np.clip(1.5 * x, 0, 1))
    gray = 0.2989 * x[:, 0] + 0.587 * x[:, 1] + 0.114 * x[:, 2]
    np.testing.assert_allclose(T.rgb_to_grayscale(x)[:, 0], gray)
    m = gray.mean(axis=(1, 2))[:, None, None, None]
    np.testing.assert_allclose(T.adjust_contrast(x, 0.0), np.broadcast_to(m, x.shape))
    np.testing.assert_allclose(T.adjust_contrast(x, 1.8), np.clip(1.8 * x - 0.8 * m, 0, 1))
    np.testing.assert_allclose(T.adjust_gamma(x, 0.5), np.sqrt(x))
    np.testing.assert_allclose(T.adjust_exposure(x, 2.0, gain=0.5), 0.5 * x ** 2)
    np.testing.assert_array_equal(T.adjust_saturation(x, 1.0), x)
    u = rand_img((3, 6, 7), np.uint8)
    np.testing.assert_array_equal(T.adjust_gamma(u, 1.0), u)
    np.testing.assert_array_equal(T.adjust_brightness(u, 2.0), np.clip(2 * u.astype(int), 0, 255))


@pytest.mark.parametrize("shape", [(1, 16, 16), (3, 9, 13), (2, 1, 5, 5)])
def test_equalize_matches_pil(shape):
    Image = pytest.importorskip("PIL.Image")
    ImageOps = pytest.importorskip("PIL.ImageOps")
    rng = np.random.default_rng(1)
    x = (rng.beta(2, 5, size=shape) * 200).astype(np.uint8)  # a skewed histogram
    out = T.equalize(x)
    imgs = x.reshape((-1,) + x.shape[-3:])
    outs = out.reshape(imgs.shape)
    for im, o in zip(imgs, outs):
        pil = Image.fromarray(im[0]) if im.shape[0] == 1 else Image.fromarray(im.transpose(1, 2, 0))
        ref = np.asarray(ImageOps.equalize(pil))
        ref = ref[None] if ref.ndim == 2 else ref.transpose(2, 0, 1)
        np.testing.assert_array_equal(o, ref)
    # float images are equalised on 256 levels
    f = T.equalize(x.astype(np.float32) / 255)
    np.testing.assert_allclose(f, out / 255.0, atol=1e-6)
    flat = np.full((1, 4, 4), 7, dtype=np.uint8)
    np.testing.assert_array_equal(T.equalize(flat), flat)


def test_center_and_random_crop():
    x = rand_img((2, 1, 7, 9), np.uint8)
    np.testing.assert_array_equal(T.CenterCrop((3, 5))(x), x[:, :, 2:5, 2:7])
    big = T.CenterCrop(11)(x)  # larger than the image: zero padded
    assert big.shape == (2, 1, 11, 11) and big[:, :, 0].sum() == 0
    padded = np.pad(x, ((0, 0), (0, 0), (2, 2), (2, 2)))
    out = T.RandomCrop((5, 6), padding=2, generator=0)(x)
    for o, p in zip(out, padded):
        found = any(np.array_equal(o, p[:, i:i + 5, j:j + 6]) for i in range(7) for j in range(8))
        assert found
    assert T.RandomCrop(10, pad_if_needed=True)(x).shape == (2, 1, 10, 10)
    with pytest.raises(ValueError, match="size"):
        T.RandomCrop(10)(x)
    e = T.RandomCrop(9, padding=1, padding_mode="edge", generator=0)(x[0])
    assert e.shape == (1, 9, 9)


def test_seeded_reproducibility():
    x = rand_img((8, 1, 12, 12), np.float32)
    aug = T.Compose([T.RandomAffine(10, translate=(0.1, 0.1), scale=(0.9, 1.1)), T.RandomHorizontalFlip(),
                     T.GaussianBlur(3), T.RandomBrightness(0.2), T.RandomCrop(12, padding=2)])
    manual_seed(123)
    a = aug(x)
    manual_seed(123)
    b = aug(x)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, aug(x))  # the generator moved on
    c1 = T.RandomRotation(20, generator=7)(x)
    c2 = T.RandomRotation(20, generator=7)(x)
    np.testing.assert_array_equal(c1, c2)
    g = np.random.default_rng(5)
    d1 = T.RandomRotation(20, generator=g)(x)
    d2 = T.RandomRotation(20, generator=np.random.default_rng(5))(x)
    np.testing.assert_array_equal(d1, d2)
    # per-image parameters: two identical images in one batch are augmented differently
    same = np.repeat(x[:1], 2, axis=0)
    r = T.RandomRotation(30, generator=1)(same)
    assert not np.array_equal(r[0], r[1])


def test_bad_inputs_name_the_argument():
    with pytest.raises(ValueError, match=r"'img'.*\(2, 2, 2, 2, 2\)"):
        T.RandomRotation(5)(np.zeros((2, 2, 2, 2, 2), np.float32))
    with pytest.raises(ValueError, match="'img'"):
        T.hflip(np.zeros(5))
    with pytest.raises(TypeError, match="'img'"):
        T.RandomRotation(5)([[0.0, 1.0], [1.0, 0.0]])
    with pytest.raises(TypeError, match="uint8 or floating point.*int32"):
        T.GaussianBlur(3)(np.zeros((4, 4), np.int32))
    with pytest.raises(TypeError, match="numbers"):
        T.hflip(np.array([["a", "b"], ["c", "d"]]))
    with pytest.raises(ValueError, match="kernel_size"):
        T.GaussianBlur(4)
    with pytest.raises(ValueError, match="'p'"):
        T.RandomHorizontalFlip(p=1.5)
    with pytest.raises(ValueError, match="degrees"):
        T.RandomRotation((10, -10))
    with pytest.raises(ValueError, match="translate"):
        T.RandomAffine(0, translate=(2, 0))
    with pytest.raises(ValueError, match="interpolation"):
        T.Resize(4, interpolation="bicubic")
    with pytest.raises(ValueError, match="channels"):
        T.Grayscale()(np.zeros((2, 4, 4), np.float32))
    with pytest.raises(ValueError, match="fill"):
        T.rotate(np.zeros((3, 4, 4), np.float32), 10, fill=[0, 1])
    with pytest.raises(ValueError, match="brightness_factor"):
        T.adjust_brightness(np.zeros((3, 4, 4), np.float32), -1)
    with pytest.raises(ValueError, match="one value per image"):
        T.adjust_brightness(np.zeros((3, 1, 4, 4), np.float32), [1.0, 2.0])
    with pytest.raises(TypeError, match="not callable"):
        T.Compose([T.hflip, 3])


@pytest.mark.parametrize("make", ALL_TRANSFORMS)
def test_non_contiguous_and_edge_sizes(make):
    t = make()
    base = rand_img((3, 3, 14, 22), np.float32)
    view = base[:, :, ::2, ::-2]  # strided and reversed: (3, 3, 7, 11)
    manual_seed(5)
    a = t(view)
    manual_seed(5)
    b = t(np.ascontiguousarray(view))
    np.testing.assert_array_equal(a, b)
    if isinstance(t, (T.RandomCrop, T.CenterCrop)):
        return
    tiny = rand_img((2, 3, 1, 1), np.float32)  # 1x1 images
    assert t(tiny).shape[:2] == (2, 1 if isinstance(t, T.Grayscale) else 3)
    empty = np.zeros((0, 3, 5, 5), np.float32)  # an empty batch stays empty
    assert t(empty).shape[0] == 0
