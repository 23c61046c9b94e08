"""Settings of the live section, and the live variants of the video and class-dream settings."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from engine.dream import DreamSettings
from engine.temporal import TemporalSettings

OVERLAYS = ("burned", "browser", "off")
OVERLAY_WORDS = {"burned": "burned", "true": "burned", "yes": "burned", "on": "burned", "1": "burned",
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
    Ranges and choices: :data:`stream.settings.loader.SCHEMA`.
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


def live_temporal(video: TemporalSettings, live: LiveSettings) -> TemporalSettings:
    """The ``video`` section's temporal settings with the live section's speed-first replacements."""
    return dataclasses.replace(video, dream_scale=live.dream_scale, steps_per_frame=live.steps_per_frame,
                               step_scale=live.step_scale)


def live_class_dream(class_dream: DreamSettings, dream: DreamSettings, live: LiveSettings) -> DreamSettings:
    """Class-target settings for live use: ``live.class_crops`` crops and the layer dream's step count."""
    return dataclasses.replace(class_dream, crops=live.class_crops, steps=dream.steps)
