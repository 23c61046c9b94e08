"""Model registry: named DeepDream networks with one feature interface.

Every model is a :class:`DreamModel`: a linear chain of named stages that takes RGB in
``[0, 1]`` shaped ``(B, 3, H, W)``, normalises it itself, and runs only as far as the
deepest layer that was asked for.  The stage named ``"logits"`` (``(B, 1000)``) is the
classifier output used by class objectives.
"""
from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from engine.errors import ModelError, did_you_mean

LOGITS = "logits"


@dataclass(frozen=True)
class LayerInfo:
    """A dreamable layer: its stage name, channel count and stride relative to the input."""

    name: str
    channels: int
    stride: int
    note: str = ""


@dataclass(frozen=True)
class WeightSource:
    """Where a model's pretrained weights come from.

    Exactly one of ``package`` (a Python package that ships the file) or ``url`` is used.
    ``sha256`` is checked on download; ``filename`` names the file in the cache.
    """

    filename: str
    url: str | None = None
    sha256: str | None = None
    package: str | None = None
    license: str = ""


@dataclass(frozen=True)
class ModelSpec:
    """What the rest of the product needs to know about a registered model."""

    name: str
    description: str
    layers: tuple[LayerInfo, ...]
    default_layer: str
    weights: WeightSource
    builder: Callable[[], DreamModel]
    aliases: dict[str, str] = field(default_factory=dict)
    class_size: int = 224  # input side the classifier was trained at

    def layer(self, name: str) -> LayerInfo:
        """Return the named layer (or alias), or raise :class:`ModelError` with suggestions."""
        name = self.aliases.get(name, name)
        for info in self.layers:
            if info.name == name:
                return info
        choices = [i.name for i in self.layers] + list(self.aliases)
        raise ModelError(
            f"unknown layer {name!r} for model {self.name!r}{did_you_mean(name, choices)}; "
            f"run 'dreamstream layers {self.name}' to list them"
        )

    @property
    def layer_names(self) -> tuple[str, ...]:
        return tuple(i.name for i in self.layers)


class DreamModel(nn.Module):
    """Base class: subclasses set ``mean``/``std`` buffers and implement :meth:`stages`."""

    spec: ModelSpec
    #: Key prefixes of submodules a state dict may leave out as a whole (heads never run for dreaming).
    optional_prefixes: tuple[str, ...] = ()

    def __init__(self, mean: Sequence[float], std: Sequence[float]) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std).view(1, 3, 1, 1), persistent=False)

    def stages(self) -> Iterator[tuple[str, Callable[[Tensor], Tensor]]]:
        """Yield ``(name, fn)`` in forward order; each ``fn`` maps the previous output on."""
        raise NotImplementedError

    def stage_names(self) -> list[str]:
        return [name for name, _ in self.stages()]

    def features(self, x: Tensor, layers: Sequence[str]) -> dict[str, Tensor]:
        """Activations of ``layers`` for RGB ``x`` in ``[0, 1]``, ``(B, 3, H, W)``.

        Runs forward only up to the deepest requested layer.
        """
        wanted = set(layers)
        known = set(self.stage_names())
        unknown = wanted - known
        if unknown:
            name = sorted(unknown)[0]
            raise ModelError(f"model has no layer {name!r}{did_you_mean(name, known)}")
        out: dict[str, Tensor] = {}
        h = (x - self.mean) / self.std
        for name, fn in self.stages():
            if not wanted:
                break
            h = fn(h)
            if name in wanted:
                out[name] = h
                wanted.discard(name)
        return out

    def forward(self, x: Tensor) -> Tensor:
        """Class logits ``(B, 1000)`` for RGB ``x`` in ``[0, 1]``."""
        return self.features(x, [LOGITS])[LOGITS]

    def fuse(self) -> DreamModel:
        """Fold BatchNorm into convolutions in place (inference only); returns ``self``."""
        for module in self.modules():
            if hasattr(module, "fuse_bn"):
                module.fuse_bn()
        return self


_REGISTRY: dict[str, ModelSpec] = {}


def register_model(spec: ModelSpec) -> ModelSpec:
    """Add ``spec`` to the registry (called once per model module)."""
    _REGISTRY[spec.name] = spec
    return spec


#: The modules that register the built-in models (imported on first use, like plugins).
BUILTIN_MODULES = ("efficientnet_lite", "googlenet", "resnet", "vgg")


def _load_builtin() -> None:
    # Imported by name on first use: importing the registry costs nothing, and the model
    # modules (which import this one to register) are not a cycle.
    for module in BUILTIN_MODULES:
        importlib.import_module(f"engine.models.{module}")


def list_models() -> list[ModelSpec]:
    _load_builtin()
    return list(_REGISTRY.values())


def get_spec(name: str) -> ModelSpec:
    """Return the spec of model ``name`` or raise :class:`ModelError` naming the choices."""
    _load_builtin()
    if name not in _REGISTRY:
        raise ModelError(
            f"unknown model {name!r}{did_you_mean(name, _REGISTRY)}; "
            f"available: {', '.join(_REGISTRY)}"
        )
    return _REGISTRY[name]


def build_model(name: str, state_dict: dict[str, Tensor] | None = None, fuse: bool = True) -> DreamModel:
    """Build model ``name`` in eval mode with frozen parameters.

    ``state_dict`` uses the published (torchvision or package) key names; ``fuse``
    then folds BatchNorm into the convolutions for speed.
    """
    spec = get_spec(name)
    model = spec.builder()
    model.spec = spec
    if state_dict is not None:
        missing, unexpected = model.load_state_dict(state_dict, strict=False)
        missing = _required(missing, model.state_dict(), model.optional_prefixes)
        unexpected = [k for k in unexpected if not k.endswith("num_batches_tracked")]
        if missing or unexpected:
            bad = (missing or unexpected)[0]
            raise ModelError(
                f"weights do not fit model {name!r}: {len(missing)} missing and "
                f"{len(unexpected)} unexpected keys (first: {bad!r})"
            )
    model.eval().requires_grad_(False)
    if fuse:
        model.fuse()
    return model


def _required(missing: list[str], expected: Iterable[str], optional: tuple[str, ...]) -> list[str]:
    """``missing`` less the optional submodules that are missing whole (a partial one stays an error)."""
    expected = [k for k in expected if not k.endswith("num_batches_tracked")]  # torch fills those in
    gone = set(missing)
    absent = {prefix for prefix in optional if all(k in gone for k in expected if k.startswith(prefix))}
    return [k for k in missing if not k.startswith(tuple(absent))]


def fuse_conv_bn(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> None:
    """Fold ``bn`` into ``conv`` in place (the conv gains a bias); ``bn`` must then be skipped."""
    with torch.no_grad():
        scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
        conv.weight.mul_(scale.view(-1, 1, 1, 1))
        bias = bn.bias - bn.running_mean * scale
        if conv.bias is not None:
            bias = bias + conv.bias * scale
        conv.bias = nn.Parameter(bias, requires_grad=False)
