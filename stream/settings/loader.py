"""The one settings schema: YAML presets and user files validated into frozen dataclasses.

Precedence: ``config/default.yaml`` < a named preset < ``--config FILE`` < CLI flags
(< chat, at run time, through :mod:`stream.settings.controls`). Every section maps to one frozen
dataclass, and every section goes through the same path: its keys are checked, each value is
converted to the field's annotated type, then checked against :data:`SCHEMA` (every numeric
range and every choice, in this one table) and :data:`RELATIONS` (checks between keys). An
unknown key, a wrong type or an out-of-range value raises :class:`ConfigError`: one line naming
the key, a short form of the value and what is allowed.

Hostile files are bounded before anything is built: at most :data:`MAX_CONFIG_BYTES`, nesting
at most :data:`MAX_DEPTH` deep and :data:`MAX_NODES` values once YAML aliases are expanded.
"""
from __future__ import annotations

import dataclasses
import math
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Union

import yaml

from engine.dream import GRAD_NORMS, PRECISIONS, DreamSettings
from engine.errors import ConfigError, did_you_mean
from engine.filters import MAX_OCTAVES
from stream.settings.checks import check_keys, clip, short
from stream.settings.encoder import X264_PRESETS
from stream.settings.live import OVERLAY_WORDS, OVERLAYS
from stream.settings.model import ModelSettings
from stream.settings.names import COMMANDS, FLOW_PRESETS, FLOWS, ROLES, RTMP_SCHEMES

#: A config file longer than this is refused unread (ours are a few KiB; ``/dev/zero`` is endless).
MAX_CONFIG_BYTES = 64 * 1024
#: Deepest nesting of lists and mappings in a config file.
MAX_DEPTH = 16
#: Most values (scalars, lists, mappings) in a config file once aliases are expanded.
MAX_NODES = 20_000
#: Most digits of a YAML integer; a longer one stays text (and fails the key's type check).
MAX_INT_DIGITS = 30

@dataclass(frozen=True)
class Rule:
    """What one key allows once converted to its type.

    ``lo``/``hi``: inclusive range of a number (or of each item of a tuple); ``off``: one more
    allowed value outside it (0 = off); ``choices``: allowed text values (or items);
    ``keys``: allowed keys of a mapping; ``even``: only even numbers; ``items``: most items of
    a tuple; ``nonempty``: a tuple or text that may not be empty; ``check``: a function that
    returns what is wrong with the value (``None`` = fine), for URLs and ids; ``words``: other
    spellings of a choice, looked up (as lower-case text) before the type conversion
    (``live.overlay: true`` is ``burned``).
    """

    lo: float | None = None
    hi: float | None = None
    off: float | None = None
    choices: tuple[str, ...] | Callable[[], tuple[str, ...]] | None = None
    keys: tuple[str, ...] | None = None
    even: bool = False
    items: int | None = None
    nonempty: bool = False
    check: Callable[[Any], str | None] | None = None
    words: Mapping[str, str] | None = None

    def allowed_choices(self) -> tuple[str, ...] | None:
        return self.choices() if callable(self.choices) else self.choices


def _model_names() -> tuple[str, ...]:
    from engine.models.registry import list_models

    return tuple(spec.name for spec in list_models())


def _presets() -> tuple[str, ...]:
    return tuple(preset_names())


def _numeric_id(value: str) -> str | None:
    return None if value.isdigit() else "a numeric Twitch user id"


def _url(secure: str, loopback: str) -> Callable[[str], str | None]:
    def check(value: str) -> str | None:
        import urllib.parse

        parts = urllib.parse.urlsplit(value)
        host = (parts.hostname or "").lower()
        if host and (parts.scheme == secure or (parts.scheme == loopback and host in ("127.0.0.1", "localhost", "::1"))):
            return None
        return f"a {secure}:// URL ({loopback}:// only on 127.0.0.1 or localhost)"

    return check


def _rtmp(value: str) -> str | None:
    scheme = value.split("://", 1)[0].lower() if "://" in value else ""
    return None if scheme in RTMP_SCHEMES else f"an RTMP URL ({', '.join(s + '://' for s in RTMP_SCHEMES)})"


#: Every key's rule, keyed "section.key" (``class_dream`` uses ``dream``'s). Keys not named here
#: are checked for their type only (names, paths, booleans).
SCHEMA: dict[str, Rule] = {
    "model.threads": Rule(0, 256),
    "model.layers": Rule(items=16),
    "model.channels": Rule(0, 65535, items=64),
    "model.guide_weight": Rule(0.0, 100.0),
    "dream.octaves": Rule(1, MAX_OCTAVES),
    "dream.octave_scale": Rule(1.05, 4.0),
    "dream.steps": Rule(0, 500),
    "dream.step_size": Rule(0.0, 1.0),
    "dream.jitter": Rule(0, 256),
    "dream.grad_norm": Rule(choices=GRAD_NORMS),
    "dream.pyramid_levels": Rule(1, 8),
    "dream.band_falloff": Rule(0.05, 1.0),
    "dream.smooth": Rule(0.0, 20.0),
    "dream.crops": Rule(1, 64),
    "dream.crop_min": Rule(0.05, 1.0),
    "dream.crop_size": Rule(0, 1024),
    "dream.colour": Rule(0.0, 1.0),
    "dream.colour_probe_steps": Rule(1, 500),
    "dream.colour_probe_size": Rule(16, 512),
    "dream.min_value": Rule(-1.0, 1.0),
    "dream.max_value": Rule(0.0, 2.0),
    "dream.seed": Rule(0, 2**63 - 1),
    "dream.precision": Rule(choices=PRECISIONS),
    "dream.tile_size": Rule(128, 16384, off=0),
    "video.flow": Rule(choices=FLOWS),
    "video.flow_preset": Rule(choices=FLOW_PRESETS),
    "video.flow_blend": Rule(0.0, 1.0),
    "video.decay": Rule(0.0, 1.0),
    "video.steps_per_frame": Rule(0, 100),
    "video.step_scale": Rule(0.0, 10.0),
    "video.dream_scale": Rule(0.05, 1.0),
    "video.dream_max_side": Rule(0, 16384),
    "video.cut_threshold": Rule(0.0, 1.0),
    "video.key_every": Rule(0, 1_000_000),
    "video.settle_frames": Rule(0, 1000),
    "video.chunk_s": Rule(0.1, 86_400.0),
    "video.chunk_overlap": Rule(0, 10_000),
    "chat.min_octaves": Rule(1, MAX_OCTAVES),
    "chat.max_octaves": Rule(1, MAX_OCTAVES),
    "chat.min_strength": Rule(0.01, 10.0),
    "chat.max_strength": Rule(0.01, 10.0),
    "chat.allowed_models": Rule(choices=_model_names, nonempty=True, items=32),
    "chat.allowed_presets": Rule(choices=_presets, nonempty=True, items=32),
    "chat.allowed_flows": Rule(choices=FLOWS, nonempty=True, items=len(FLOWS)),
    "chat.hold_s": Rule(1.0, 3600.0),
    "chat.queue_size": Rule(0, 1000),
    "chat.max_targets": Rule(1, 2),
    "chat.user_cooldown_s": Rule(0.0, 3600.0),
    "chat.global_cooldown_s": Rule(0.0, 3600.0),
    "chat.info_cooldown_s": Rule(0.0, 3600.0),
    "chat.lookups_per_s": Rule(0.1, 1000.0),
    "chat.roles": Rule(keys=COMMANDS, choices=ROLES),
    "live.width": Rule(32, 3840, even=True),
    "live.height": Rule(32, 2160, even=True),
    "live.fps": Rule(1, 120),
    "live.video_bitrate_kbps": Rule(100, 100_000),
    "live.audio_bitrate_kbps": Rule(32, 512),
    "live.x264_preset": Rule(choices=X264_PRESETS),
    "live.keyframe_interval_s": Rule(0.1, 20.0),
    "live.stats_interval_s": Rule(0.1, 3600.0),
    "live.capture_queue": Rule(1, 64),
    "live.class_crops": Rule(1, 8),
    "live.class_size": Rule(64, 512),
    "live.class_crop_min": Rule(0.05, 1.0),
    "live.class_colour": Rule(0.0, 1.0),
    "live.octave_scales": Rule(0.05, 1.0, items=8, nonempty=True),
    "live.decay": Rule(0.0, 1.0),
    "live.limit": Rule(0.01, 1.0),
    "live.scene_limit": Rule(0.0, 1.0),
    "live.class_limit": Rule(0.01, 1.0),
    "live.class_scene_limit": Rule(0.0, 1.0),
    "live.fade_s": Rule(0.0, 30.0),
    "live.dream_scale": Rule(0.05, 1.0),
    "live.dream_max_side": Rule(0, 16384),
    "live.steps_per_frame": Rule(0, 20),
    "live.step_scale": Rule(0.0, 10.0),
    "live.twitch_ingest": Rule(check=_rtmp),
    "live.input_wait_s": Rule(0.0, 86_400.0),
    "live.target_fps": Rule(1.0, 120.0, off=0),
    "live.class_target_fps": Rule(1.0, 120.0),
    "live.overlay": Rule(choices=OVERLAYS, words=OVERLAY_WORDS),
    "midi.channel": Rule(0, 16),
    "twitch.client_id": Rule(nonempty=True),
    "twitch.bot_id": Rule(check=_numeric_id),
    "twitch.broadcaster_id": Rule(check=_numeric_id),
    "twitch.helix_url": Rule(check=_url("https", "http")),
    "twitch.oauth_url": Rule(check=_url("https", "http")),
    "twitch.eventsub_url": Rule(check=_url("wss", "ws")),
}

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

# section name -> dataclass.
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
    from stream.settings.midi import MidiSettings
    from stream.settings.twitch import TwitchSettings
    from stream.settings.video import VideoSettings

    return {**SECTIONS, "video": VideoSettings, "live": LiveSettings, "chat": ChatLimits, "midi": MidiSettings,
            "twitch": TwitchSettings}


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


# ------------------------------------------------------------------------------------------ YAML


class _Limit(Exception):
    """A bound of the config file was passed (depth, values)."""


_BaseLoader: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when PyYAML has it: 10x faster


class _Loader(_BaseLoader):  # type: ignore[misc, valid-type]
    """The safe loader, with integers of more than MAX_INT_DIGITS digits kept as text."""


def _int_or_text(loader: Any, node: yaml.ScalarNode) -> Any:
    if sum(c.isdigit() for c in node.value) > MAX_INT_DIGITS:
        return node.value  # fails the key's type check with a short message instead of a ValueError
    return yaml.constructor.SafeConstructor.construct_yaml_int(loader, node)


_Loader.add_constructor("tag:yaml.org,2002:int", _int_or_text)


def _check_limits(text: str) -> None:
    """Raise :class:`_Limit` if ``text`` nests deeper than MAX_DEPTH or holds more than MAX_NODES
    values, aliases expanded, or an alias refers to the value it is part of.

    One pass over the parser's events that stops at the first bound passed, before any node is
    built: PyYAML's composer recurses (RecursionError on deep nesting) and its constructor shares
    aliased values that every later step (merging, error text) would expand.
    """
    anchors: dict[str, tuple[int, int]] = {}  # anchor -> (values, depth) of its subtree
    stack: list[list[Any]] = []  # per open collection: [anchor, values before it, deepest level below]
    count = 0

    def grow(size: int, depth: int, event: Any) -> None:
        nonlocal count
        count += size
        line = event.start_mark.line + 1
        if count > MAX_NODES:
            raise _Limit(f"more than {MAX_NODES} values once aliases are expanded (at line {line})")
        if len(stack) + depth > MAX_DEPTH:
            raise _Limit(f"nested more than {MAX_DEPTH} deep (at line {line})")
        for frame in stack:
            frame[2] = max(frame[2], len(stack) + depth)

    for event in yaml.parse(text, Loader=_Loader):
        if isinstance(event, yaml.ScalarEvent):
            grow(1, 0, event)
            if event.anchor:
                anchors[event.anchor] = (1, 0)
        elif isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
            grow(1, 1, event)
            stack.append([event.anchor, count, len(stack) + 1])
        elif isinstance(event, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
            anchor, before, deepest = stack.pop()
            if anchor:
                anchors[anchor] = (count - before + 1, deepest - len(stack))
        elif isinstance(event, yaml.AliasEvent):
            if event.anchor not in anchors:
                raise _Limit(f"alias *{short(event.anchor)} refers to the value it is part of (at line {event.start_mark.line + 1})")
            size, depth = anchors[event.anchor]
            grow(size, depth, event)


def _read_yaml(text: str, where: str) -> dict[str, Any]:
    try:
        _check_limits(text)
        data = yaml.load(text, Loader=_Loader)  # noqa: S506 (a safe loader)
    except _Limit as e:
        raise ConfigError(f"{where}: {e}") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{where}: not valid YAML{at}: {clip(getattr(e, 'problem', None) or e)}") from None
    except (ValueError, OverflowError, TypeError, RecursionError) as e:
        raise ConfigError(f"{where}: a value cannot be read: {clip(e)}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping of sections, got {type(data).__name__}")
    return data


def read_preset(name: str) -> dict[str, Any]:
    """The raw mapping of ``config/<name>.yaml`` (package data)."""
    names = preset_names()
    if name not in names:
        raise ConfigError(f"unknown preset {short(name)}{did_you_mean(name, names)}; available: {', '.join(names)}")
    return _read_yaml(resources.files("config").joinpath(f"{name}.yaml").read_text(), f"preset {name!r}")


def read_file(path: str | Path) -> dict[str, Any]:
    """The raw mapping of a user's config file: at most MAX_CONFIG_BYTES of UTF-8 YAML."""
    p = Path(path)
    where = f"config file {short(str(p))}"
    try:
        with p.open("rb") as f:
            data = f.read(MAX_CONFIG_BYTES + 1)
    except FileNotFoundError:
        raise ConfigError(f"{where} does not exist") from None
    except OSError as e:
        raise ConfigError(f"{where} cannot be read: {e.strerror or e}") from None
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigError(f"{where} is larger than {MAX_CONFIG_BYTES // 1024} KiB; allowed: a settings file of a few KiB")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ConfigError(f"{where} is not UTF-8 text (byte {e.start})") from None
    return _read_yaml(text, where)


def merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """Deep-merge two section mappings (``over`` wins)."""
    out = dict(base)
    for k, v in over.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), Mapping):
            out[k] = merge(out[k], v)
        else:
            out[k] = v
    return out


# ------------------------------------------------------------------------------------ conversion


def _convert(key: str, value: Any, tp: Any) -> Any:
    """Convert a YAML/CLI value to the annotated type ``tp`` or raise ConfigError.

    ``X | None`` takes null; a ``tuple[X, ...]`` takes a list, one value, or text split at commas
    and spaces (``"a, b"`` is two items, ``"a"`` one item, never a tuple of characters); a
    ``Mapping[K, V]`` takes a mapping, its keys and values converted.
    """
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
    if origin in (dict, Mapping) or tp is dict or tp is Mapping:
        if not isinstance(value, Mapping):
            raise ConfigError(f"{key}: expected a mapping, got {short(value)}")
        kt, vt = typing.get_args(tp) or (Any, Any)
        return {_convert(key, k, kt): _convert(f"{key}.{k}", v, vt) for k, v in value.items()}
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "yes", "on", "1", "false", "no", "off", "0"):
            return value.lower() in ("true", "yes", "on", "1")
        raise ConfigError(f"{key}: expected true or false, got {short(value)}")
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, (int, str)) or (isinstance(value, str) and len(value) > MAX_INT_DIGITS):
            raise ConfigError(f"{key}: expected a whole number, got {short(value)}")
        try:
            return int(value)
        except ValueError:
            raise ConfigError(f"{key}: expected a whole number, got {short(value)}") from None
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise ConfigError(f"{key}: expected a number, got {short(value)}")
        try:
            f = float(value)
        except (ValueError, OverflowError):
            raise ConfigError(f"{key}: expected a number, got {short(value)}") from None
        if not math.isfinite(f):
            raise ConfigError(f"{key}: expected a finite number, got {short(value)}")
        return f
    if tp is str:
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            raise ConfigError(f"{key}: expected text, got {short(value)}")
        return str(value)
    return value


def _range_text(rule: Rule) -> str:
    lo, hi = rule.lo, rule.hi
    text = f"{lo} to {hi}" if isinstance(lo, int) and isinstance(hi, int) else f"{lo:g} to {hi:g}"
    if rule.even:
        text = "even numbers from " + text
    return text + (f", or {rule.off:g} (off)" if rule.off is not None else "")


def _check(key: str, value: Any, rule: Rule | None) -> None:
    """Raise ConfigError if the converted ``value`` of ``key`` breaks its ``rule``."""
    if rule is None or value is None:
        return
    if isinstance(value, Mapping):
        for k, v in value.items():
            name = str(k).lstrip("!")
            if rule.keys is not None and name not in rule.keys:
                raise ConfigError(f"{key}: unknown key {short(k)}{did_you_mean(name, rule.keys)}; allowed: {', '.join(rule.keys)}")
            _check(f"{key}.{name}", v, dataclasses.replace(rule, keys=None))
        return
    if isinstance(value, tuple):
        if rule.nonempty and not value:
            raise ConfigError(f"{key}: is empty; allowed: at least one item")
        if rule.items is not None and len(value) > rule.items:
            raise ConfigError(f"{key}: {len(value)} items; allowed: at most {rule.items}")
        for v in value:
            _check(key, v, dataclasses.replace(rule, nonempty=False, items=None))
        return
    choices = rule.allowed_choices()
    if choices is not None and value not in choices:
        raise ConfigError(f"{key}: {short(value)} is not allowed{did_you_mean(str(value), choices)}; "
                          f"choose one of {', '.join(choices)}")
    numeric = rule.lo is not None and isinstance(value, (int, float)) and value != rule.off
    if numeric and (not rule.lo <= value <= rule.hi or (rule.even and value % 2)):
        raise ConfigError(f"{key}: {short(value)} is out of range; allowed {_range_text(rule)}")
    if rule.nonempty and isinstance(value, str) and not value.strip():
        raise ConfigError(f"{key}: is empty; allowed: a non-empty value")
    if rule.check is not None and isinstance(value, str):
        wrong = rule.check(value)
        if wrong is not None:
            raise ConfigError(f"{key}: {short(value)} is invalid; allowed: {wrong}")


def _check_relations(name: str, values: Mapping[str, Any]) -> None:
    for section, lower, upper in RELATIONS:
        if section == name and values[lower] > values[upper]:
            raise ConfigError(f"{name}.{upper}: {short(values[upper])} is below {name}.{lower} ({short(values[lower])}); "
                              f"allowed: at least {name}.{lower}")


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
                f"unknown key {name}.{clip(str(key), 60)}{did_you_mean(str(key)[:100], fields)}; allowed: {', '.join(fields)}"
            )
        rule = SCHEMA.get(f"{rules}.{key}")
        if rule is not None and rule.words is not None and isinstance(value, (str, int, float)):
            value = rule.words.get(str(value).strip().lower(), value)
        values[key] = _convert(f"{name}.{key}", value, hints[key])
        _check(f"{name}.{key}", values[key], rule)
    if partial:
        return values
    required = [k for k, f in fields.items() if f.default is dataclasses.MISSING
                and f.default_factory is dataclasses.MISSING and not values.get(k)]
    if required:
        hint = REQUIRED_HINTS.get(name, f"set {name}.{required[0]}")
        raise ConfigError(f"{name}.{required[0]} is not set; {hint}")
    full = {k: values.get(k, _default(f)) for k, f in fields.items()}
    _check_relations(name, full)
    try:
        return cls(**values)
    except ConfigError as e:
        raise ConfigError(f"section {name!r}: {e}") from None
    except (TypeError, ValueError) as e:
        raise ConfigError(f"section {name!r}: {clip(e)}") from None


def _default(f: dataclasses.Field[Any]) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    return f.default_factory() if f.default_factory is not dataclasses.MISSING else None


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
            raise ConfigError(f"unknown section {clip(str(name), 60)!r}{did_you_mean(str(name)[:100], sections)}; allowed: {', '.join(sections)}")
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
