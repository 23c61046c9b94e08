"""The fast paths of EfficientNet-Lite0 equal the plain layers.

* Stride-2 "SAME" convolutions widen the kernel instead of padding the input
  (``same_conv_args``): compared with ``F.pad`` + conv, the TensorFlow definition.
* With BatchNorm folded, fp32 on the CPU runs each block as one fused autograd node
  (``_MBConvFn``, ``_ConvReLU6Fn``): compared, activations and input gradients, with the
  same folded model through the plain per-layer autograd path.

Even, odd and mixed sizes; random frozen weights with non-trivial BatchNorm statistics.
"""
from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor

from engine.dream import Dreamer, DreamSettings, prepare_model
from engine.models import efficientnet_lite as eff
from engine.models.registry import get_spec
from engine.objectives import layer

SIZES = [(32, 48), (33, 47), (40, 37), (57, 57)]  # (H, W): even, odd, mixed


def reference_same_conv(x: Tensor, weight: Tensor, bias: Tensor | None, stride: int, groups: int) -> Tensor:
    """TensorFlow SAME padding as the original code did it: pad the input, then convolve."""
    k = weight.shape[-1]
    (top, bottom), (left, right) = (eff.same_padding(s, k, stride) for s in x.shape[-2:])
    return F.conv2d(F.pad(x, (left, right, top, bottom)), weight, bias, stride, 0, 1, groups)


@pytest.mark.slow
@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize(("k", "cin", "cout", "groups"), [(3, 3, 8, 1), (3, 6, 6, 6), (5, 6, 6, 6)])
def test_widened_kernel_equals_padded_input(size: tuple[int, int], k: int, cin: int, cout: int, groups: int) -> None:
    x = torch.randn(1, cin, *size, dtype=torch.float64, requires_grad=True)
    weight = torch.randn(cout, cin // groups, k, k, dtype=torch.float64)
    bias = torch.randn(cout, dtype=torch.float64)
    w2, padding = eff.same_conv_args(weight, size, 2)
    out = F.conv2d(x, w2, bias, 2, padding, 1, groups)
    ref = reference_same_conv(x, weight, bias, 2, groups)
    assert out.shape == ref.shape == (1, cout, -(-size[0] // 2), -(-size[1] // 2))
    torch.testing.assert_close(out, ref, rtol=1e-12, atol=1e-12)
    g = torch.randn_like(out)
    (gx,) = torch.autograd.grad(out, x, g)
    (gref,) = torch.autograd.grad(ref, x, g)
    torch.testing.assert_close(gx, gref, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize(("k", "groups"), [(3, 1), (3, 6), (5, 6)])
def test_same_conv_module_equals_padded_input(size: tuple[int, int], k: int, groups: int) -> None:
    conv = eff.SameConv2d(6, 6, k, 2, groups=groups).double()
    x = torch.randn(1, 6, *size, dtype=torch.float64)
    x_used, _, _ = conv.same_input(x)
    assert (x_used is x) == (groups > 1 or size[0] % 2 == size[1] % 2 == 1)  # only dense convs copy, if asymmetric
    torch.testing.assert_close(conv(x), reference_same_conv(x, conv.weight, None, 2, groups), rtol=1e-12, atol=1e-12)


def test_same_padding_matches_tensorflow() -> None:
    # TF: out = ceil(n / s), total = max((out - 1) * s + k - n, 0), before = total // 2
    assert eff.same_padding(224, 3, 2) == (0, 1)
    assert eff.same_padding(225, 3, 2) == (1, 1)
    assert eff.same_padding(112, 5, 2) == (1, 2)
    assert eff.same_padding(45, 5, 2) == (2, 2)
    assert eff.same_padding(10, 3, 1) == (1, 1)


def random_lite0(seed: int = 0) -> eff.EfficientNetLite0:
    """A frozen random Lite0 in eval mode whose BatchNorms have non-trivial statistics (not folded)."""
    gen = torch.Generator().manual_seed(seed)
    model = eff.EfficientNetLite0()
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                n = m.num_features
                m.weight.copy_(0.5 + torch.rand(n, generator=gen))
                m.bias.copy_(0.5 * torch.randn(n, generator=gen))
                m.running_mean.copy_(0.2 * torch.randn(n, generator=gen))
                m.running_var.copy_(0.5 + torch.rand(n, generator=gen))
    model.eval().requires_grad_(False)
    model.spec = get_spec("efficientnet_lite0")
    return model


@pytest.fixture(scope="module")
def models() -> tuple[eff.EfficientNetLite0, eff.EfficientNetLite0]:
    """The same folded random model twice: the fused path, and the plain path (fusion switched off)."""
    fused = prepare_model(random_lite0().fuse())
    plain = copy.deepcopy(fused)
    for block in plain._blocks:
        block.fused = False
    plain._stem = lambda x: F.relu6(plain._conv_stem(x))  # type: ignore[method-assign]
    plain._head = lambda x: F.relu6(plain._conv_head(x))  # type: ignore[method-assign]
    return fused, plain


def features_and_grad(model: eff.EfficientNetLite0, x: Tensor, name: str) -> tuple[Tensor, Tensor]:
    xr = x.clone().requires_grad_(True)
    f = model.features(xr, [name])[name]
    (g,) = torch.autograd.grad(f.square().mean(), xr)
    return f, g


@pytest.mark.slow
@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("name", ["stem", "block0", "block2", "block9", "head", "logits"])
def test_fused_path_equals_plain_layers(models, size: tuple[int, int], name: str) -> None:
    fused, plain = models
    x = torch.rand(1, 3, *size, generator=torch.Generator().manual_seed(1)).contiguous(
        memory_format=torch.channels_last
    )
    f1, g1 = features_and_grad(fused, x, name)
    f2, g2 = features_and_grad(plain, x, name)
    assert f2.abs().max() > 0 and g2.abs().max() > 0
    torch.testing.assert_close(f1, f2, rtol=1e-4, atol=1e-5 * f2.abs().max().item())
    torch.testing.assert_close(g1, g2, rtol=1e-4, atol=1e-4 * g2.abs().max().item())


@pytest.mark.slow
def test_fused_path_is_taken_and_skipped(models) -> None:
    fused, _ = models
    x = torch.rand(1, 3, 32, 48).contiguous(memory_format=torch.channels_last).requires_grad_(True)
    out = fused.features(x, ["block2"])["block2"]
    assert type(out.grad_fn).__name__ == "_MBConvFnBackward"
    with torch.autocast("cpu", dtype=torch.bfloat16):  # autocast goes through the plain layers
        out = fused.features(x, ["block2"])["block2"]
    assert out.dtype == torch.bfloat16 and type(out.grad_fn).__name__ != "_MBConvFnBackward"
    unfolded = random_lite0()  # BatchNorm not folded: plain layers
    assert type(unfolded.features(x, ["block2"])["block2"].grad_fn).__name__ != "_MBConvFnBackward"


def test_fused_path_without_grad_and_with_nchw_input(models) -> None:
    fused, plain = models
    x = torch.rand(2, 3, 33, 47)  # batch of 2, NCHW layout
    with torch.no_grad():
        torch.testing.assert_close(fused(x), plain(x), rtol=1e-4, atol=1e-4)


def test_dream_step_matches_plain_layers(models) -> None:
    fused, plain = models
    x = torch.rand(1, 3, 40, 56, generator=torch.Generator().manual_seed(2))
    settings = DreamSettings(jitter=4, seed=3)
    out1, loss1 = Dreamer(fused, layer("block4"), settings).step(x)
    out2, loss2 = Dreamer(plain, layer("block4"), settings).step(x)
    assert loss1 == pytest.approx(loss2, rel=1e-5)
    torch.testing.assert_close(out1, out2, rtol=0, atol=1e-4)
    assert (out1 - x).abs().max() > 1e-3
