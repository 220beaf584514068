"""helpers.nst.vgg: layer names, feature dict, normalisation, real weights vs a direct conv2d."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import torchvision

from helpers.assets import asset_path
from helpers.errors import UserError
from helpers.images import load_image, resize, to_tensor
from helpers.nst import vgg


def test_layer_names_match_torchvision_indices():
    feats = torchvision.models.vgg19(weights=None).features
    assert len(vgg.LAYER_NAMES) == len(feats) == 37
    for name, module in zip(vgg.LAYER_NAMES, feats):
        kinds = {"conv": torch.nn.Conv2d, "relu": torch.nn.ReLU, "pool": torch.nn.MaxPool2d}
        kind = kinds[name[:4]]
        assert isinstance(module, kind), name
        if name.startswith("conv"):
            assert module.out_channels == vgg.CHANNELS[name]
    # the indices the writeups quote
    assert [vgg.LAYER_INDEX[n] for n in vgg.CONV_STYLE_LAYERS] == [0, 5, 10, 19, 28]
    assert [vgg.LAYER_INDEX[n] for n in vgg.STYLE_LAYERS] == [1, 6, 11, 20, 29]  # rectified
    assert vgg.LAYER_INDEX["relu5_1"] == 29
    assert vgg.LAYER_INDEX["conv4_2"] == 21


def test_unknown_layer_lists_valid_names():
    with pytest.raises(UserError, match="conv4_2"):
        vgg.check_layers(["conv9_9"])


def _random_state():
    torch.manual_seed(0)
    ref = torchvision.models.vgg19(weights=None).features
    return {f"features.{k}": v for k, v in ref.state_dict().items()}


@pytest.mark.parametrize("pooling", ["avg", "max"])
def test_feature_dict_keys_shapes_and_truncation(pooling):
    model = vgg.VGGFeatures(
        ["conv1_1", "relu2_1", "pool3", "conv4_2"], pooling=pooling, state_dict=_random_state()
    )
    x = torch.rand(2, 3, 64, 48)
    out = model(x)
    assert list(out) == ["conv1_1", "relu2_1", "pool3", "conv4_2"]
    assert out["conv1_1"].shape == (2, 64, 64, 48)
    assert out["relu2_1"].shape == (2, 128, 32, 24)
    assert out["pool3"].shape == (2, 256, 8, 6)
    assert out["conv4_2"].shape == (2, 512, 8, 6)
    assert (out["relu2_1"] >= 0).all()
    assert out["conv1_1"].min() < 0  # hooks see the conv output before the (non-inplace) ReLU
    assert len(model.features) == vgg.LAYER_INDEX["conv4_2"] + 1
    pool_type = torch.nn.AvgPool2d if pooling == "avg" else torch.nn.MaxPool2d
    assert isinstance(model.features[vgg.LAYER_INDEX["pool1"]], pool_type)
    assert not any(p.requires_grad for p in model.parameters())


@pytest.mark.parametrize("memory_format", ["contiguous", "channels_last"])
def test_features_match_plain_sequential_run(memory_format):
    state = _random_state()
    model = vgg.VGGFeatures(
        ["relu3_1"], pooling="max", state_dict=state, memory_format=memory_format
    )
    ref = torchvision.models.vgg19(weights=None).features[: vgg.LAYER_INDEX["relu3_1"] + 1]
    ref.load_state_dict(
        {k.removeprefix("features."): v for k, v in state.items() if int(k.split(".")[1]) <= 11}
    )
    x = torch.rand(1, 3, 40, 40)
    bgr = x[:, [2, 1, 0]] * 255 - torch.tensor(vgg.CAFFE_MEAN_BGR).view(1, 3, 1, 1)
    got, want = model(x)["relu3_1"], ref.eval()(bgr)
    if memory_format == "contiguous":  # the same kernels as the plain NCHW run
        torch.testing.assert_close(got, want)
    else:  # other kernels (oneDNN NHWC): equal up to float32 rounding of sums of ~10^4 terms
        assert got.is_contiguous(memory_format=torch.channels_last)
        scale = float(want.detach().abs().max())
        torch.testing.assert_close(got, want, rtol=0, atol=1e-6 * scale)


def test_unknown_memory_format_is_refused():
    with pytest.raises(UserError, match="memory_format"):
        vgg.VGGFeatures(["relu1_1"], weights="random", memory_format="nhwc")


def test_caffe_normalisation_by_hand():
    norm = vgg.InputNorm("caffe")
    x = torch.tensor([0.2, 0.5, 0.9]).view(1, 3, 1, 1)  # R, G, B
    expected = torch.tensor([0.9 * 255 - 103.939, 0.5 * 255 - 116.779, 0.2 * 255 - 123.68])
    expected = expected.view(1, 3, 1, 1)
    torch.testing.assert_close(norm(x), expected)


def test_torchvision_normalisation_by_hand():
    norm = vgg.InputNorm("torchvision")
    x = torch.tensor([0.2, 0.5, 0.9]).view(1, 3, 1, 1)
    expected = torch.tensor([(0.2 - 0.485) / 0.229, (0.5 - 0.456) / 0.224, (0.9 - 0.406) / 0.225])
    expected = expected.view(1, 3, 1, 1)
    torch.testing.assert_close(norm(x), expected)


def test_wrong_weights_file_says_how_to_refetch(tmp_path):
    bad = tmp_path / "bad.pth"
    torch.save(
        {"features.0.weight": torch.zeros(64, 3, 3, 3), "features.0.bias": torch.zeros(64)}, bad
    )
    with pytest.raises(UserError, match="checksum mismatch.*python -m helpers weights"):
        vgg.load_caffe_state_dict(bad)
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"not a torch file")
    with pytest.raises(UserError, match="corrupt"):
        vgg.load_caffe_state_dict(garbage)
    fake_h5 = tmp_path / "fake.h5"
    fake_h5.write_bytes(b"\x89HDF\r\n")
    with pytest.raises(UserError, match="checksum mismatch"):
        vgg.load_caffe_state_dict(fake_h5)


@pytest.mark.weights
def test_real_conv1_1_matches_direct_conv2d(caffe_state):
    """conv1_1 responses on a real photo equal F.conv2d with the loaded tensors on
    BGR-0..255-mean input."""
    image = resize(load_image(asset_path("nst/content/tubingen.jpg")), 96)
    x = to_tensor(image)
    model = vgg.VGGFeatures(["conv1_1"], state_dict=caffe_state)
    ours = model(x)["conv1_1"]
    pixels = torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1)))[None].double()
    mean = torch.tensor(vgg.CAFFE_MEAN_BGR, dtype=torch.float64).view(1, 3, 1, 1)
    bgr = pixels[:, [2, 1, 0]] * 255.0 - mean
    direct = F.conv2d(
        bgr,
        caffe_state["features.0.weight"].double(),
        caffe_state["features.0.bias"].double(),
        padding=1,
    )
    torch.testing.assert_close(ours.double(), direct, rtol=1e-4, atol=1e-3)
    assert ours.abs().mean() > 1.0  # a real response, not zeros


@pytest.mark.weights
def test_real_weights_digest_and_response_scale(caffe_state):
    assert vgg.state_dict_digest(caffe_state) == vgg.CAFFE_CONTENT_SHA256
    model = vgg.VGGFeatures(["relu5_1"], state_dict=caffe_state)
    image = to_tensor(resize(load_image(asset_path("nst/content/tubingen.jpg")), 128))
    act = model(image)["relu5_1"]
    assert act.shape == (1, 512, 6, 8)
    assert torch.isfinite(act).all() and act.mean() > 0


def test_random_weights_are_deterministic_and_need_no_download():
    """``weights="random"``: the same tensors every call, the Caffe input convention, and the
    same network through :func:`helpers.nst.build_network`."""
    from helpers import nst

    torch.manual_seed(123)
    before = torch.rand(1)
    state = vgg.random_state_dict()
    assert len(state) == 2 * len(vgg.CONV_LAYERS)
    assert state["features.0.weight"].shape == (64, 3, 3, 3)
    vgg.random_state_dict.cache_clear()
    again = vgg.random_state_dict()
    assert all(torch.equal(state[k], again[k]) for k in state)
    torch.manual_seed(123)
    assert torch.equal(torch.rand(1), before)  # the global RNG is not touched
    model = vgg.VGGFeatures(["conv2_1"], weights="random")
    assert model.weights == "random" and model.norm(torch.zeros(1, 3, 1, 1)).flatten()[0] < 0
    x = torch.rand(1, 3, 16, 16)
    net = nst.build_network(["conv2_1"], weights="random")
    torch.testing.assert_close(model(x)["conv2_1"], net(x)["conv2_1"], rtol=0, atol=0)


def _cross_correlate(image: np.ndarray, kernel: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """Keras' conv2d by definition: ``out[o, y, x] = b[o] + sum K[dy, dx, i, o] *
    pad(image)[i, y + dy, x + dx]`` with ``kernel`` (3, 3, in, out), zero padding 1."""
    c, h, w = image.shape
    padded = np.pad(image, ((0, 0), (1, 1), (1, 1)))
    out = np.empty((kernel.shape[3], h, w))
    for o in range(kernel.shape[3]):
        for y in range(h):
            for x in range(w):
                out[o, y, x] = bias[o] + sum(
                    kernel[dy, dx, i, o] * padded[i, y + dy, x + dx]
                    for dy in range(3)
                    for dx in range(3)
                    for i in range(c)
                )
    return out


def test_convert_keras_h5_against_an_explicit_cross_correlation(tmp_path):
    """An independent oracle for the kernel transpose: a synthetic Keras-layout h5 (tiny
    channel counts, asymmetric kernels) converted, then applied with F.conv2d, equals the
    cross-correlation computed from the raw (3, 3, in, out) kernel by its definition."""
    import h5py

    rng = np.random.default_rng(7)
    raw = {}
    with h5py.File(tmp_path / "synthetic.h5", "w") as f:
        channels = 3
        for name in vgg.CONV_LAYERS:
            block, idx = name[4:].split("_")
            layer = f"block{block}_conv{idx}"
            out = 2 + len(raw) % 3
            kernel = rng.standard_normal((3, 3, channels, out)).astype(np.float32)
            bias = rng.standard_normal(out).astype(np.float32)
            group = f.create_group(layer).create_group(layer)  # Keras' nested layout
            group.create_dataset("kernel:0", data=kernel)
            group.create_dataset("bias:0", data=bias)
            raw[name] = (kernel, bias)
            channels = out
    state = vgg.convert_keras_h5(tmp_path / "synthetic.h5")
    assert len(state) == 2 * len(vgg.CONV_LAYERS)
    image = rng.standard_normal((3, 5, 6))
    for name in ("conv1_1", "conv3_2"):
        kernel, bias = raw[name]
        i = vgg.LAYER_INDEX[name]
        weight = state[f"features.{i}.weight"]
        assert weight.shape == (kernel.shape[3], kernel.shape[2], 3, 3)
        assert not np.allclose(kernel, kernel[::-1, ::-1])  # a flip would be detected
        x = torch.from_numpy(rng.standard_normal((kernel.shape[2], 5, 6)) if i else image)
        ours = F.conv2d(x[None], weight.double(), state[f"features.{i}.bias"].double(), padding=1)
        want = _cross_correlate(x.numpy(), kernel.astype(np.float64), bias.astype(np.float64))
        np.testing.assert_allclose(ours[0].numpy(), want, rtol=1e-5, atol=1e-5)
    # the oracle itself is a cross-correlation: the top-right tap (dy=0, dx=2) reads the pixel
    # up and to the right (a convolution would read down and to the left)
    one = np.zeros((3, 3, 1, 1))
    one[0, 2, 0, 0] = 1.0
    probe = np.arange(30, dtype=np.float64).reshape(1, 5, 6)
    assert _cross_correlate(probe, one, np.zeros(1))[0, 2, 2] == probe[0, 1, 3]
