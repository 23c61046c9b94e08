"""Turn validated settings into a ready model, objective and dream settings (loads weights, images)."""
from __future__ import annotations

import logging
from dataclasses import dataclass

import torch

from engine.dream import DreamSettings, prepare_model, resolve_device
from engine.errors import ConfigError
from engine.frames import to_tensor
from engine.imagenet import display_name, find_class
from engine.models.registry import DreamModel, LayerInfo, ModelSpec, build_model, get_spec
from engine.objectives import Objective, channel, guide, guide_features, layer
from engine.targets import format_target, parse_target, target_objective
from stream.io.images import read_image
from stream.io.tuning import keep_freed_memory
from stream.io.weights import load_state_dict
from stream.settings.loader import Config
from stream.settings.model import ModelSettings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DreamSetup:
    """A loaded model on its device with the objective and settings to dream with."""

    model: DreamModel
    spec: ModelSpec
    device: torch.device
    objective: Objective
    settings: DreamSettings
    label: str  # human description of the objective, e.g. "class goldfish" or "layer block10"


def load_model(ms: ModelSettings) -> tuple[DreamModel, torch.device]:
    """Build the model named in ``ms`` with its weights, on its device."""
    spec = get_spec(ms.name)
    device = resolve_device(ms.device)
    if device.type == "cpu":
        keep_freed_memory()
    if ms.threads:
        torch.set_num_threads(ms.threads)
    state = load_state_dict(spec, ms.weights)
    model = prepare_model(build_model(spec.name, state), device)
    log.info("model %s on %s", spec.name, device)
    return model, device


def build_objective(model: DreamModel, ms: ModelSettings, device: torch.device) -> tuple[Objective, str, bool]:
    """The objective described by ``ms``; returns it, a label, and whether it has a class term."""
    spec = model.spec
    layers = [spec.layer(name).name for name in ms.layers] if ms.layers else []
    terms: list[Objective] = []
    labels: list[str] = []
    if ms.target is not None:
        target = parse_target(ms.target, find_class)
        terms.append(target_objective(target))
        labels.append(f"class {format_target(target, display_name)}")
    if ms.guide is not None:
        name = layers[0] if layers else spec.default_layer
        image = to_tensor(read_image(ms.guide, max_side=512), device)
        terms.append(ms.guide_weight * guide(guide_features(model.features, image, name), name))
        labels.append(f"guide {ms.guide} at {name}")
    if ms.channels:
        name = channel_layer(spec, ms).name
        terms.append(channel(name, ms.channels))
        labels.append(f"channels {list(ms.channels)} of {name}")
        layers = layers[1:]
    if layers or not terms:
        for name in layers or [spec.default_layer]:
            terms.append(layer(name))
            labels.append(f"layer {name}")
    objective = terms[0]
    for t in terms[1:]:
        objective = objective + t
    return objective, " + ".join(labels), ms.target is not None


def channel_layer(spec: ModelSpec, ms: ModelSettings) -> LayerInfo:
    """The layer whose ``ms.channels`` are dreamed (the first one named, else the default), checked."""
    info = spec.layer(ms.layers[0] if ms.layers else spec.default_layer)
    bad = [c for c in ms.channels if not 0 <= c < info.channels]
    if bad:
        raise ConfigError(f"channel {bad[0]} is out of range for layer {info.name!r}; allowed 0 to {info.channels - 1}")
    return info


def check_objective(ms: ModelSettings) -> None:
    """Check model, layers, channels, target and guide without loading anything (typos fail fast)."""
    spec = get_spec(ms.name)
    for name in ms.layers:
        spec.layer(name)
    if ms.channels:
        channel_layer(spec, ms)
    if ms.target is not None:
        parse_target(ms.target, find_class)
    if ms.guide is not None:
        read_image(ms.guide, max_side=64)
    resolve_device(ms.device)


def setup_dream(cfg: Config) -> DreamSetup:
    """Load the model and build the objective and settings that ``cfg`` describes."""
    check_objective(cfg.model)
    model, device = load_model(cfg.model)
    objective, label, is_class = build_objective(model, cfg.model, device)
    settings = cfg.class_dream if is_class else cfg.dream
    return DreamSetup(model, model.spec, device, objective, settings, label)
