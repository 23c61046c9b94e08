"""The names the settings, the command layer and the live pipeline share: flows, roles, commands, containers."""
from __future__ import annotations

from collections.abc import Mapping
from importlib import resources
from types import MappingProxyType

from engine.flow import DIS_PRESETS
from engine.flow import FLOW_METHODS as FLOW_METHODS  # optical flow estimators: dis, farneback
from engine.temporal import TEMPORAL_FLOWS

FLOWS = TEMPORAL_FLOWS  # what a dream can follow: "dis", "farneback" or "none" (full octaves every frame)
FLOW_PRESETS = tuple(DIS_PRESETS)  # DIS quality presets


ROLES = ("viewer", "moderator", "broadcaster", "off")
"""Chat roles, lowest first: a command set to a role is open to that role and every role after it;
``off`` disables a command for everyone."""


ROLE_RANK: Mapping[str, int] = MappingProxyType({role: rank for rank, role in enumerate(ROLES)})


ROLE_PLURAL: Mapping[str, str] = MappingProxyType(
    {"viewer": "viewers", "moderator": "moderators", "broadcaster": "the broadcaster", "off": "nobody"}
)
"""How a refusal names the people a command is for ("!skip is for moderators only")."""


NUM_CLASSES = 1000


VIEWER_COMMANDS = ("dream", "layer", "layers", "targets", "strength", "status", "help")


MOD_COMMANDS = ("model", "preset", "octaves", "flow", "lock", "unlock", "skip", "reset", "clear")


COMMANDS = VIEWER_COMMANDS + MOD_COMMANDS


DEFAULT_ROLES: Mapping[str, str] = MappingProxyType(
    {**{c: "viewer" for c in VIEWER_COMMANDS}, **{c: "moderator" for c in MOD_COMMANDS}}
)


RTMP_SCHEMES = ("rtmp", "rtmps", "rtmpt", "rtmpts", "rtmpe", "rtmpte")


#: Output file extension -> FFmpeg muxer: the one table for ``video`` outputs, live recordings and clips.
CONTAINERS: Mapping[str, str] = MappingProxyType({
    ".mp4": "mp4",
    ".mov": "mov",
    ".mkv": "matroska",
    ".webm": "webm",
    ".flv": "flv",
    ".ts": "mpegts",
})


def model_names() -> tuple[str, ...]:
    """The registered models' names (what ``chat.allowed_models`` may name)."""
    from engine.models.registry import list_models

    return tuple(spec.name for spec in list_models())


def preset_names() -> list[str]:
    """The shipped presets: the YAML files of ``config/`` but ``twitch.yaml``."""
    files = resources.files("config")
    return sorted(p.name[:-5] for p in files.iterdir() if p.name.endswith(".yaml") and p.name != "twitch.yaml")
