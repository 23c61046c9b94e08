"""GoogLeNet, VGG16/19 and ResNet-50: torchvision key compatibility, layer shapes, fusing, early exit.

State dicts are generated from seeded random instances; literal torchvision key names,
shapes and parameter counts check that the published weights would load.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import torch
from torch import Tensor, nn

from engine.errors import ModelError
from engine.models.registry import LOGITS, DreamModel, build_model, get_spec, list_models

MODELS = ("googlenet", "vgg16", "vgg19", "resnet50")

# key -> shape, as in torchvision's published state dicts
TORCHVISION_KEYS: dict[str, dict[str, tuple[int, ...]]] = {
    "googlenet": {
        "conv1.conv.weight": (64, 3, 7, 7),
        "conv3.bn.running_var": (192,),
        "inception3a.branch3.1.conv.weight": (32, 16, 3, 3),
        "inception4c.branch2.1.conv.weight": (256, 128, 3, 3),
        "inception4e.branch4.1.bn.running_mean": (128,),
        "inception5b.branch1.conv.weight": (384, 832, 1, 1),
        "aux1.conv.conv.weight": (128, 512, 1, 1),
        "aux2.fc1.weight": (1024, 2048),
        "aux2.fc2.bias": (1000,),
        "fc.weight": (1000, 1024),
    },
    "vgg16": {
        "features.0.weight": (64, 3, 3, 3),
        "features.21.weight": (512, 512, 3, 3),  # conv4_3
        "features.28.weight": (512, 512, 3, 3),  # conv5_3
        "classifier.0.weight": (4096, 25088),
        "classifier.3.weight": (4096, 4096),
        "classifier.6.bias": (1000,),
    },
    "vgg19": {
        "features.16.bias": (256,),  # conv3_4
        "features.25.weight": (512, 512, 3, 3),  # conv4_4
        "features.34.weight": (512, 512, 3, 3),  # conv5_4
        "classifier.0.weight": (4096, 25088),
        "classifier.6.weight": (1000, 4096),
    },
    "resnet50": {
        "conv1.weight": (64, 3, 7, 7),
        "bn1.num_batches_tracked": (),
        "layer1.0.downsample.0.weight": (256, 64, 1, 1),
        "layer2.0.downsample.1.running_var": (512,),
        "layer3.5.conv2.weight": (256, 256, 3, 3),
        "layer4.2.bn3.weight": (2048,),
        "fc.weight": (1000, 2048),
    },
}
# torchvision's documented num_params (GoogLeNet without its auxiliary heads)
NUM_PARAMS = {"googlenet": 6_624_904, "vgg16": 138_357_544, "vgg19": 143_667_240, "resnet50": 25_557_032}
# the last convolution and final linear layer of each model (must not run for a middle layer)
LAST_MODULES = {
    "googlenet": ("inception5b.branch1.conv", "fc"),
    "vgg16": ("features.28", "classifier.6"),
    "vgg19": ("features.34", "classifier.6"),
    "resnet50": ("layer4.2.conv3", "fc"),
}


def _randomise_bn(model: nn.Module) -> None:
    """Give every BatchNorm non-trivial statistics and affine terms so fusing is really tested."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.normal_(0.0, 0.1)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 1.5)
                m.bias.normal_(0.0, 0.1)


@pytest.fixture(scope="module", params=MODELS)
def built(request: pytest.FixtureRequest) -> tuple[str, dict[str, Tensor], DreamModel]:
    """``(name, generated torchvision-keyed state dict, unfused model built from it)``."""
    name = request.param
    torch.manual_seed(0)
    source = get_spec(name).builder()
    _randomise_bn(source)
    state = source.state_dict()
    del source
    return name, state, build_model(name, state, fuse=False)


@contextmanager
def record_calls(model: nn.Module) -> Iterator[list[str]]:
    """Names of the Conv2d/Linear modules that run inside the block; hooks removed on exit."""
    ran: list[str] = []
    handles = [
        m.register_forward_hook(lambda _m, _i, _o, name=name: ran.append(name))
        for name, m in model.named_modules()
        if isinstance(m, (nn.Conv2d, nn.Linear))
    ]
    try:
        yield ran
    finally:
        for h in handles:
            h.remove()


def test_all_models_registered() -> None:
    names = [spec.name for spec in list_models()]
    for name in MODELS:
        assert name in names


@pytest.mark.slow
def test_torchvision_keys_and_shapes(built: tuple[str, dict[str, Tensor], DreamModel]) -> None:
    name, state, model = built
    for key, shape in TORCHVISION_KEYS[name].items():
        assert key in state, key
        assert tuple(state[key].shape) == shape, key
        assert torch.equal(model.state_dict()[key], state[key]), key
    params = sum(v.numel() for k, v in model.named_parameters() if not k.startswith("aux"))
    assert params == NUM_PARAMS[name]


def test_missing_key_is_rejected() -> None:
    torch.manual_seed(0)
    state = get_spec("googlenet").builder().state_dict()
    del state["aux1.fc2.bias"]  # the published file has the aux heads: they must be expected
    with pytest.raises(ModelError, match="aux1.fc2.bias"):
        build_model("googlenet", state)


def test_googlenet_loads_without_aux_heads() -> None:
    """A state dict saved with ``aux_logits=False`` (or a fine-tune) has no aux1.*/aux2.* keys."""
    torch.manual_seed(0)
    state = get_spec("googlenet").builder().state_dict()
    slim = {k: v for k, v in state.items() if not k.startswith(("aux1.", "aux2."))}
    assert len(state) - len(slim) == 20  # 18 as torchvision counts them, plus two num_batches_tracked
    model = build_model("googlenet", slim, fuse=False)
    for key, value in slim.items():
        assert torch.equal(model.state_dict()[key], value), key
    x = torch.rand(1, 3, 64, 64)
    assert torch.equal(model(x), build_model("googlenet", state, fuse=False)(x))


def test_spec_is_consistent(built: tuple[str, dict[str, Tensor], DreamModel]) -> None:
    name, _state, model = built
    spec = get_spec(name)
    assert list(spec.layer_names) + [LOGITS] == model.stage_names()
    assert spec.layer(spec.default_layer).name == spec.default_layer
    for alias in spec.aliases:
        assert spec.layer(alias).name in spec.layer_names
    weights = spec.weights
    assert weights.url == f"https://download.pytorch.org/models/{weights.filename}"
    assert weights.sha256 and weights.filename.endswith(f"-{weights.sha256}.pth")
    with pytest.raises(ModelError, match="did you mean"):
        spec.layer(spec.default_layer + "x")


@pytest.mark.slow
@pytest.mark.parametrize("size", [(64, 96), (37, 53)])
def test_feature_shapes(built: tuple[str, dict[str, Tensor], DreamModel], size: tuple[int, int]) -> None:
    name, _state, model = built
    spec = get_spec(name)
    h, w = size
    torch.manual_seed(1)
    x = torch.rand(1, 3, h, w)  # one batch size and few sizes: each new shape costs oneDNN set-up time
    with torch.no_grad():
        feats = model.features(x, [*spec.layer_names, LOGITS])
    for info in spec.layers:
        a = feats[info.name]
        assert a.shape[:2] == (1, info.channels), info.name
        if h % 32 == 0 and w % 32 == 0:
            assert a.shape[2:] == (h // info.stride, w // info.stride), info.name
        else:  # pooling rounds up or down depending on the model
            assert abs(a.shape[2] - h / info.stride) <= 1, info.name
            assert abs(a.shape[3] - w / info.stride) <= 1, info.name
        assert torch.isfinite(a).all(), info.name
    assert feats[LOGITS].shape == (1, 1000)
    assert torch.isfinite(feats[LOGITS]).all()


def test_runs_only_to_deepest_layer(built: tuple[str, dict[str, Tensor], DreamModel]) -> None:
    name, _state, model = built
    spec = get_spec(name)
    x = torch.rand(1, 3, 64, 96)
    last_conv, classifier = LAST_MODULES[name]
    with torch.no_grad():
        with record_calls(model) as ran:
            model.features(x, [spec.layers[0].name])
        assert len(ran) == 1  # only the first convolution
        with record_calls(model) as ran:
            model.features(x, [spec.layers[0].name, spec.default_layer])
        assert ran and last_conv not in ran and classifier not in ran
        with record_calls(model) as ran:
            model(x)
        assert last_conv in ran and ran[-1] == classifier
        assert not any(n.startswith("aux") for n in ran)  # GoogLeNet's aux heads never run


@pytest.mark.slow
def test_fuse_matches_unfused(built: tuple[str, dict[str, Tensor], DreamModel]) -> None:
    name, state, model = built
    spec = get_spec(name)
    has_bn = any(isinstance(m, nn.BatchNorm2d) for m in model.modules())
    assert has_bn == (name in ("googlenet", "resnet50"))
    if not has_bn:  # VGG: fusing is a no-op, nothing to compare
        return
    fused = build_model(name, state, fuse=True)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in fused.modules())
    torch.manual_seed(2)
    x = torch.rand(1, 3, 64, 96)
    layers = [spec.layers[0].name, spec.default_layer, LOGITS]
    with torch.no_grad():
        ref, out = model.features(x, layers), fused.features(x, layers)
    for layer in layers:
        scale = ref[layer].abs().max().item()
        assert scale > 0
        torch.testing.assert_close(out[layer], ref[layer], rtol=1e-4, atol=1e-4 * scale)


def test_googlenet_normalisation_matches_torchvision_transform_input() -> None:
    """ImageNet normalisation followed by torchvision's ``_transform_input`` == our mean/std."""
    model = get_spec("googlenet").builder()
    torch.manual_seed(3)
    rgb = torch.rand(2, 3, 8, 8)
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    x = (rgb - mean) / std
    tv = torch.cat(
        [
            x[:, 0:1] * (0.229 / 0.5) + (0.485 - 0.5) / 0.5,
            x[:, 1:2] * (0.224 / 0.5) + (0.456 - 0.5) / 0.5,
            x[:, 2:3] * (0.225 / 0.5) + (0.406 - 0.5) / 0.5,
        ],
        1,
    )
    torch.testing.assert_close((rgb - model.mean) / model.std, tv)
