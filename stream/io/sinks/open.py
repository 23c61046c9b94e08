"""Outputs (sinks): RTMP/RTMPS (FLV), Twitch, files, UDP (MPEG-TS), a preview window.

Every sink takes RGB frames and stereo float audio with presentation times and
encodes H.264 + AAC::

    settings = EncoderSettings(width=640, height=360, fps=30)
    with open_sink("rtmp://127.0.0.1:1935/app/KEY", settings) as sink:
        sink.write_video(image, pts_s)      # image: (H, W, 3) uint8 RGB
        sink.write_audio(samples, pts_s)    # samples: (2, N) float32 in [-1, 1]

Timing contract: video is constant frame rate. A frame's pts is
``round((pts_s - first_pts_s) * fps)`` frames after the first written frame (the
caller guarantees one frame per tick; a pts that does not advance is bumped to
the next tick). Audio is placed on a sample clock at ``settings.audio_rate``
starting at the first video frame's time; small jitter is ignored, gaps are
filled with silence, overlaps are trimmed, and when no audio is written at all
silence is inserted so the track never stalls.

Network sinks (``rtmp://``, ``rtmps://``, ``twitch``, ``udp://``) connect and encode
in a child process (:mod:`stream.io.sinks.child`) and are wrapped in a
:class:`ReconnectingSink`: writes never block or raise while the receiver is gone;
frames are dropped while down and a fresh connection (new FLV header, keyframe
first, timestamps from 0) is made with exponential backoff.

PyAV caveats found while writing this (PyAV 18.1):

* An RTMP output connects lazily on the first ``mux`` (which is why PyAV issue
  #1010 looks like a silent failure); the sinks call ``start_encoding()`` at open
  so a refused connection raises at once.
* ``start_encoding()`` runs ``avio_open`` (TCP connect + RTMP handshake) holding
  the GIL and with no timeout: every Python thread of the process stalls while an
  output connects, for good if the server accepts the connection and never answers.
  Hence network outputs run in a child process. A PyAV RTMP *receiver* with a
  timeout in the same process as a publisher deadlocks with it (its interrupt
  callback needs the GIL); tests run the receiver in a subprocess.
* Muxing is interleaved: with an audio stream, video packets wait for audio up to
  ``max_interleave_delta`` (set to 1 s here), and write errors surface only when
  the buffer is flushed (``flush_packets=1`` here, so a dead receiver is noticed
  on the next packet).

The stream key never appears in ``name``, ``repr``, log lines or error messages:
see :func:`redact_url`.
"""
from __future__ import annotations

import logging
import socket
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

from engine.errors import SinkError, did_you_mean
from stream.io.backoff import BackoffPolicy
from stream.io.redact import redact_url, secrets_of
from stream.io.sinks.base import NullSink, Sink
from stream.io.sinks.file import FileSink
from stream.io.sinks.preview import PreviewSink
from stream.io.sinks.reconnect import ReconnectingSink
from stream.settings.encoder import EncoderSettings
from stream.settings.names import CONTAINERS

log = logging.getLogger(__name__)

SINK_FORMS = (
    "rtmp://host/app/KEY",
    "rtmps://host/app/KEY",
    "twitch",
    "a file path ending in " + ", ".join(CONTAINERS),
    "udp://host:port",
    "preview",
    "vcam or vcam:/dev/videoN (a virtual camera)",
    "ndi:NAME (an NDI source)",
    "null",
)


# --------------------------------------------------------------------------- settings


# --------------------------------------------------------------------------- redaction


# --------------------------------------------------------------------------- sink base


# --------------------------------------------------------------------------- PyAV sink


# --------------------------------------------------------------------------- reconnecting wrapper


# --------------------------------------------------------------------------- preview window


# --------------------------------------------------------------------------- open_sink


def twitch_url(ingest: str, stream_key: str) -> str:
    """``rtmp://<ingest>/app/<key>`` from an ingest URL (``.../app`` or containing ``{stream_key}``)."""
    if "{stream_key}" in ingest:
        return ingest.replace("{stream_key}", stream_key)
    return ingest.rstrip("/") + "/" + stream_key


def open_sink(
    spec: str,
    settings: EncoderSettings,
    *,
    twitch_ingest: str | None = None,
    stream_key: str | None = None,
    reconnect: bool = True,
    backoff: BackoffPolicy = BackoffPolicy(),
    clock: Callable[[], float] = time.monotonic,
) -> Sink:
    """Open an output from its spec (see :data:`SINK_FORMS`).

    Network outputs connect now (SinkError if refused) and, with ``reconnect``,
    come wrapped in a :class:`ReconnectingSink`. ``twitch`` needs ``twitch_ingest``
    (e.g. ``rtmp://live.twitch.tv/app``) and ``stream_key``.
    """
    allowed = "allowed outputs: " + ", ".join(SINK_FORMS)
    if spec == "twitch":
        if not twitch_ingest:
            raise SinkError("output twitch needs an ingest URL (config/twitch.yaml ingest)")
        if not stream_key:
            raise SinkError("output twitch needs a stream key (TWITCH_STREAM_KEY or a key file)")
        if urlsplit(twitch_ingest).scheme.lower() not in ("rtmp", "rtmps"):
            raise SinkError(f"twitch ingest {redact_url(twitch_ingest)!r} must be an rtmp:// or rtmps:// URL")
        url = twitch_url(twitch_ingest, stream_key)
        return _network_sink(url, settings, "flv", f"twitch ({redact_url(url)})", (stream_key,),
                             reconnect, backoff, clock)
    if spec == "preview":
        return PreviewSink(settings)
    if spec == "null":
        return NullSink(settings)
    if spec == "vcam" or spec.startswith("vcam:"):
        from stream.io.sinks.vcam import open_vcam

        return open_vcam(spec, settings)
    if spec.startswith("ndi:"):
        from stream.io.sinks.ndi import open_ndi

        return open_ndi(spec, settings)
    try:
        scheme = urlsplit(spec).scheme.lower() if "://" in spec else ""
        if scheme == "udp":
            urlsplit(spec).port  # noqa: B018 - raises ValueError for a bad port
    except ValueError as e:
        shown = spec if spec.lower().startswith("udp://") else redact_url(spec)
        raise SinkError(f"output {shown!r} is not a valid URL ({e}); {allowed}") from None
    if scheme in ("rtmp", "rtmps"):
        if not urlsplit(spec).hostname:
            raise SinkError(f"output {redact_url(spec)!r} has no host; {allowed}")
        return _network_sink(spec, settings, "flv", redact_url(spec), (), reconnect, backoff, clock)
    if scheme == "udp":
        parts = urlsplit(spec)
        if not parts.hostname or not parts.port:
            raise SinkError(f"output {spec!r} needs a host and a port (udp://host:port)")
        url = spec if "pkt_size" in parts.query else spec + ("&" if parts.query else "?") + "pkt_size=1316"
        return _network_sink(url, settings, "mpegts", redact_url(spec), (), reconnect, backoff, clock)
    if scheme:
        extra = " (srt is not available in this FFmpeg build)" if scheme == "srt" else ""
        raise SinkError(f"output {redact_url(spec)!r} has an unsupported scheme {scheme!r}{extra}; {allowed}")
    path = Path(spec)
    if path.suffix.lower() not in CONTAINERS:
        raise SinkError(f"output {spec!r} is not a known output; {allowed}"
                        + did_you_mean(spec, ("twitch", "preview", "vcam", "null")))
    return FileSink(str(path), settings)


def _network_sink(
    url: str,
    settings: EncoderSettings,
    format: str,
    name: str,
    extra_secrets: tuple[str, ...],
    reconnect: bool,
    backoff: BackoffPolicy,
    clock: Callable[[], float],
) -> Sink:
    options = {"flush_packets": "1", "max_interleave_delta": "1000000"}
    if format == "flv":
        options["flvflags"] = "no_duration_filesize"
    secrets = secrets_of(url, extra_secrets)
    parts = urlsplit(url)

    def opener() -> Sink:
        # Resolve here, where the GIL is released: FFmpeg resolves and connects holding it.
        try:
            socket.getaddrinfo(parts.hostname, parts.port or 1935, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as exc:
            raise SinkError(f"cannot open output {name}: cannot resolve host {parts.hostname!r} ({exc})") from None
        from stream.io.sinks.child import ChildSink  # it imports this module

        return ChildSink(url, settings, format=format, name=name, container_options=options, secrets=secrets)

    if not reconnect:
        return opener()
    return ReconnectingSink(opener, name, backoff=backoff, clock=clock, settings=settings)


__all__ = ["SINK_FORMS", "open_sink", "twitch_url"]
