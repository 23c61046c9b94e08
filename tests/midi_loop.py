"""A mido backend of in-process loop ports, for tests (``mido.set_backend("midi_loop")``).

This machine has no ALSA sequencer (``/dev/snd/seq``), so python-rtmidi cannot make a virtual
port here. These ports are mido's own port objects (``BaseInput``/``BaseOutput``): what an
output named N sends, the input named N receives, through mido's real ``open_input`` path.
"""
from __future__ import annotations

from collections import deque

from mido.ports import BaseInput, BaseOutput

NAMES = ("DreamStream Loop 1", "Other Synth 2")
_queues: dict[str, deque] = {name: deque() for name in NAMES}


def get_devices(**_kwargs) -> list[dict]:
    """What mido's backend asks a backend module for: each port, as input and output."""
    return [{"name": name, "is_input": True, "is_output": True} for name in NAMES]


class Input(BaseInput):
    def _open(self, **_kwargs) -> None:
        if self.name not in _queues:
            raise OSError(f"unknown port {self.name!r}")
        self._queue = _queues[self.name]
        self._queue.clear()

    def _receive(self, block: bool = True):
        try:
            return self._queue.popleft()
        except IndexError:
            return None


class Output(BaseOutput):
    def _send(self, message) -> None:
        _queues[self.name].append(message.copy())
