"""utils.make_grid / save_image against torchvision's formulas (torchvision itself when installed,
else its code re-written on PyTorch below), and the PNG encoder read back by independent decoders."""
import io
import math
import os
import struct
import zlib

import numpy as np
import pytest

import fastnn
from fastnn.utils import make_grid, save_image
from fastnn.utils.image import encode_png


def _torchvision_make_grid(torch):
    try:
        import torchvision
        return torchvision.utils.make_grid
    except ImportError:
        pass

    def make_grid_ref(tensor, nrow=8, padding=2, normalize=False, value_range=None, scale_each=False, pad_value=0.0):
        # torchvision 0.28's torchvision/utils.py make_grid, line for line
        if isinstance(tensor, list):
            tensor = torch.stack(tensor, dim=0)
        if tensor.dim() == 2:
            tensor = tensor.unsqueeze(0)
        if tensor.dim() == 3:
            if tensor.size(0) == 1:
                tensor = torch.cat((tensor, tensor, tensor), 0)
            tensor = tensor.unsqueeze(0)
        if tensor.dim() == 4 and tensor.size(1) == 1:
            tensor = torch.cat((tensor, tensor, tensor), 1)
        if normalize is True:
            tensor = tensor.clone()

            def norm_ip(img, low, high):
                img.clamp_(min=low, max=high)
                img.sub_(low).div_(max(high - low, 1e-5))

            def norm_range(t, value_range):
                if value_range is not None:
                    norm_ip(t, value_range[0], value_range[1])
                else:
                    norm_ip(t, float(t.min()), float(t.max()))

            if scale_each is True:
                for t in tensor:
                    norm_range(t, value_range)
            else:
                norm_range(tensor, value_range)
        if tensor.size(0) == 1:
            return tensor.squeeze(0)
        nmaps = tensor.size(0)
        xmaps = min(nrow, nmaps)
        ymaps = int(math.ceil(float(nmaps) / xmaps))
        height, width = int(tensor.size(2) + padding), int(tensor.size(3) + padding)
        num_channels = tensor.size(1)
        grid = tensor.new_full((num_channels, height * ymaps + padding, width * xmaps + padding), pad_value)
        k = 0
        for y in range(ymaps):
            for x in range(xmaps):
                if k >= nmaps:
                    break
                grid.narrow(1, y * height + padding, height - padding).narrow(
                    2, x * width + padding, width - padding).copy_(tensor[k])
                k = k + 1
        return grid
    return make_grid_ref


def _torch_bytes(torch, grid):
    return grid.mul(255).add_(0.5).clamp_(0, 255).permute(1, 2, 0).to("cpu", torch.uint8).numpy()


def _decode_png(data):
    """A minimal PNG reader (8-bit, non-interlaced, every filter type) independent of the encoder."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, ihdr = 8, b"", None
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])
        assert crc == zlib.crc32(kind + body) & 0xFFFFFFFF
        if kind == b"IHDR":
            ihdr = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    w, h, depth, ctype, _, _, interlace = ihdr
    assert depth == 8 and interlace == 0
    c = {0: 1, 4: 2, 2: 3, 6: 4}[ctype]
    raw = np.frombuffer(zlib.decompress(idat), dtype=np.uint8).reshape(h, 1 + w * c)
    out = np.zeros((h, w * c), dtype=np.int64)
    for y in range(h):
        f, line = raw[y, 0], raw[y, 1:].astype(np.int64)
        prev = out[y - 1] if y else np.zeros(w * c, dtype=np.int64)
        for i in range(w * c):
            left = out[y, i - c] if i >= c else 0
            up, ul = prev[i], (prev[i - c] if i >= c else 0)
            if f == 0:
                pred = 0
            elif f == 1:
                pred = left
            elif f == 2:
                pred = up
            elif f == 3:
                pred = (left + up) // 2
            else:
                p = left + up - ul
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - ul)
                pred = left if pa <= pb and pa <= pc else (up if pb <= pc else ul)
            out[y, i] = (line[i] + pred) & 255
    return out.astype(np.uint8).reshape(h, w, c)


CASES = [
    ((8, 3, 5, 6), {}),
    ((10, 1, 4, 4), dict(nrow=4, padding=1, pad_value=0.5)),
    ((3, 3, 7, 2), dict(nrow=8, padding=0)),
    ((1, 3, 4, 5), {}),
    ((1, 4, 4), dict(padding=3)),
    ((3, 4, 4), {}),
    ((6, 9), {}),
    ((5, 2, 3, 3), dict(nrow=2)),
    ((7, 3, 4, 4), dict(normalize=True)),
    ((7, 3, 4, 4), dict(normalize=True, scale_each=True, nrow=3)),
    ((7, 1, 4, 4), dict(normalize=True, value_range=(-0.5, 0.5))),
    ((4, 3, 3, 3), dict(normalize=True, value_range=(-1.0, 1.0), scale_each=True, pad_value=1)),
    ((1, 1, 1, 1), dict(normalize=True)),  # constant image: the 1e-5 guard
]


@pytest.mark.parametrize("shape,kwargs", CASES)
def test_make_grid_matches_torchvision(torch, rng, shape, kwargs):
    ref = _torchvision_make_grid(torch)
    x = (rng.normal(size=shape) * 2).astype(np.float32)
    x0 = x.copy()
    got = make_grid(fastnn.from_numpy(x), **kwargs)
    want = ref(torch.from_numpy(x.copy()), **kwargs)
    assert isinstance(got, fastnn.Tensor) and got.dtype == fastnn.float32
    assert tuple(got.shape) == tuple(want.shape)
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(x, x0)  # normalize works on a copy: the input is left as it was


def test_make_grid_list_and_errors(torch, rng):
    ref = _torchvision_make_grid(torch)
    imgs = [rng.random((3, 4, 5)).astype(np.float32) for _ in range(5)]
    got = make_grid([fastnn.tensor(a) for a in imgs], nrow=3)
    np.testing.assert_array_equal(got.numpy(), ref([torch.from_numpy(a) for a in imgs], nrow=3).numpy())
    with pytest.raises(TypeError, match="list of tensors"):
        make_grid([fastnn.tensor(imgs[0]), imgs[1]])
    with pytest.raises(TypeError, match="list of tensors"):
        make_grid(imgs[0])
    with pytest.raises(TypeError, match="value_range"):
        make_grid(fastnn.tensor(imgs[0]), normalize=True, value_range=[0, 1])
    with pytest.raises(ValueError, match="shape"):
        make_grid(fastnn.zeros(1, 2, 3, 4, 5))
    with pytest.raises(ValueError, match="nrow"):
        make_grid(fastnn.zeros(2, 3, 4, 4), nrow=0)
    # a tensor that requires grad is accepted (the grid is a new tensor outside autograd)
    g = make_grid(fastnn.rand(2, 3, 4, 4, requires_grad=True))
    assert not g.requires_grad


@pytest.mark.parametrize("shape,kwargs", [((6, 3, 5, 4), dict(nrow=4)), ((3, 1, 6, 6), dict(normalize=True)),
                                          ((1, 3, 2, 3), {}), ((2, 4, 3, 3), {}), ((5, 7), {})])
def test_save_image_png_bytes(torch, rng, tmp_path, shape, kwargs):
    ref = _torchvision_make_grid(torch)
    x = (rng.normal(size=shape) * 0.6 + 0.5).astype(np.float32)  # some values outside [0, 1]
    x.flat[0] = 0.5 / 255  # exactly halfway cases
    want = _torch_bytes(torch, ref(torch.from_numpy(x.copy()), **kwargs))
    path = tmp_path / "grid.png"
    save_image(fastnn.tensor(x), path, **kwargs)
    data = path.read_bytes()
    np.testing.assert_array_equal(_decode_png(data), want)
    # independent readers agree
    Image = pytest.importorskip("PIL.Image")
    with Image.open(path) as im:
        np.testing.assert_array_equal(np.asarray(im), want)
    # a file object, and no temporary left behind
    buf = io.BytesIO()
    save_image(fastnn.tensor(x), buf, format="png", **kwargs)
    assert buf.getvalue() == data
    assert os.listdir(tmp_path) == ["grid.png"]


def test_save_image_matplotlib_reads_it(tmp_path, rng):
    mpimg = pytest.importorskip("matplotlib.image")
    x = rng.random((4, 3, 5, 5)).astype(np.float32)
    save_image(fastnn.tensor(x), str(tmp_path / "a.png"), nrow=2, padding=1)
    back = mpimg.imread(str(tmp_path / "a.png"))
    want = np.clip(make_grid(fastnn.tensor(x), nrow=2, padding=1).numpy() * 255 + 0.5, 0, 255).astype(np.uint8)
    np.testing.assert_array_equal(np.round(back * 255).astype(np.uint8), want.transpose(1, 2, 0))


def test_save_image_other_formats_and_errors(tmp_path):
    pytest.importorskip("PIL.Image")
    save_image(fastnn.rand(2, 3, 4, 4), tmp_path / "a.jpg")
    from PIL import Image
    with Image.open(tmp_path / "a.jpg") as im:
        assert im.format == "JPEG" and im.size == (14, 8)
    with pytest.raises(ValueError, match="extension"):
        save_image(fastnn.rand(2, 3, 4, 4), tmp_path / "a.notaformat")
    assert sorted(os.listdir(tmp_path)) == ["a.jpg"]


def test_encode_png_modes(rng):
    for shape in [(3, 4), (3, 4, 1), (2, 5, 2), (4, 1, 3), (1, 1, 4)]:
        p = rng.integers(0, 256, size=shape, dtype=np.uint8)
        back = _decode_png(encode_png(p))
        np.testing.assert_array_equal(back, p.reshape(shape[0], shape[1], -1))
    with pytest.raises(TypeError, match="uint8"):
        encode_png(np.zeros((2, 2), dtype=np.float32))
    with pytest.raises(ValueError, match="shape"):
        encode_png(np.zeros((2, 2, 5), dtype=np.uint8))
