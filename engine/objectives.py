"""Dream objectives: small callables from activations to a scalar to maximise.

An :class:`Objective` declares which layers it reads in which *view* of the image:
``"full"`` (the whole image, ``(1, 3, H, W)``) or ``"crops"`` (a batch of random crops
resized to the classifier's input size, used for class dreams so the object appears at
a size the network recognises). It maps ``acts[view][layer]`` to a scalar tensor.
Objectives combine with ``+``, ``-`` and scalar ``*``::

    layer("block9") + 0.5 * channel("block12", [17])
    klass(1)                      # goldfish
    guide(guide_features, "block9")
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import torch
from torch import Tensor

from engine.models.registry import LOGITS

Acts = Mapping[str, Mapping[str, Tensor]]
FULL = "full"
CROPS = "crops"


class Objective:
    """A scalar function of activations, with the layers it needs per view."""

    def __init__(self, fn: Callable[[Acts], Tensor], needs: Mapping[str, frozenset[str]], name: str) -> None:
        self.fn = fn
        self.needs = {view: frozenset(layers) for view, layers in needs.items() if layers}
        self.name = name

    def __call__(self, acts: Acts) -> Tensor:
        return self.fn(acts)

    def __repr__(self) -> str:
        return f"Objective({self.name})"

    def __add__(self, other: Objective) -> Objective:
        return Objective(lambda a: self(a) + other(a), _merge(self.needs, other.needs), f"{self.name} + {other.name}")

    def __sub__(self, other: Objective) -> Objective:
        return self + (-1.0) * other

    def __neg__(self) -> Objective:
        return (-1.0) * self

    def __mul__(self, k: float) -> Objective:
        if not isinstance(k, (int, float)):
            return NotImplemented
        return Objective(lambda a: k * self(a), self.needs, f"{k:g}*{self.name}")

    __rmul__ = __mul__


def _merge(a: Mapping[str, frozenset[str]], b: Mapping[str, frozenset[str]]) -> dict[str, frozenset[str]]:
    return {v: a.get(v, frozenset()) | b.get(v, frozenset()) for v in set(a) | set(b)}


def layer(name: str) -> Objective:
    """Mean square of a layer's activations: amplifies whatever the layer sees."""
    return Objective(lambda a: a[FULL][name].float().square().mean(), {FULL: frozenset([name])}, f"layer({name})")


def channel(name: str, channels: Sequence[int]) -> Objective:
    """Mean square of chosen channels of a layer, ``(B, C, H, W)[:, channels]``."""
    idx = list(channels)

    def fn(a: Acts) -> Tensor:
        return a[FULL][name][:, idx].float().square().mean()

    return Objective(fn, {FULL: frozenset([name])}, f"channel({name}, {idx})")


def klass(index: int, views: str = CROPS) -> Objective:
    """Mean logit of ImageNet class ``index`` over the crop batch ``(N, 1000)``."""
    return Objective(
        lambda a: a[views][LOGITS][:, index].float().mean(), {views: frozenset([LOGITS])}, f"class({index})"
    )


def guide(guide_features: Tensor, name: str) -> Objective:
    """Match a guide image's features (Google's original notebook ``objective_guide``).

    ``guide_features`` is ``(C, M)``: the guide's activations at layer ``name`` flattened.
    Each image position is pushed toward the guide feature it already resembles most:
    the objective is the mean over positions of ``max_j <x_i, y_j>``.
    """

    def fn(a: Acts) -> Tensor:
        x = a[FULL][name][0].float().flatten(1)  # (C, N)
        y = guide_features.to(x.device, x.dtype)
        scores = x.t() @ y  # (N, M)
        return scores.max(dim=1).values.mean() / y.shape[0]

    return Objective(fn, {FULL: frozenset([name])}, f"guide({name})")


@torch.no_grad()
def guide_features(
    model: Callable[..., Mapping[str, Tensor]], image: Tensor, name: str, max_positions: int = 4096
) -> Tensor:
    """Activations of ``image`` ``(1, 3, H, W)`` at ``name`` as ``(C, M)``, subsampled to ``max_positions``."""
    f = model(image, [name])[name][0].float().flatten(1)
    if f.shape[1] > max_positions:
        step = -(-f.shape[1] // max_positions)
        f = f[:, ::step]
    return f
