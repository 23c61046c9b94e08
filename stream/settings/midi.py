"""Settings of the midi section: which MIDI input drives the stream, and what each knob and pad does."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from engine.fields import Rule, check_fields, setting, short
from stream.settings.names import COMMANDS

#: What a knob (a control change) can set, spread over its 0-127 travel.
KNOBS = ("strength", "octaves", "layer")
#: The keys of ``midi.map``: ``cc0``..``cc127`` (knobs, faders, some pads) and ``note0``..``note127`` (keys, pads).
MAP_KEYS = tuple(f"cc{n}" for n in range(128)) + tuple(f"note{n}" for n in range(128))

DEFAULT_MAP: Mapping[str, str] = MappingProxyType({
    "cc1": "strength",      # the mod wheel
    "cc2": "octaves",
    "cc3": "layer",
    "note36": "goldfish",   # the first pads of most pad controllers (C1 up)
    "note37": "banana",
    "note38": "jellyfish",
    "note39": "!skip",
})


def pad_command(action: str) -> str:
    """The chat command a pad runs: ``"!skip"`` as it is, a bare ``"goldfish"`` as ``"!dream goldfish"``."""
    action = " ".join(action.split())
    return action if action.startswith("!") else f"!dream {action}"


def map_problem(mapping: Mapping[str, str]) -> str | None:
    """What is wrong with a ``midi.map`` (from the item's key on: ``".note36: ..."``), or None."""
    for key, action in mapping.items():
        if key not in MAP_KEYS:
            return f": unknown key {short(key)}; allowed: cc0 to cc127 (knobs) and note0 to note127 (keys, pads)"
        text = " ".join(str(action).split())
        if not text:
            return f".{key}: is empty; allowed: {', '.join(KNOBS)} (a cc), a chat command line or a class to dream"
        if key.startswith("note") and text in KNOBS:
            return (f".{key}: {short(text)} is a knob; a note runs a chat command line or dreams a class "
                    "(put knobs on a ccN)")
        command = pad_command(text).split()[0][1:].lower()
        if text not in KNOBS and command not in COMMANDS:
            return f".{key}: {short(text)} runs an unknown command !{command[:30]}; allowed: {', '.join(COMMANDS)}"
    return None


@dataclass(frozen=True)
class MidiSettings:
    """``port``: the MIDI input (its name or a part of it; ``live --midi`` overrides); ``channel``:
    1-16, or 0 for every channel; ``map``: ``ccN`` or ``noteN`` -> what it does.

    A ``ccN`` set to one of :data:`KNOBS` is a knob: strength over ``chat.min_strength`` to
    ``max_strength``, octaves over ``chat.min_octaves`` to ``max_octaves``, layer over the
    model's layers. Anything else is a pad: a chat command line (``"!preset calm"``, ``"!skip"``)
    or a class to dream (``goldfish``), run when the note is struck or the control passes 64.
    Every action runs through the chat command layer with the broadcaster's role.
    """

    port: str = setting("", help="the MIDI input's name, or a part of it (--midi overrides)")
    channel: int = setting(0, Rule(0, 16), "1-16, or 0 for every channel")
    map: Mapping[str, str] = setting(
        rule=Rule(check=map_problem),
        help="ccN: a knob (strength, octaves or layer, over chat's bounds or the model's layers); ccN or noteN: a pad "
        "(a class to dream, or any chat command line)",
        factory=lambda: DEFAULT_MAP,
    )

    def __post_init__(self) -> None:
        check_fields(self, "midi.")
        object.__setattr__(self, "map", MappingProxyType(dict(self.map)))
