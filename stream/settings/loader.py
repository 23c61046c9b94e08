"""The one settings schema: YAML presets and user files validated into frozen dataclasses.

Precedence: ``config/default.yaml`` < a named preset < ``--config FILE`` < CLI flags
(< chat, at run time, through :mod:`stream.control`). Every section maps to one frozen
dataclass; an unknown key, a wrong type or an out-of-range value raises
:class:`ConfigError` naming the key, the value and what is allowed.
"""
from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Union

import yaml

from engine.dream import GRAD_NORMS, PRECISIONS, DreamSettings
from engine.errors import ConfigError, did_you_mean
from stream.settings.checks import check_keys
from stream.settings.model import ModelSettings
from stream.settings.names import FLOW_PRESETS, FLOWS

# Numeric bounds (inclusive) and choices, keyed "section.key".
BOUNDS: dict[str, tuple[float, float]] = {
    "model.threads": (0, 256),
    "model.guide_weight": (0.0, 100.0),
    "dream.octaves": (1, 12),
    "dream.octave_scale": (1.05, 4.0),
    "dream.steps": (0, 500),
    "dream.step_size": (0.0, 1.0),
    "dream.jitter": (0, 256),
    "dream.pyramid_levels": (1, 8),
    "dream.band_falloff": (0.05, 1.0),
    "dream.smooth": (0.0, 20.0),
    "dream.crops": (1, 64),
    "dream.crop_min": (0.05, 1.0),
    "dream.min_value": (-1.0, 1.0),
    "dream.max_value": (0.0, 2.0),
    "dream.seed": (0, 2**63 - 1),
    "video.flow_blend": (0.0, 1.0),
    "video.decay": (0.0, 1.0),
    "video.steps_per_frame": (0, 100),
    "video.step_scale": (0.0, 10.0),
    "video.dream_scale": (0.05, 1.0),
    "video.dream_max_side": (0, 16384),
    "video.cut_threshold": (0.0, 1.0),
    "video.key_every": (0, 1_000_000),
    "video.chunk_s": (0.1, 86_400.0),
    "video.chunk_overlap": (0, 10_000),
}
CHOICES: dict[str, tuple[str, ...]] = {
    "dream.grad_norm": GRAD_NORMS,
    "dream.precision": PRECISIONS,
    "video.flow": FLOWS,
    "video.flow_preset": FLOW_PRESETS,
}

# section name -> dataclass. Sections whose dataclass lives beside its user are added here.
SECTIONS: dict[str, type] = {
    "model": ModelSettings,
    "dream": DreamSettings,
    "class_dream": DreamSettings,  # overrides of ``dream`` used when a class target is set
}
PARTIAL_SECTIONS = {"class_dream"}
# Sections with required keys (ids, URLs) that only some commands need: their keys are
# checked on load, the dataclass is built when a command asks for it.
LAZY_SECTIONS = {"twitch"}


def _sections() -> dict[str, type]:
    # Sections owned by other modules register lazily to keep imports light.
    from stream.settings.chat import ChatLimits
    from stream.settings.live import LiveSettings
    from stream.settings.twitch import TwitchSettings
    from stream.settings.video import VideoSettings

    return {**SECTIONS, "video": VideoSettings, "live": LiveSettings, "chat": ChatLimits, "twitch": TwitchSettings}


@dataclass(frozen=True)
class Config:
    """Every validated section; ``raw`` keeps the merged mapping for sections built elsewhere."""

    model: ModelSettings
    dream: DreamSettings
    class_dream: DreamSettings
    sections: Mapping[str, Any]
    raw: Mapping[str, Any]

    def section(self, name: str) -> Any:
        """The validated dataclass of section ``name`` (built now for lazy sections)."""
        value = self.sections[name]
        if name in LAZY_SECTIONS:
            return build_section(name, _sections()[name], value)
        return value


def preset_names() -> list[str]:
    files = resources.files("config")
    return sorted(p.name[:-5] for p in files.iterdir() if p.name.endswith(".yaml") and p.name != "twitch.yaml")


def _read_yaml(text: str, where: str) -> dict[str, Any]:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{where}: not valid YAML{at}: {getattr(e, 'problem', e)}") from e
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping of sections, got {type(data).__name__}")
    return data


def read_preset(name: str) -> dict[str, Any]:
    """The raw mapping of ``config/<name>.yaml`` (package data)."""
    names = preset_names()
    if name not in names:
        raise ConfigError(f"unknown preset {name!r}{did_you_mean(name, names)}; available: {', '.join(names)}")
    return _read_yaml(resources.files("config").joinpath(f"{name}.yaml").read_text(), f"preset {name!r}")


def read_file(path: str | Path) -> dict[str, Any]:
    p = Path(path)
    try:
        text = p.read_text()
    except FileNotFoundError as e:
        raise ConfigError(f"config file {str(p)!r} does not exist") from e
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"config file {str(p)!r} cannot be read: {getattr(e, 'strerror', None) or e}") from e
    return _read_yaml(text, f"config file {str(p)!r}")


def merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """Deep-merge two section mappings (``over`` wins)."""
    out = dict(base)
    for k, v in over.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), Mapping):
            out[k] = merge(out[k], v)
        else:
            out[k] = v
    return out


def _convert(key: str, value: Any, tp: Any) -> Any:
    """Convert a YAML/CLI value to the annotated type ``tp`` or raise ConfigError."""
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if value is None or (isinstance(value, str) and value.lower() in ("null", "none", "")):
            return None
        return _convert(key, value, args[0])
    if origin is tuple:
        item = typing.get_args(tp)[0]
        if isinstance(value, str):
            value = [v for v in value.replace(",", " ").split() if v]
        if not isinstance(value, (list, tuple)):
            value = [value]
        return tuple(_convert(key, v, item) for v in value)
    if origin in (dict, Mapping) or tp in (dict,):
        if not isinstance(value, Mapping):
            raise ConfigError(f"{key}: expected a mapping, got {value!r}")
        return dict(value)
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "yes", "on", "1", "false", "no", "off", "0"):
            return value.lower() in ("true", "yes", "on", "1")
        raise ConfigError(f"{key}: expected true or false, got {value!r}")
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, (int, str)):
            raise ConfigError(f"{key}: expected a whole number, got {value!r}")
        try:
            return int(value)
        except ValueError as e:
            raise ConfigError(f"{key}: expected a whole number, got {value!r}") from e
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise ConfigError(f"{key}: expected a number, got {value!r}")
        try:
            f = float(value)
        except ValueError as e:
            raise ConfigError(f"{key}: expected a number, got {value!r}") from e
        if f != f or f in (float("inf"), float("-inf")):
            raise ConfigError(f"{key}: expected a finite number, got {value!r}")
        return f
    if tp is str:
        if isinstance(value, (dict, list)):
            raise ConfigError(f"{key}: expected text, got {value!r}")
        return str(value)
    return value


def _check(key: str, value: Any) -> None:
    if key in BOUNDS and value is not None:
        lo, hi = BOUNDS[key]
        values = value if isinstance(value, tuple) else (value,)
        for v in values:
            if not lo <= v <= hi:
                shown = f"{lo} to {hi}" if isinstance(lo, int) and isinstance(hi, int) else f"{lo:g} to {hi:g}"
                raise ConfigError(f"{key}: {v!r} is out of range; allowed {shown}")
    if key in CHOICES and value not in CHOICES[key]:
        raise ConfigError(f"{key}: {value!r} is not allowed; choose one of {', '.join(CHOICES[key])}")


def build_section(name: str, cls: type, data: Mapping[str, Any], partial: bool = False) -> Any:
    """Validate ``data`` against dataclass ``cls``; ``partial`` returns a checked dict instead."""
    if not isinstance(data, Mapping):
        raise ConfigError(f"section {name!r}: expected a mapping of keys, got {data!r}")
    from_mapping = getattr(cls, "from_mapping", None)
    if from_mapping is not None and not partial:
        return from_mapping(data)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    for key, value in data.items():
        if key not in fields:
            raise ConfigError(
                f"unknown key {name}.{key}{did_you_mean(str(key), fields)}; allowed: {', '.join(fields)}"
            )
        values[key] = _convert(f"{name}.{key}", value, hints[key])
        _check(f"{'dream' if partial else name}.{key}", values[key])
    if partial:
        return values
    try:
        return cls(**values)
    except ConfigError as e:
        raise ConfigError(f"section {name!r}: {e}") from e
    except (TypeError, ValueError) as e:
        raise ConfigError(f"section {name!r}: {e}") from e


def load_config(
    preset: str = "default",
    user_file: str | Path | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Config:
    """Load ``default.yaml``, overlay ``preset``, ``user_file`` and dotted ``overrides`` ("dream.steps": 5)."""
    raw = merge(read_preset("default"), _read_yaml(resources.files("config").joinpath("twitch.yaml").read_text(), "config/twitch.yaml"))
    if preset != "default":
        raw = merge(raw, read_preset(preset))
    if user_file is not None:
        raw = merge(raw, read_file(user_file))
    for dotted, value in (overrides or {}).items():
        section, key = dotted.split(".", 1)
        raw = merge(raw, {section: {key: value}})
    sections = _sections()
    for name in raw:
        if name not in sections:
            raise ConfigError(f"unknown section {name!r}{did_you_mean(str(name), sections)}; allowed: {', '.join(sections)}")
    built: dict[str, Any] = {}
    for name, cls in sections.items():
        if name in LAZY_SECTIONS:
            data = raw.get(name) or {}
            check_keys(name, cls, data)
            built[name] = data
            continue
        built[name] = build_section(name, cls, raw.get(name) or {}, partial=name in PARTIAL_SECTIONS)
    class_dream = dataclasses.replace(built["dream"], **built["class_dream"])
    built["class_dream"] = class_dream
    return Config(model=built["model"], dream=built["dream"], class_dream=class_dream, sections=built, raw=raw)
