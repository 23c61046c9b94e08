"""Settings of the live section, and the live variants of the video and class-dream settings."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from engine.dream import DreamSettings
from engine.fields import Rule, setting
from engine.live_dream import LiveDreamSettings
from engine.temporal import TemporalSettings
from stream.settings.checks import rtmp_url
from stream.settings.encoder import AUDIO_BITRATE, KEYFRAME_INTERVAL, PRESET, VIDEO_BITRATE

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
    Each field's default, range and help: its :func:`engine.fields.setting`.
    """

    width: int = setting(640, Rule(32, 3840, even=True), "output width in pixels (even)")
    height: int = setting(360, Rule(32, 2160, even=True), "output height in pixels (even)")
    fps: int = setting(30, Rule(1, 120), "constant output rate; the newest dream repeats when behind")
    video_bitrate_kbps: int = setting(2500, VIDEO_BITRATE,
        "constant bitrate H.264 Main (Twitch: 3000-6000 at 720p)")
    audio_bitrate_kbps: int = setting(128, AUDIO_BITRATE, "AAC bitrate (Twitch: 128)")
    x264_preset: str = setting("veryfast", PRESET,
        "x264 speed preset: faster presets leave the cores to the dream")
    keyframe_interval_s: float = setting(2.0, KEYFRAME_INTERVAL, "seconds between keyframes (Twitch: 2)")
    overlay: str = setting("burned", Rule(choices=OVERLAYS, words=OVERLAY_WORDS),
        "draw the chat overlay when chat control is on")
    stats_interval_s: float = setting(5.0, Rule(0.1, 3600.0), "seconds between the stats lines in the log")
    capture_queue: int = setting(1, Rule(1, 64), "frames waiting for the dream (live sources keep only the newest)")
    class_crops: int = setting(1, Rule(1, 8),
        "crops per class step (chat !dream; one costs 0.6x two, pictures as good per frame)")
    class_size: int = setting(
        160, Rule(64, 512), "the side class crops are resized to: with class_crops, a class step's cost"
    )
    class_crop_min: float = setting(0.65, Rule(0.05, 1.0),
        "smallest crop, a fraction of the short side (large crops: a few large objects)")
    class_colour: float = setting(0.1, Rule(0.0, 1.0),
        "colour prior live: what is drawn takes the class's colours (0 = off; from the shipped table)")
    dream_scale: float = setting(0.6, Rule(0.05, 1.0),
        "the live dream builds up over frames at this fraction of the frame size")
    dream_max_side: int = setting(384, Rule(0, 16384),
        "the live dream's long side at most, in pixels (720p costs what 360p does; 0 = no cap)")
    steps_per_frame: int = setting(1, Rule(0, 20),
        "steps a frame, each at the next of octave_scales (shapes, not only texture)")
    step_scale: float = setting(1.0, Rule(0.0, 10.0), "each live step's size as a multiple of dream.step_size")
    octave_scales: tuple[float, ...] = setting((1.0, 0.7, 0.5, 0.35, 0.25), Rule(0.05, 1.0, items=8, nonempty=True),
        "the scales the live steps cycle over, as fractions of the live dream's size")
    decay: float = setting(0.005, Rule(0.0, 1.0),
        "per-frame fade of the dream's coarse part (no brightness or colour drift)")
    limit: float = setting(0.25, Rule(0.01, 1.0),
        "soft bound of the layer dream's strength (0-1 pixel units): never saturates")
    scene_limit: float = setting(0.05, Rule(0.0, 1.0),
        "soft bound of how far it moves the picture's coarse structure: the scene (a face, a landscape) stays under "
        "the dream at any run length (!strength 1.5: 3.4x)")
    class_limit: float = setting(0.35, Rule(0.01, 1.0),
        "limit for a class target (!dream): larger objects")
    class_scene_limit: float = setting(
        0.15, Rule(0.0, 1.0), "scene_limit for a class target: the scene around its objects still recognisable"
    )
    fade_s: float = setting(1.0, Rule(0.0, 30.0), "a new target takes over in this many seconds")
    twitch_ingest: str = setting(
        "rtmp://live.twitch.tv/app", Rule(check=rtmp_url), "the RTMP ingest of --output twitch (or the one nearest you)"
    )
    stream_key_file: str | None = setting(None, help="else $TWITCH_STREAM_KEY; never put the key in a config file")
    input_wait_s: float = setting(0.0, Rule(0.0, 86_400.0),
        "wait this long for a network input not up yet or dropped (holding card; 0 = forever)")
    target_fps: float = setting(25.0, Rule(1.0, 120.0, off=0),
        "adaptive quality: hold this many dreamed fps on a busy machine by taking the dream's steps on fewer frames "
        "(every frame still shown; a layer dream also dreams smaller at the cheapest levels); 0 = off: every frame at "
        'full quality (README "Adaptive quality")')
    class_target_fps: float = setting(
        20.0,
        Rule(1.0, 120.0),
        "the dreamed fps a class dream (!dream) holds: lower, since a class dream dreamed smaller loses its object "
        "(the "
        "quality suite: 21 of 30 classes at 10 s at full size, 11 at 0.9)",
    )
    watchdog_s: float = setting(10.0, Rule(1.0, 3600.0, off=0),
        "a dream that gives no frame this long (a hung step) is restarted on a fresh stage, the input shown plain "
        "meanwhile; one that fails restarts at once (0 = off: a failing dream stops the stream)")
    overlap: bool = setting(True,
        help="a frame's steps run on a thread of their own while the frame around them is made; they join the dream a "
             "frame later (2 cores: class dreams 1.5x as fast)")


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
    ``live.class_crop_min`` of the short side, the colour prior ``live.class_colour``, and the layer dream's step
    count."""
    return dataclasses.replace(class_dream, crops=live.class_crops, crop_size=live.class_size,
                               crop_min=live.class_crop_min, colour=live.class_colour, steps=dream.steps)
