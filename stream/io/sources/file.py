"""A video file as an input (``live`` false: every frame, as fast as asked; ``--loop``)."""
from __future__ import annotations

import os

from engine.errors import SourceError
from stream.io.sources.base import SourceFrame
from stream.io.sources.decoding import AvSource, Timeline
from stream.io.video.reader import VideoReader


class FileSource(AvSource):
    """A video file decoded with PyAV; every frame is delivered (``live = False``)."""

    live = False

    def __init__(self, path: str, *, width: int | None, height: int | None, fps: float, loop: bool) -> None:
        super().__init__()
        self.path = path
        self.name = path
        self.loop = loop
        self._width, self._height = width, height
        self._index = 0
        self._frames_this_pass = 0
        reader = self._start(self._open())
        self.width, self.height = reader.width, reader.height
        self.fps = float(reader.info.fps) or float(fps)
        self.has_audio = reader.has_audio
        self._timeline = Timeline(self.fps)

    def _open(self) -> VideoReader:
        if not os.path.isfile(self.path):
            raise SourceError(f"input file {self.path!r} does not exist")
        try:
            return VideoReader(self.path, width=self._width, height=self._height, audio=True)
        except SourceError as exc:
            reason = str(exc).removeprefix(f"{self.path}: ")
            raise SourceError(f"input file {self.path!r} cannot be opened: {reason}") from None

    def read(self) -> SourceFrame | None:
        """The next frame; a damaged file ends where it stops decoding (the reader logs it)."""
        while self._reader is not None:
            got = self._next_video()
            if got is not None:
                self._frames_this_pass += 1
                return self._frame(*got)
            self._pump_audio()
            self._reader.close()
            self._reader = None
            if self.loop and self._frames_this_pass:
                self._frames_this_pass = 0
                self._start(self._open())
                self._timeline.restart()
        return None

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None
