"""Settings of the live section, and the live variants of the video and class-dream settings."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from engine.dream import DreamSettings
from engine.live_dream import LiveDreamSettings
from engine.temporal import TemporalSettings

OVERLAYS = ("burned", "browser", "off")
OVERLAY_WORDS = {"burned": "burned", "true": "burned", "yes": "burned", "on": "burned", "1": "burned",
                  "browser": "browser", "off": "off", "false": "off", "no": "off", "0": "off", "none": "off"}


@dataclass(frozen=True)
class LiveSettings:
    """The live stream's shape and behaviour (section ``live``).

    The live dream builds up over frames (:mod:`engine.live_dream`): ``steps_per_frame`` steps a
    frame (each ``step_scale`` times the dream's step size) at ``dream_scale`` of the frame
    (at most ``dream_max_side`` pixels on its long side: 720p costs what 360p does),
    cycling over ``octave_scales`` so that shapes form, not only texture; ``decay`` fades the
    dream's coarse part a frame, ``limit`` bounds its strength and ``scene_limit`` how far it may move
    the scene's coarse structure (``class_limit`` and ``class_scene_limit`` while a class target is
    dreamed: larger objects, the scene still around them), and a new target takes over in
    ``fade_s`` seconds. ``class_crops`` replaces ``class_dream.crops`` (crops per class step) and
    ``class_size`` the classifier's input side for them, which sets a class step's cost;
    ``class_crop_min`` replaces ``class_dream.crop_min`` (the smallest crop, as a fraction of the
    short side: large crops draw a few large objects, small ones many small ones, a texture);
    ``class_colour`` replaces ``class_dream.colour`` (the colour prior; its colours come from the
    shipped class colour table, :mod:`stream.io.class_colours`, so a new target dreams at once).
    ``overlay`` is ``burned`` (the chat overlay drawn into the video), ``browser`` (not drawn:
    the web panel's ``/overlay`` page shows it in OBS instead) or ``off`` (true/false still work).
    ``twitch_ingest`` is the RTMP ingest for the ``twitch`` output (the stream key comes
    from ``$TWITCH_STREAM_KEY`` or ``stream_key_file``, never from the config or argv).
    ``input_wait_s`` is how long a network input that is not there yet (or dropped) is waited
    for, with a holding card on the stream, before the run stops (0 = forever). ``target_fps`` is
    the dreamed rate adaptive quality holds by making frames cheaper on a busy machine (fewer
    frames take the dream's steps; 0 = off: every frame at the configured quality;
    :mod:`stream.live.adaptive`); a class dream holds ``class_target_fps`` instead (lower: a class
    dream made smaller or with fewer steps loses its object sooner than it loses smoothness; used
    while ``target_fps`` is on). ``overlap`` takes a frame's steps on a thread of their own while
    the frame around them is made; they join the dream a frame later (:mod:`engine.step_worker`;
    off: in turn with the rest of the frame).
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
    class_size: int = 160
    class_crop_min: float = 0.65
    class_colour: float = 0.1
    dream_scale: float = 0.6
    dream_max_side: int = 384
    steps_per_frame: int = 1
    step_scale: float = 1.0
    octave_scales: tuple[float, ...] = (1.0, 0.7, 0.5, 0.35, 0.25)
    decay: float = 0.005
    limit: float = 0.25
    scene_limit: float = 0.05
    class_limit: float = 0.35
    class_scene_limit: float = 0.15
    fade_s: float = 1.0
    twitch_ingest: str = "rtmp://live.twitch.tv/app"
    stream_key_file: str | None = None
    input_wait_s: float = 0.0
    target_fps: float = 25.0
    class_target_fps: float = 20.0
    overlap: bool = True


def live_temporal(video: TemporalSettings, live: LiveSettings, for_class: bool = False) -> LiveDreamSettings:
    """The live dream's settings: flow and cut detection from the ``video`` section, the rest from ``live``
    (``for_class``: the bounds of a class dream, ``class_limit`` and ``class_scene_limit``)."""
    return LiveDreamSettings(
        flow=video.flow, flow_preset=video.flow_preset, cut_threshold=video.cut_threshold,
        dream_scale=live.dream_scale, dream_max_side=live.dream_max_side, octave_scales=tuple(live.octave_scales),
        steps_per_frame=live.steps_per_frame, step_scale=live.step_scale, decay=live.decay,
        limit=live.class_limit if for_class else live.limit,
        scene_limit=live.class_scene_limit if for_class else live.scene_limit,
        fade_frames=round(live.fade_s * live.fps),
    )


def live_class_dream(class_dream: DreamSettings, dream: DreamSettings, live: LiveSettings) -> DreamSettings:
    """Class-target settings for live use: ``live.class_crops`` crops of ``live.class_size`` pixels, at least
    ``live.class_crop_min`` of the short side, the colour prior ``live.class_colour``, and the layer dream's step count."""
    return dataclasses.replace(class_dream, crops=live.class_crops, crop_size=live.class_size,
                               crop_min=live.class_crop_min, colour=live.class_colour, steps=dream.steps)
