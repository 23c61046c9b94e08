"""What a video is: a probed file (:class:`VideoInfo`, its :class:`AudioInfo`) or a spec to write
(:class:`VideoSpec`)."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction


@dataclass(frozen=True)
class AudioInfo:
    """One audio stream of a file."""

    index: int  # stream index in the container
    codec: str
    sample_rate: int
    channels: int
    layout: str
    duration_s: float | None


@dataclass(frozen=True)
class VideoSpec:
    """What a writer needs to know about the video it writes (when there is no input file to copy)."""

    width: int
    height: int
    fps: Fraction
    time_base: Fraction | None = None  # default 1/fps
    rotation: int = 0  # display rotation, degrees counter-clockwise (as VideoInfo.rotation)


@dataclass(frozen=True)
class VideoInfo:
    """A video file as probed: its first video stream and every audio stream.

    ``frame_count`` is exact when ``frame_count_exact`` (the container stores it, e.g. mp4/mov),
    otherwise estimated from the duration and the frame rate. ``start_s`` is the video stream's
    start time (usually 0; MPEG-TS files start later). ``width`` x ``height`` is the size as stored;
    ``rotation`` (0, 90, 180 or -90) is the display matrix's turn, counter-clockwise in degrees (a phone
    held upright records landscape pictures tagged -90): the reader delivers frames turned upright,
    ``display_width`` x ``display_height``.
    """

    path: str
    width: int
    height: int
    fps: Fraction
    time_base: Fraction
    frame_count: int
    frame_count_exact: bool
    duration_s: float
    start_s: float
    codec: str
    audio: tuple[AudioInfo, ...]
    rotation: int = 0

    @property
    def has_audio(self) -> bool:
        return bool(self.audio)

    @property
    def display_width(self) -> int:
        return self.height if self.rotation % 180 else self.width

    @property
    def display_height(self) -> int:
        return self.width if self.rotation % 180 else self.height
