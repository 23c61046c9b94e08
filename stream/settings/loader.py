"""The one settings schema: YAML presets and user files validated into frozen dataclasses.

Precedence: ``config/default.yaml`` < a named preset < ``--config FILE`` < CLI flags
(< chat, at run time, through :mod:`stream.settings.controls`). Every section maps to one frozen
dataclass, and every section goes through the same path: its keys are checked, each value is
converted to the field's annotated type, then checked against its field's rule (:data:`SCHEMA` gathers them:
each setting's default, range and help are declared once, on its field, :func:`engine.fields.setting`) and
:data:`RELATIONS` (checks between keys). An
unknown key, a wrong type or an out-of-range value raises :class:`ConfigError`: one line naming
the key, a short form of the value and what is allowed. The files are read by :mod:`stream.settings.yaml_files` (bounded
against hostile ones), each value converted by :mod:`stream.settings.convert`.
"""
from __future__ import annotations

import dataclasses
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Literal, overload

from engine.dream import DreamSettings
from engine.errors import ConfigError, did_you_mean
from engine.fields import Rule, check_value, default_of, has_default, rule_of, short
from stream.settings.chat import ChatLimits
from stream.settings.checks import check_keys, clip
from stream.settings.convert import convert
from stream.settings.live import LiveSettings
from stream.settings.midi import MidiSettings
from stream.settings.model import ModelSettings
from stream.settings.twitch import TwitchSettings
from stream.settings.video import VideoSettings
from stream.settings.yaml_files import merge, read_file, read_preset, read_yaml

#: Checks between keys of one section: (section, lower key, upper key).
RELATIONS: tuple[tuple[str, str, str], ...] = (
    ("chat", "min_octaves", "max_octaves"),
    ("chat", "min_strength", "max_strength"),
    ("dream", "min_value", "max_value"),
)
#: What to say when a required key of a section is missing.
REQUIRED_HINTS = {
    "twitch": "put client_id, bot_id and broadcaster_id under twitch: in a --config file (see config/twitch.yaml)",
}

#: Section name -> its dataclass (``class_dream`` holds overrides of ``dream``, checked by ``dream``'s rules).
SECTIONS: dict[str, type] = {
    "model": ModelSettings,
    "dream": DreamSettings,
    "class_dream": DreamSettings,
    "video": VideoSettings,
    "live": LiveSettings,
    "chat": ChatLimits,
    "midi": MidiSettings,
    "twitch": TwitchSettings,
}
PARTIAL_SECTIONS = {"class_dream"}
# Sections with required keys (ids, URLs) that only some commands need: their keys are
# checked on load, the dataclass is built when a command asks for it.
LAZY_SECTIONS = {"twitch"}

#: Every key's rule, keyed "section.key", as its field declares it (:func:`engine.fields.setting`). Keys with no
#: rule are checked for their type only (names, paths, booleans).
SCHEMA: dict[str, Rule] = {f"{name}.{f.name}": rule for name, cls in SECTIONS.items() if name not in PARTIAL_SECTIONS
                           for f in dataclasses.fields(cls) if (rule := rule_of(f)) is not None}


@dataclass(frozen=True)
class Config:
    """Every validated section; ``raw`` keeps the merged mapping for sections built elsewhere."""

    model: ModelSettings
    dream: DreamSettings
    class_dream: DreamSettings
    sections: Mapping[str, Any]
    raw: Mapping[str, Any]

    @overload
    def section(self, name: Literal["model"]) -> ModelSettings: ...
    @overload
    def section(self, name: Literal["dream", "class_dream"]) -> DreamSettings: ...
    @overload
    def section(self, name: Literal["video"]) -> VideoSettings: ...
    @overload
    def section(self, name: Literal["live"]) -> LiveSettings: ...
    @overload
    def section(self, name: Literal["chat"]) -> ChatLimits: ...
    @overload
    def section(self, name: Literal["midi"]) -> MidiSettings: ...
    @overload
    def section(self, name: Literal["twitch"]) -> TwitchSettings: ...

    def section(self, name: str) -> Any:
        """The validated dataclass of section ``name`` (built now for lazy sections)."""
        value = self.sections[name]
        if name in LAZY_SECTIONS:
            return build_section(name, SECTIONS[name], value)
        return value


def _check_relations(name: str, values: Mapping[str, Any]) -> None:
    for section, lower, upper in RELATIONS:
        if section == name and values[lower] > values[upper]:
            raise ConfigError(
                f"{name}.{upper}: {short(values[upper])} is below {name}.{lower} ({short(values[lower])}); "
                f"allowed: at least {name}.{lower}"
            )


def build_section(name: str, cls: type, data: Mapping[str, Any], partial: bool = False) -> Any:
    """Validate ``data`` against dataclass ``cls``: keys, type conversion, :data:`SCHEMA`, :data:`RELATIONS`.

    The same path for every section. ``partial`` returns the checked dict of the keys given
    (overrides of another section, ``class_dream``) instead of building ``cls``.
    """
    if not isinstance(data, Mapping):
        raise ConfigError(f"section {name!r}: expected a mapping of keys, got {short(data)}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)
    rules = "dream" if partial else name
    values: dict[str, Any] = {}
    for key, value in data.items():
        if key not in fields:
            raise ConfigError(
                f"unknown key {name}.{clip(str(key), 60)}{did_you_mean(str(key)[:100], fields)}; allowed: "
                f"{', '.join(fields)}"
            )
        rule = SCHEMA.get(f"{rules}.{key}")
        if rule is not None and rule.words is not None and isinstance(value, (str, int, float)):
            value = rule.words.get(str(value).strip().lower(), value)
        values[key] = convert(f"{name}.{key}", value, hints[key])
        check_value(f"{name}.{key}", values[key], rule)
    if partial:
        return values
    required = [k for k, f in fields.items() if not has_default(f) and not values.get(k)]
    if required:
        hint = REQUIRED_HINTS.get(name, f"set {name}.{required[0]}")
        raise ConfigError(f"{name}.{required[0]} is not set; {hint}")
    full = {k: values.get(k, default_of(f)) for k, f in fields.items()}
    _check_relations(name, full)
    try:
        return cls(**values)
    except ConfigError as e:
        raise ConfigError(f"section {name!r}: {e}") from None
    except (TypeError, ValueError) as e:
        raise ConfigError(f"section {name!r}: {clip(e)}") from None


def load_config(
    preset: str = "default",
    user_file: str | Path | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Config:
    """Load ``default.yaml``, overlay ``preset``, ``user_file`` and dotted ``overrides`` ("dream.steps": 5)."""
    raw = merge(
        read_preset("default"),
        read_yaml(resources.files("config").joinpath("twitch.yaml").read_text(), "config/twitch.yaml"),
    )
    if preset != "default":
        raw = merge(raw, read_preset(preset))
    if user_file is not None:
        raw = merge(raw, read_file(user_file))
    for dotted, value in (overrides or {}).items():
        section, key = dotted.split(".", 1)
        raw = merge(raw, {section: {key: value}})
    sections = SECTIONS
    for name in raw:
        if name not in sections:
            raise ConfigError(
                f"unknown section {clip(str(name), 60)!r}{did_you_mean(str(name)[:100], sections)}; allowed: "
                f"{', '.join(sections)}"
            )
    built: dict[str, Any] = {}
    for name, cls in sections.items():
        data = raw.get(name) or {}
        if name in LAZY_SECTIONS:
            if not isinstance(data, Mapping):
                raise ConfigError(f"section {name!r}: expected a mapping of keys, got {short(data)}")
            check_keys(name, cls, data)
            built[name] = data
            continue
        built[name] = build_section(name, cls, data, partial=name in PARTIAL_SECTIONS)
    class_dream = dataclasses.replace(built["dream"], **built["class_dream"])
    _check_relations("dream", dataclasses.asdict(class_dream))
    built["class_dream"] = class_dream
    return Config(model=built["model"], dream=built["dream"], class_dream=class_dream, sections=built, raw=raw)
