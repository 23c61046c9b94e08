"""Probing a video file: opening it, picking its video stream, describing it (:func:`probe`) and its rotation."""
from __future__ import annotations

import logging
import os
from fractions import Fraction

import av

from engine.errors import SourceError
from stream.io.video.errors import reason
from stream.io.video.info import AudioInfo, VideoInfo
from stream.io.video.rotation import quarter_turns

log = logging.getLogger(__name__)


def _fraction(value: object) -> Fraction | None:
    return Fraction(value) if value else None  # type: ignore[arg-type]


def tag_duration(stream: av.stream.Stream) -> float | None:
    """The per-stream ``DURATION`` tag that Matroska files carry ("HH:MM:SS.nnnnnnnnn"), in seconds."""
    text = stream.metadata.get("DURATION") or stream.metadata.get("duration")
    try:
        hours, minutes, seconds = str(text).split(":")
        return int(hours) * 3600 + int(minutes) * 60 + float(seconds)
    except ValueError:
        return None


def display_rotation(path: str) -> int:
    """The first video frame's display rotation (0, 90, 180 or -90 degrees); 0 when it cannot be had."""
    try:
        with av.open(path, metadata_errors="replace") as container:
            stream = video_stream(container, path)
            for frame in container.decode(stream):
                k = quarter_turns(frame.rotation)
                if round(frame.rotation or 0) % 90:
                    log.warning("%s: display rotation %s degrees; using the nearest quarter turn", path, frame.rotation)
                return {0: 0, 1: 90, 2: 180, 3: -90}[k]
    except (av.FFmpegError, OSError, SourceError, UnicodeDecodeError):
        pass
    return 0


def open_input(path: str | os.PathLike[str]) -> tuple[av.container.InputContainer, av.video.stream.VideoStream]:
    """Open ``path`` and pick its video stream, or raise SourceError."""
    name = os.fspath(path)
    if not os.path.exists(name):
        raise SourceError(f"{name}: no such file")
    if os.path.isdir(name):
        raise SourceError(f"{name}: is a directory, not a video file")
    try:
        container = av.open(name, metadata_errors="replace")
    except (av.FFmpegError, OSError, UnicodeDecodeError) as exc:
        raise SourceError(f"{name}: not a readable video ({reason(exc)})") from exc
    try:
        return container, video_stream(container, name)
    except SourceError:
        container.close()
        raise


def video_stream(container: av.container.InputContainer, name: str) -> av.video.stream.VideoStream:
    """The container's first decodable video stream (cover pictures skipped), or SourceError."""
    streams = [s for s in container.streams.video if not s.disposition & av.stream.Disposition.attached_pic]
    if not streams:
        kinds = ", ".join(s.type for s in container.streams) or "none"
        raise SourceError(f"{name}: has no video stream (streams: {kinds})")
    stream = streams[0]
    if not stream.codec_context or not stream.width or not stream.height:
        raise SourceError(f"{name}: video stream {stream.index} cannot be decoded (codec {stream.codec.name})")
    return stream


def describe(container: av.container.InputContainer, stream: av.video.stream.VideoStream, path: str,
             fallback_fps: float | None = None, rotation: int = 0) -> VideoInfo:
    """``stream`` of the opened ``container`` as a :class:`VideoInfo`; SourceError if it has no frame rate."""
    tb = stream.time_base or Fraction(1, 90000)
    fps = _fraction(stream.average_rate) or _fraction(stream.guessed_rate) or _fraction(stream.base_rate)
    if not fps and fallback_fps:
        fps = Fraction(fallback_fps).limit_denominator(1001)
    if not fps:
        raise SourceError(f"{path}: video stream has no frame rate")
    start = stream.start_time if stream.start_time is not None else 0
    tagged = tag_duration(stream)
    if stream.duration:
        duration_s = float(stream.duration * tb)
    elif tagged:
        duration_s = tagged
    elif container.duration:
        duration_s = max(0.0, container.duration / av.time_base - float(start * tb))
    else:
        duration_s = 0.0
    exact = bool(stream.frames)
    frame_count = stream.frames if exact else round(duration_s * fps)
    audio = tuple(
        AudioInfo(
            index=a.index,
            codec=a.codec_context.name if a.codec_context else "unknown",
            sample_rate=a.sample_rate or 0,
            channels=a.channels or 0,
            layout=a.layout.name if a.layout else "",
            duration_s=float(a.duration * a.time_base) if a.duration and a.time_base else None,
        )
        for a in container.streams.audio
    )
    return VideoInfo(
        path=path,
        width=stream.width,
        height=stream.height,
        fps=fps,
        time_base=tb,
        frame_count=frame_count,
        frame_count_exact=exact,
        duration_s=duration_s,
        start_s=float(start * tb),
        codec=stream.codec_context.name,
        audio=audio,
        rotation=rotation,
    )


def probe(path: str | os.PathLike[str]) -> VideoInfo:
    """Describe the video file at ``path``; SourceError if it is missing, unreadable or has no video."""
    container, stream = open_input(path)
    try:
        return describe(container, stream, os.fspath(path), rotation=display_rotation(os.fspath(path)))
    finally:
        container.close()
