"""``config/default.yaml`` and the README's settings table, written from the settings' own fields.

Each setting is defined once (:func:`engine.fields.setting`: default, rule, help on its dataclass field);
:func:`default_yaml` and :func:`settings_table` render every section from those fields, ``scripts/build_settings.py``
writes them into the files and a test checks the files are what they render (change a default, a range or a help in
its field, run the script, commit both).
"""
from __future__ import annotations

import dataclasses
import textwrap
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import yaml

from engine.fields import default_of, has_default, help_of, rule_of
from stream.settings.loader import SECTIONS

#: The ``class_dream`` section: the keys of ``dream`` a class target (``--target``, chat's ``!dream``) changes, with
#: why. These image priors are what make a class dream an object a person can name; without them it is noise only
#: the network sees.
CLASS_DREAM: Mapping[str, tuple[Any, str]] = MappingProxyType({
    "steps": (25, "more steps an octave: objects need them"),
    "step_size": (0.025, "larger steps"),
    "jitter": (24, "more jitter: no pixel-grid texture"),
    "band_falloff": (0.5, "large smooth shapes first: objects rather than fine texture"),
    "smooth": (1.0, "a smoothed gradient"),
    "decorrelate": (True, "steps in a decorrelated colour space: natural colours"),
    "crop_min": (0.35, "random crops from 35% of the short side: objects at several sizes"),
    "colour": (0.1, "pull what is drawn toward the class's own colours (a yellow banana on a blue sky)"),
})

#: Each section's one-line comment in the YAML, and its heading in the table.
SECTION_HELP: Mapping[str, str] = MappingProxyType({
    "model": "what to dream with and what to amplify",
    "dream": "how one image is dreamed (dreamstream image; every dream starts from these)",
    "class_dream": "overrides of `dream` when a class target is set: image priors",
    "video": "dreamstream video: temporal stability (the live pipeline uses it too)",
    "chat": "what viewers may change from chat, and how often",
    "live": "dreamstream live",
    "midi": "dreamstream live --midi PORT: knobs and pads (pip install 'dreamstream[midi]')",
    "twitch": "the chat bot's accounts and Twitch's endpoints (config/twitch.yaml)",
})
#: Sections ``config/default.yaml`` holds (``twitch`` has keys only a user can give: ``config/twitch.yaml``).
YAML_SECTIONS = ("model", "dream", "class_dream", "video", "chat", "live", "midi")
HEADER = """\
# DreamStream defaults: every setting with its default value, written by scripts/build_settings.py from the
# settings' fields (stream/settings/, engine/: each setting's default, range and help are defined there, once;
# edit them there and run the script). Presets and --config files override these keys; CLI flags override those.
"""
#: What a key with no rule allows, by its type.
TYPE_WORDS = {"bool": "true or false", "str": "text", "str | None": "text, or null", "int": "a whole number",
              "float": "a number", "tuple[RewardSettings, ...]": "a list of rewards"}
COMMENT_COLUMN = 31
WIDTH = 120


def _value(value: Any) -> str:
    """``value`` as one line of YAML (flow style for a list)."""
    if isinstance(value, tuple):
        value = list(value)
    return yaml.safe_dump(value, default_flow_style=True, width=10_000).strip().removesuffix("\n...").strip()


def _line(text: str, comment: str) -> list[str]:
    """``text`` with ``comment`` from :data:`COMMENT_COLUMN` on, wrapped onto comment lines under it."""
    if not comment:
        return [text]
    width = WIDTH - COMMENT_COLUMN - 2
    pad = max(COMMENT_COLUMN, len(text) + 1)
    wrapped = textwrap.wrap(comment, width=WIDTH - pad - 2, break_on_hyphens=False)
    first, rest = wrapped[0], " ".join(wrapped[1:])
    lines = [f"{text.ljust(pad)}# {first}"]
    lines += [" " * COMMENT_COLUMN + f"# {w}" for w in textwrap.wrap(rest, width=width, break_on_hyphens=False)]
    return lines


def _defaults(name: str) -> list[tuple[str, Any, str]]:
    """``(key, default, help)`` of every setting of section ``name``."""
    if name == "class_dream":
        return [(key, value, help) for key, (value, help) in CLASS_DREAM.items()]
    # a required key (twitch ids) has no default to state
    return [(f.name, default_of(f), help_of(f)) for f in dataclasses.fields(SECTIONS[name]) if has_default(f)]


def default_yaml() -> str:
    """The text of ``config/default.yaml``."""
    lines = HEADER.splitlines()
    for name in YAML_SECTIONS:
        lines += [""] + _line(f"{name}:", SECTION_HELP[name])
        for key, value, help in _defaults(name):
            if isinstance(value, Mapping):
                lines += _line(f"  {key}:", help)
                lines += [f"    {k}: {_value(v)}" for k, v in value.items()]
            else:
                lines += _line(f"  {key}: {_value(value)}", help)
    return "\n".join(lines) + "\n"


def _allowed(name: str, key: str) -> str:
    """What section ``name``'s ``key`` allows, in words (its rule; the type for keys with none)."""
    rules = "dream" if name == "class_dream" else name
    f = {f.name: f for f in dataclasses.fields(SECTIONS[rules])}[key]
    rule = rule_of(f)
    if rule is None:
        return TYPE_WORDS.get(str(f.type), "")
    parts = []
    if rule.lo is not None:
        parts.append(rule.range_text())
    choices = rule.allowed_choices()
    if choices is not None:
        parts.append(("keys: " + ", ".join(rule.keys) + "; values: " if rule.keys else "") + ", ".join(choices))
    if rule.items is not None:
        parts.append(f"at most {rule.items} items")
    if rule.check is not None:  # a text check says what it allows when asked about ""; a mapping's, its help
        parts.append("a mapping (what it does says of what)" if "Mapping" in str(f.type) else rule.check("") or "")
    if rule.nonempty and not parts:
        parts.append("not empty")
    return "; ".join(parts)


def settings_table() -> str:
    """The README's settings table (Markdown): every key of every section, its default, what it allows, its help."""
    rows = ["| key | default | allowed | what it does |", "|---|---|---|---|"]
    for name in (*YAML_SECTIONS, "twitch"):
        for key, value, help in _defaults(name):
            shown = "(see config/default.yaml)" if isinstance(value, Mapping) else f"`{_value(value)}`"
            cells = [f"`{name}.{key}`", shown, _allowed(name, key), help]
            rows.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(rows) + "\n"
