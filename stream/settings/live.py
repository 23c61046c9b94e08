"""Settings of the live section, and the live variants of the video and class-dream settings."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from engine.dream import DreamSettings
from engine.errors import ConfigError
from engine.temporal import TemporalSettings

OVERLAYS = ("burned", "browser", "off")
_OVERLAY_WORDS = {"burned": "burned", "true": "burned", "yes": "burned", "on": "burned", "1": "burned",
                  "browser": "browser", "off": "off", "false": "off", "no": "off", "0": "off", "none": "off"}


@dataclass(frozen=True)
class LiveSettings:
    """The live stream's shape and behaviour (section ``live``).

    ``class_crops`` replaces ``class_dream.crops`` and class targets take ``dream.steps``, so a
    chat ``!dream`` costs about as much per frame as a layer dream.
    ``dream_scale``, ``steps_per_frame`` and ``step_scale`` replace the ``video`` section's for live
    use, where speed comes first: one step a frame, twice as long, keeps the dream as strong.
    ``overlay`` is ``burned`` (the chat overlay drawn into the video), ``browser`` (not drawn:
    the web panel's ``/overlay`` page shows it in OBS instead) or ``off`` (true/false still work).
    ``twitch_ingest`` is the RTMP ingest for the ``twitch`` output (the stream key comes
    from ``$TWITCH_STREAM_KEY`` or ``stream_key_file``, never from the config or argv).
    """

    width: int = 640
    height: int = 360
    fps: int = 30
    video_bitrate_kbps: int = 2500
    audio_bitrate_kbps: int = 128
    x264_preset: str = "veryfast"
    keyframe_interval_s: float = 2.0
    overlay: str = "burned"
    stats_interval_s: float = 5.0
    capture_queue: int = 1
    class_crops: int = 1
    dream_scale: float = 0.4
    steps_per_frame: int = 1
    step_scale: float = 2.0
    twitch_ingest: str = "rtmp://live.twitch.tv/app"
    stream_key_file: str | None = None

    def __post_init__(self) -> None:
        overlay = _OVERLAY_WORDS.get(str(self.overlay).strip().lower())
        if overlay is None:
            raise ConfigError(f"live.overlay {self.overlay!r} is not allowed; allowed: {', '.join(OVERLAYS)}")
        object.__setattr__(self, "overlay", overlay)
        if self.width % 2 or self.height % 2 or not (32 <= self.width <= 3840 and 32 <= self.height <= 2160):
            raise ConfigError(f"live size {self.width}x{self.height} is not allowed; even sizes from 32x32 to 3840x2160")
        if not 1 <= self.fps <= 120:
            raise ConfigError(f"live.fps {self.fps} is out of range; allowed 1 to 120")
        if not 0.05 <= self.dream_scale <= 1.0:
            raise ConfigError(f"live.dream_scale {self.dream_scale} is out of range; allowed 0.05 to 1")
        if not 0 <= self.steps_per_frame <= 20:
            raise ConfigError(f"live.steps_per_frame {self.steps_per_frame} is out of range; allowed 0 to 20")
        if not 0.0 <= self.step_scale <= 10.0:
            raise ConfigError(f"live.step_scale {self.step_scale} is out of range; allowed 0 to 10")
        if not 1 <= self.class_crops <= 8:
            raise ConfigError(f"live.class_crops {self.class_crops} is out of range; allowed 1 to 8")
        if self.capture_queue < 1:
            raise ConfigError(f"live.capture_queue {self.capture_queue} must be at least 1")


def live_temporal(video: TemporalSettings, live: LiveSettings) -> TemporalSettings:
    """The ``video`` section's temporal settings with the live section's speed-first replacements."""
    return dataclasses.replace(video, dream_scale=live.dream_scale, steps_per_frame=live.steps_per_frame,
                               step_scale=live.step_scale)


def live_class_dream(class_dream: DreamSettings, dream: DreamSettings, live: LiveSettings) -> DreamSettings:
    """Class-target settings for live use: ``live.class_crops`` crops and the layer dream's step count."""
    return dataclasses.replace(class_dream, crops=live.class_crops, steps=dream.steps)
