"""Inputs (sources): cameras, video files, stream URLs and a generated test scene.

::

    with open_source("testsrc", width=640, height=360, fps=30) as source:
        while (frame := source.read()) is not None:
            frame.image          # (H, W, 3) uint8 RGB at the requested size
            for chunk in source.read_audio():
                chunk.samples    # (2, N) float32 at 48 kHz, chunk.pts_s on the frames' clock

A source is ``live`` (camera, URL, testsrc: frames come at their own pace, the
pipeline keeps only the newest) or not (a file: ``read`` returns every frame, as
fast as asked, never dropping). ``pts_s`` is media time in seconds, starting near
0 and always increasing (also across loops of a file and reconnects of a URL);
``time_s`` is the ``time.monotonic()`` capture time. Audio is decoded alongside
the video and kept (up to 10 s) until ``read_audio`` drains it.

A URL opened with ``wait_s`` (``live --input-wait``) need not be there yet: until its sender
starts (or while it is gone after a drop) ``read`` returns holding cards, frames marked
``holding`` that the live pipeline shows without dreaming (:mod:`stream.io.waiting`).
"""
from stream.io.sources.base import AudioChunk, Source, SourceFrame
from stream.io.sources.camera import WebcamSource
from stream.io.sources.file import FileSource
from stream.io.sources.ndi import NdiSource
from stream.io.sources.open import SOURCE_FORMS, open_source
from stream.io.sources.pattern import FakeCamera, Scene, TestSource
from stream.io.sources.url import UrlSource

__all__ = [
    "AudioChunk", "FakeCamera", "FileSource", "NdiSource", "SOURCE_FORMS", "Scene", "Source", "SourceFrame",
    "TestSource", "UrlSource", "WebcamSource", "open_source",
]
