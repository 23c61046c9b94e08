"""``open_source``: an input from its spec, and the forms a spec may take."""
from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

from engine.errors import SourceError, did_you_mean
from stream.io.backoff import BackoffPolicy
from stream.io.ndi_lib import input_name, is_ndi
from stream.io.redact import redact_url
from stream.io.sources.base import Source, check_size
from stream.io.sources.camera import WebcamSource
from stream.io.sources.file import FileSource
from stream.io.sources.ndi import NdiSource
from stream.io.sources.pattern import TestSource
from stream.io.sources.url import UrlSource

URL_SCHEMES = ("rtmp", "rtmps", "http", "https", "udp", "tcp")
SOURCE_FORMS = (
    "webcam:N",
    "/dev/videoN",
    "a video file path",
    "a URL (rtmp://, rtmps://, http://, https://, udp://, tcp://)",
    "testsrc",
    "ndi:NAME (an NDI source)",
)


def open_source(
    spec: str,
    *,
    width: int | None = None,
    height: int | None = None,
    fps: float = 30.0,
    loop: bool = False,
    open_timeout_s: float = 10.0,
    read_timeout_s: float = 5.0,
    backoff: BackoffPolicy = BackoffPolicy(),
    wait_s: float | None = None,
) -> Source:
    """Open an input: ``webcam:N``, ``/dev/videoN``, a file path, a URL, ``testsrc`` or ``ndi:NAME``.

    ``width``/``height`` resize (one of them keeps the aspect ratio); ``fps`` is the
    rate of testsrc and cameras; ``loop`` repeats a file. Raises :class:`SourceError`
    for a missing camera or file, a URL that cannot be opened, or an unknown spec.
    ``wait_s`` (seconds, 0 = forever) waits for a URL or an NDI source that is not there yet,
    showing holding cards meanwhile (:class:`UrlSource`, :class:`NdiSource`); other inputs ignore it.
    """
    check_size(width, height, fps)
    allowed = "allowed inputs: " + ", ".join(SOURCE_FORMS)
    if spec == "testsrc":
        return TestSource(width, height, fps)
    if is_ndi(spec):
        return NdiSource(input_name(spec, SourceError), width=width, height=height, fps=fps, timeout_s=open_timeout_s,
                         wait_s=wait_s)
    camera = re.fullmatch(r"webcam:(\d+)", spec)
    if camera or re.fullmatch(r"/dev/video\d+", spec):
        device = f"/dev/video{camera.group(1)}" if camera else spec
        return WebcamSource(device, width=width, height=height, fps=fps, spec=spec)
    if "://" in spec:
        scheme = urlsplit(spec).scheme.lower()
        if scheme in URL_SCHEMES:
            return UrlSource(spec, width=width, height=height, fps=fps, open_timeout_s=open_timeout_s,
                             read_timeout_s=read_timeout_s, backoff=backoff, wait_s=wait_s)
        extra = " (srt is not available in this FFmpeg build)" if scheme == "srt" else ""
        raise SourceError(f"input {redact_url(spec)!r} has an unsupported scheme {scheme!r}{extra}; {allowed}")
    if Path(spec).is_file():
        return FileSource(spec, width=width, height=height, fps=fps, loop=loop)
    if Path(spec).suffix:
        raise SourceError(f"input file {spec!r} does not exist")
    raise SourceError(f"input {spec!r} is not a camera, a file that exists, or a URL; {allowed}"
                      + did_you_mean(spec, ("testsrc", "webcam:0")))
