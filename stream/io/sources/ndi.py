"""An NDI source as an input (``ndi:NAME``), found by name, and waited for when it is not there yet."""
from __future__ import annotations

import logging
import threading
import time

from engine.errors import SourceError
from stream.io.ndi_receive import NdiConnection, NdiNotFound, NdiReceiver, connect_ndi
from stream.io.sources.base import AudioChunk, Source, SourceFrame
from stream.io.sources.decoding import Timeline
from stream.io.video.sizes import fit_size
from stream.io.waiting import Connector, HoldingCards, NotYet

log = logging.getLogger(__name__)

#: Seconds without video after which a connected source counts as dropped (holding cards again).
DROP_S = 1.0


class NdiSource(Source):
    """``ndi:NAME``: an NDI source on the network (:mod:`stream.io.ndi_receive`), ``live = True``.

    Without ``wait_s`` opening waits up to ``timeout_s`` for the source and its first frame; one
    that is not there raises :class:`~stream.io.ndi_receive.NdiNotFound` (a SourceError), and
    ``fps`` is the source's rate. With ``wait_s`` (seconds; 0 waits forever) a source that is not
    announced yet is waited for as a late URL is (:mod:`stream.io.waiting`): ``read`` returns
    holding cards at ``fps`` and ``width`` x ``height`` until it comes, and again when it stops
    sending for :data:`DROP_S` (NDI reconnects to it by itself); a wait that lasts ``wait_s``
    ends with one plain SourceError.
    """

    live = True

    def __init__(self, name: str, *, width: int | None, height: int | None, fps: float,
                 timeout_s: float = 10.0, wait_s: float | None = None) -> None:
        super().__init__()
        self._ndi_name = name
        self.name = f"ndi:{name}"
        self.has_audio = True  # not announced by NDI; silence until sound comes
        self._index = 0
        self._stop = threading.Event()
        self._receiver: NdiReceiver | None = None
        self._connector: Connector[NdiConnection] | None = None
        if wait_s is None:
            self._receiver = self._receive(connect_ndi(name, timeout_s), width, height, fps)
            self.width, self.height, self.fps = self._receiver.width, self._receiver.height, self._receiver.fps
            return
        self.width, self.height = fit_size(width, height, 640, 360)
        self.fps = float(fps)
        self._wait_s = wait_s
        self._timeline = Timeline(self.fps)
        self._cards = HoldingCards(self.width, self.height, f"waiting for {self.name}", self.fps)
        self._silent_since: float | None = None
        self._connector = Connector(self.name, self._attempt, NdiConnection.close, wait_s=wait_s,
                                    attempt_s=timeout_s, nothing=f"no NDI source named {name!r} appeared")
        self._connector.begin()
        self._connector.settle(1.0)  # a source that is there connects now

    def _receive(self, connection: NdiConnection, width: int | None, height: int | None, fps: float,
                 stall_s: float = 5.0) -> NdiReceiver:
        try:
            return NdiReceiver(connection, width=width, height=height, fps=fps, stall_s=stall_s)
        except BaseException:
            connection.close()
            raise

    def _attempt(self, timeout_s: float) -> NdiConnection:
        try:
            return connect_ndi(self._ndi_name, timeout_s, stop=self._stop)
        except NdiNotFound as e:
            raise NotYet(None if str(e).startswith("no NDI source") else "it was found but sent no video") from e

    def _on_audio(self, samples, pts_s: float) -> None:
        self._push_audio(AudioChunk(samples, self._timeline.audio(pts_s) if self._connector else pts_s))

    def read(self) -> SourceFrame | None:
        if self._connector is not None:
            return self._read_waiting(self._connector)
        assert self._receiver is not None
        video = self._receiver.read(self._on_audio)
        if video is None:
            return None
        frame = SourceFrame(video.image, time.monotonic(), video.pts_s, self._index)
        self._index += 1
        return frame

    def _read_waiting(self, connector: Connector[NdiConnection]) -> SourceFrame | None:
        while not self._stop.is_set():
            now = time.monotonic()
            if self._receiver is None:
                connection = connector.take(self._cards.wait_s(now))
                if connection is None:
                    if self._cards.wait_s(time.monotonic()) == 0:
                        return self._next_card()
                    continue
                self._receiver = self._receive(connection, self.width, self.height, self.fps, stall_s=float("inf"))
                self._timeline.restart()
            video = self._receiver.read(self._on_audio, timeout_s=DROP_S if self._silent_since is None
                                        else self._cards.wait_s(now))
            if video is not None:
                if self._silent_since is not None:
                    log.info("input %s is back", self.name)
                    self._silent_since = None
                    self._timeline.restart()
                frame = SourceFrame(video.image, time.monotonic(), self._timeline.video(video.pts_s), self._index)
                self._index += 1
                return frame
            if self._receiver.closed:
                break
            if self._silent_since is None:
                self._silent_since = time.monotonic() - DROP_S
                self._cards.restart(time.monotonic())
                log.warning("input %s dropped; waiting for it ...", self.name)
            if self._wait_s and time.monotonic() - self._silent_since >= self._wait_s:
                raise SourceError(f"input {self.name} dropped and no data arrived within {self._wait_s:g} s")
            if self._cards.wait_s(time.monotonic()) == 0:
                return self._next_card()
        return None

    def _next_card(self) -> SourceFrame:
        now = time.monotonic()
        frame = SourceFrame(self._cards.take(now), now, self._timeline.video(None), self._index, holding=True)
        self._index += 1
        return frame

    def close(self) -> None:
        self._stop.set()
        if self._connector is not None:
            self._connector.stop()
        if self._receiver is not None:
            self._receiver.close()
