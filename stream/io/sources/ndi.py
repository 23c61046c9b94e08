"""An NDI source as an input (``ndi:NAME``)."""
from __future__ import annotations

import time

from stream.io.ndi_receive import NdiReceiver, connect_ndi
from stream.io.sources.base import AudioChunk, Source, SourceFrame


class NdiSource(Source):
    """``ndi:NAME``: an NDI source on the network (:mod:`stream.io.ndi_receive`), ``live = True``.

    Opening waits up to ``timeout_s`` for the source and its first frame; one that is not there
    raises :class:`~stream.io.ndi_receive.NdiNotFound` (a SourceError). ``fps`` is the source's rate.
    """

    live = True

    def __init__(self, name: str, *, width: int | None, height: int | None, fps: float,
                 timeout_s: float = 10.0) -> None:
        super().__init__()
        connection = connect_ndi(name, timeout_s)
        try:
            self._receiver = NdiReceiver(connection, width=width, height=height, fps=fps)
        except BaseException:
            connection.close()
            raise
        self.name = self._receiver.name
        self.width, self.height, self.fps = self._receiver.width, self._receiver.height, self._receiver.fps
        self.has_audio = True  # not announced by NDI; silence until sound comes
        self._index = 0

    def read(self) -> SourceFrame | None:
        video = self._receiver.read(lambda samples, pts_s: self._push_audio(AudioChunk(samples, pts_s)))
        if video is None:
            return None
        frame = SourceFrame(video.image, time.monotonic(), video.pts_s, self._index)
        self._index += 1
        return frame

    def close(self) -> None:
        self._receiver.close()
