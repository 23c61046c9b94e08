"""The live pipeline: a camera, file or stream in; dreamed video out to Twitch, files and a preview.

Stages run on threads joined by bounded queues::

    capture --frames--> dream (flow, warp, steps) --newest--> output clock --> overlay --> sinks
            --audio---------------------------------------------------------^

* capture: a live source keeps only the newest frame (stale frames are dropped to bound
  latency); a file source blocks and never drops.
* dream: reads the shared :class:`~stream.control.ControlBoard` once per frame, so a chat
  change applies atomically between frames; carries the dream along the optical flow.
* output clock: emits frames at a constant rate; when the dream runs behind, the newest
  dreamed frame is repeated so the stream never stalls. Each sink encodes on its own thread
  and reconnects on its own (see :mod:`stream.sinks`).
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import queue
import signal
import sys
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from engine.dream import Dreamer, DreamSettings
from engine.errors import ConfigError, DreamError, SinkError
from engine.imagenet import display_name
from engine.models.registry import DreamModel
from engine.objectives import Objective, klass, layer
from engine.temporal import TemporalDreamer, TemporalSettings
from stream.control import ControlBoard, LiveControls

log = logging.getLogger(__name__)

STREAM_KEY_ENV = "TWITCH_STREAM_KEY"
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
    the web panel's ``/overlay`` page shows it in OBS instead) or ``off``.
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
        overlay = OVERLAY_WORDS.get(str(self.overlay).strip().lower())
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


# ---------------------------------------------------------------------------- stats


class LiveStats:
    """Counters and latencies shared by the stages; :meth:`report` summarises an interval."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.lock = threading.Lock()
        self.captured = self.dropped = self.dreamed = self.output = self.repeated = 0
        self.latencies: deque[float] = deque(maxlen=2000)
        # The whole run's latencies in 0.1 ms bins: bounded memory for a stream that runs for hours.
        self.latency_bins: Counter[int] = Counter()
        self._last = {"t": clock(), "captured": 0, "dreamed": 0, "output": 0, "dropped": 0, "repeated": 0}

    def add(self, **counts: int) -> None:
        with self.lock:
            for k, v in counts.items():
                setattr(self, k, getattr(self, k) + v)

    def latency(self, seconds: float) -> None:
        with self.lock:
            self.latencies.append(seconds)
            self.latency_bins[round(seconds * 1e4)] += 1

    def run_latency_ms(self, q: float) -> float | None:
        """Percentile ``q`` of every latency so far, in ms (0.1 ms resolution); None before any."""
        with self.lock:
            total = sum(self.latency_bins.values())
            if not total:
                return None
            rank = min(total - 1, max(0, round(q / 100 * (total - 1))))
            seen = 0
            for tenth_ms, count in sorted(self.latency_bins.items()):
                seen += count
                if seen > rank:
                    return tenth_ms / 10
        raise AssertionError("unreachable")

    def report(self) -> dict[str, Any]:
        """Rates since the last report and latency percentiles (ms) of that interval."""
        with self.lock:
            now = self.clock()
            dt = max(1e-6, now - self._last["t"])
            lat = sorted(self.latencies)
            self.latencies.clear()
            out = {
                "time": round(time.time(), 3),
                "input_fps": round((self.captured - self._last["captured"]) / dt, 2),
                "dreamed_fps": round((self.dreamed - self._last["dreamed"]) / dt, 2),
                "output_fps": round((self.output - self._last["output"]) / dt, 2),
                "latency_p50_ms": round(1000 * percentile(lat, 50), 1) if lat else None,
                "latency_p95_ms": round(1000 * percentile(lat, 95), 1) if lat else None,
                "dropped": self.dropped - self._last["dropped"],
                "repeated": self.repeated - self._last["repeated"],
                "totals": {"captured": self.captured, "dreamed": self.dreamed, "output": self.output,
                           "dropped": self.dropped, "repeated": self.repeated},
            }
            self._last = {"t": now, "captured": self.captured, "dreamed": self.dreamed, "output": self.output,
                          "dropped": self.dropped, "repeated": self.repeated}
            return out


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of already sorted values."""
    if not sorted_values:
        return float("nan")
    k = min(len(sorted_values) - 1, max(0, round(q / 100 * (len(sorted_values) - 1))))
    return sorted_values[k]


# ---------------------------------------------------------------------------- dream stage


@dataclass
class Dreamed:
    """The newest dreamed frame: RGB image, capture time (monotonic s), source pts (s), sequence number."""

    image: np.ndarray
    captured_at: float
    pts_s: float
    seq: int


class DreamStage:
    """Applies the current controls and dreams one frame at a time (owns the model and flow state)."""

    def __init__(
        self,
        model: DreamModel,
        dream: DreamSettings,
        class_dream: DreamSettings,
        temporal: TemporalSettings,
        board: ControlBoard | None,
        load_model: Callable[[str], DreamModel] | None = None,
    ) -> None:
        self.model = model
        self.base = {"dream": dream, "class": class_dream}
        self.temporal_settings = temporal
        self.board = board
        self.load_model = load_model
        self.applied: LiveControls | None = None
        self.version = -1
        initial = board.get() if board else LiveControls(model=model.spec.name, layer=model.spec.default_layer)
        self.temporal = self._build(initial)

    def _objective(self, c: LiveControls) -> tuple[Objective, DreamSettings]:
        if c.target is not None:
            objective, base = klass(c.target), self.base["class"]
        else:
            objective, base = layer(self.model.spec.layer(c.layer).name), self.base["dream"]
        settings = dataclasses.replace(base, octaves=c.octaves, step_size=base.step_size * c.strength)
        return objective, settings

    def _build(self, c: LiveControls) -> TemporalDreamer:
        objective, settings = self._objective(c)
        temporal = dataclasses.replace(self.temporal_settings, flow=c.flow)
        self.applied = c
        return TemporalDreamer(Dreamer(self.model, objective, settings), temporal)

    def apply(self) -> None:
        """Take the board's controls if they changed (between frames, atomically)."""
        if self.board is None:
            return
        c, version = self.board.snapshot()
        if version == self.version:
            return
        self.version = version
        old = self.applied
        if old is not None and c.model != old.model and self.load_model is not None:
            log.info("switching model to %s", c.model)
            self.model = self.load_model(c.model)
            self.temporal = self._build(c)
            return
        if old is not None and c.flow != old.flow:
            self.temporal = self._build(c)
            return
        objective, settings = self._objective(c)
        self.temporal.dreamer.settings = settings
        self.temporal.set_objective(objective)
        self.applied = c
        what = f"class {display_name(c.target)}" if c.target is not None else f"layer {c.layer}"
        log.info("now dreaming %s (strength %.2g, octaves %d)", what, c.strength, c.octaves)

    def __call__(self, image: np.ndarray) -> np.ndarray:
        self.apply()
        return self.temporal(image)


# ---------------------------------------------------------------------------- overlay


def draw_overlay(image: np.ndarray, lines: Sequence[str]) -> np.ndarray:
    """``lines`` of text in a translucent box at the bottom left of a copy of ``image`` (RGB)."""
    if not lines:
        return image
    out = image.copy()
    h, w = out.shape[:2]
    scale = max(0.35, min(1.0, h / 720))
    line_h = int(26 * scale) + 4
    box_h = line_h * len(lines) + 8
    box_w = min(w, int(max(cv2.getTextSize(t, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)[0][0] for t in lines)) + 16)
    y0 = h - box_h
    roi = out[y0:h, 0:box_w]
    roi[:] = (roi.astype(np.uint16) * 2 // 5).astype(np.uint8)
    for i, text in enumerate(lines):
        y = y0 + 4 + line_h * (i + 1) - 6
        cv2.putText(out, text, (8, y), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), 1, cv2.LINE_AA)
    return out


# ---------------------------------------------------------------------------- pipeline


class _End:
    """End-of-stream marker passed through the queues."""


END = _End()


class LivePipeline:
    """Runs capture, dream and output until the source ends, ``duration_s`` passes or :meth:`stop`.

    ``source`` follows :class:`stream.sources.Source`; each sink follows :class:`stream.sinks.Sink`.
    ``overlay`` returns the lines to draw for the current frame (or None).
    """

    def __init__(
        self,
        source: Any,
        sinks: Sequence[Any],
        dream: Callable[[np.ndarray], np.ndarray],
        settings: LiveSettings,
        *,
        duration_s: float | None = None,
        overlay: Callable[[], list[str] | None] | None = None,
        tick: Callable[[float], None] | None = None,
        stats_file: str | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.source, self.sinks, self.dream, self.settings = source, list(sinks), dream, settings
        self.duration_s = duration_s
        self.overlay = overlay
        self.tick = tick
        self.clock = clock
        self.stats = LiveStats(clock)
        self.stats_file = stats_file
        self.stop_event = threading.Event()
        self.frames: queue.Queue[Any] = queue.Queue(maxsize=settings.capture_queue)
        self.audio: queue.Queue[Any] = queue.Queue(maxsize=2000)
        self.newest: Dreamed | None = None
        self._taken = 0  # sequence number of the newest dream the output has sent
        self.newest_lock = threading.Condition()
        self.dream_done = False
        self.error: BaseException | None = None

    def stop(self) -> None:
        self.stop_event.set()
        with self.newest_lock:
            self.newest_lock.notify_all()

    # -- capture
    def _capture(self) -> None:
        live = bool(getattr(self.source, "live", True))
        try:
            while not self.stop_event.is_set():
                frame = self.source.read()
                if frame is None:
                    break
                self.stats.add(captured=1)
                for chunk in self.source.read_audio():
                    try:
                        self.audio.put_nowait(chunk)
                    except queue.Full:
                        pass
                if live:
                    while True:
                        try:
                            self.frames.put_nowait(frame)
                            break
                        except queue.Full:
                            try:
                                self.frames.get_nowait()
                                self.stats.add(dropped=1)
                            except queue.Empty:
                                pass
                else:
                    while not self.stop_event.is_set():
                        try:
                            self.frames.put(frame, timeout=0.1)
                            break
                        except queue.Full:
                            continue
        except BaseException as e:  # noqa: BLE001 - handed to the main thread
            self.error = e
            self.stop()
        finally:
            self._put_end()

    def _put_end(self) -> None:
        while True:
            try:
                self.frames.put(END, timeout=0.1)
                return
            except queue.Full:
                try:
                    self.frames.get_nowait()
                except queue.Empty:
                    pass

    # -- dream
    def _dream(self) -> None:
        seq = 0
        try:
            while not self.stop_event.is_set():
                try:
                    frame = self.frames.get(timeout=0.1)
                except queue.Empty:
                    continue
                if frame is END:
                    break
                image = self.dream(frame.image)
                seq += 1
                self.stats.add(dreamed=1)
                with self.newest_lock:
                    # A file source must not lose frames: wait until the output took the last one.
                    while (not getattr(self.source, "live", True) and self.newest is not None
                           and self.newest.seq > self._taken and not self.stop_event.is_set()):
                        self.newest_lock.wait(0.1)
                    self.newest = Dreamed(image, frame.time_s, frame.pts_s, seq)
                    self.newest_lock.notify_all()
        except BaseException as e:  # noqa: BLE001 - handed to the main thread
            self.error = e
            self.stop()
        finally:
            with self.newest_lock:
                self.dream_done = True
                self.newest_lock.notify_all()

    # -- output (runs on the calling thread)
    def _output(self) -> None:
        s = self.settings
        period = 1.0 / s.fps
        with self.newest_lock:
            while self.newest is None and not self.dream_done and not self.stop_event.is_set():
                self.newest_lock.wait(0.1)
            first = self.newest
        if first is None:
            return
        start = self.clock()
        pts0 = first.pts_s
        last_seq = 0
        n = 0
        next_stats = start + s.stats_interval_s
        while not self.stop_event.is_set():
            target = start + n * period
            delay = target - self.clock()
            if delay > 0:
                time.sleep(delay)
            with self.newest_lock:
                current = self.newest
                done = self.dream_done
            assert current is not None
            if current.seq == last_seq:
                if done:
                    break
                self.stats.add(repeated=1)
            else:
                self.stats.latency(self.clock() - current.captured_at)
                last_seq = current.seq
                with self.newest_lock:
                    self._taken = current.seq
                    self.newest_lock.notify_all()
            image = current.image
            if self.overlay is not None:
                lines = self.overlay()
                if lines:
                    image = draw_overlay(image, lines)
            pts = n * period
            for sink in self.sinks:
                sink.write_video(image, pts)
            self._audio(pts0)
            self.stats.add(output=1)
            n += 1
            if self.tick is not None:
                self.tick(self.clock())
            if self.duration_s is not None and n >= round(self.duration_s * s.fps):
                break
            if self.clock() >= next_stats:
                self._report()
                next_stats += s.stats_interval_s

    def _audio(self, pts0: float) -> None:
        while True:
            try:
                chunk = self.audio.get_nowait()
            except queue.Empty:
                return
            pts = chunk.pts_s - pts0
            if pts + chunk.duration_s <= 0:
                continue
            for sink in self.sinks:
                sink.write_audio(chunk.samples, pts)

    def _report(self) -> dict[str, Any]:
        r = self.stats.report()
        p50, p95 = r["latency_p50_ms"], r["latency_p95_ms"]
        log.info(
            "input %.1f fps | dreamed %.1f fps | output %.1f fps | latency p50 %s p95 %s ms | dropped %d | repeated %d",
            r["input_fps"], r["dreamed_fps"], r["output_fps"], p50, p95, r["dropped"], r["repeated"],
        )
        if self.stats_file:
            with open(self.stats_file, "a") as f:
                f.write(json.dumps(r) + "\n")
        return r

    def run(self) -> dict[str, Any]:
        """Run to the end; returns the whole run's stats. Re-raises a stage's error."""
        threads = [threading.Thread(target=self._capture, name="capture", daemon=True),
                   threading.Thread(target=self._dream, name="dream", daemon=True)]
        for t in threads:
            t.start()
        try:
            self._output()
        finally:
            self.stop()
            for t in threads:
                t.join(timeout=10)
            self._report()
        if self.error is not None:
            raise self.error
        return {
            "captured": self.stats.captured, "dreamed": self.stats.dreamed, "output": self.stats.output,
            "dropped": self.stats.dropped, "repeated": self.stats.repeated,
            "latency_p50_ms": self.stats.run_latency_ms(50),
            "latency_p95_ms": self.stats.run_latency_ms(95),
        }


# ---------------------------------------------------------------------------- CLI


def stream_key(settings: LiveSettings) -> str | None:
    """The Twitch stream key from ``$TWITCH_STREAM_KEY`` or ``live.stream_key_file`` (never argv)."""
    key = os.environ.get(STREAM_KEY_ENV, "").strip()
    if key:
        return key
    if settings.stream_key_file:
        path = Path(settings.stream_key_file).expanduser()
        try:
            return path.read_text().strip() or None
        except OSError as e:
            raise SinkError(f"stream key file {str(path)!r} cannot be read: {e.strerror or e}") from None
    return None


def register(sub: argparse._SubParsersAction) -> None:
    from stream.cli import add_dream_arguments

    p = sub.add_parser("live", help="dream a camera, file or stream live to Twitch, RTMP, files or a window")
    p.add_argument("--input", required=True, metavar="SRC",
                   help="webcam:N, /dev/videoN, a video file, a URL (rtmp://, http(s)://, udp://) or testsrc")
    p.add_argument("--output", action="append", required=True, metavar="DST",
                   help="twitch, rtmp(s)://..., a file (.mp4 .mkv .flv .ts), udp://host:port, vcam[:/dev/videoN], preview or null; repeatable")
    p.add_argument("--duration", type=float, metavar="S", help="stop after S seconds of output")
    p.add_argument("--loop", action="store_true", help="repeat a file input")
    p.add_argument("--size", metavar="WxH", help="output size (default from config live.width/height)")
    p.add_argument("--fps", type=int, help="output frame rate")
    p.add_argument("--stats-file", metavar="FILE", help="append the periodic stats as JSON lines")
    p.add_argument("--control", action="append", choices=("stdin", "twitch", "none"),
                   help="chat control: stdin (type !commands), twitch (the chat bot); repeatable")
    p.add_argument("--no-overlay", action="store_true", help="do not draw the chat overlay")
    p.add_argument("--panel", metavar="[HOST:]PORT",
                   help="serve the web control panel and the OBS overlay page (host 127.0.0.1 unless given)")
    p.add_argument("--flow", choices=("dis", "farneback", "none"))
    p.add_argument("--dream-scale", type=float, metavar="F")
    p.add_argument("--steps-per-frame", type=int, metavar="N")
    add_dream_arguments(p)
    p.set_defaults(handler=run_cli)

    p = sub.add_parser("twitch-login", help="get chat tokens for the bot (or broadcaster) account; saved with mode 0600")
    p.add_argument("--account", choices=("bot", "broadcaster"), default="bot")
    p.add_argument("--config", metavar="FILE", help="a YAML file with the twitch: section (client_id, bot_id, ...)")
    p.add_argument("--preset", default="default")
    p.set_defaults(handler=run_login)


def run_login(args: argparse.Namespace) -> int:
    """``dreamstream twitch-login``: the device-code flow; prints what to open and where tokens went."""
    from stream.chat.bot import twitch_login
    from stream.config import load_config

    settings = load_config(args.preset, args.config).section("twitch")
    secret = settings.client_secret()
    try:
        user_id = twitch_login(settings, print, account=args.account, client_secret=secret)
    except DreamError:
        raise
    except Exception as e:  # noqa: BLE001 - aiohttp/twitchio network failures become one line
        from stream.chat.bot import describe_error

        raise ConfigError(f"twitch login failed: {describe_error(e)}") from e
    print(f"saved tokens for user {user_id} in {settings.token_file}")
    return 0


def run_cli(args: argparse.Namespace) -> int:
    from stream.chat.commands import CommandCenter, overlay_lines
    from stream.cli import config_from_args
    from stream.dreaming import load_model
    from stream.sinks import EncoderSettings, open_sink
    from stream.sources import open_source

    extra = {"flow": "video.flow", "dream_scale": "live.dream_scale", "steps_per_frame": "live.steps_per_frame",
             "fps": "live.fps"}
    if args.size:
        try:
            w, h = (int(v) for v in args.size.lower().split("x"))
        except ValueError:
            raise ConfigError(f"--size {args.size!r} is not WxH, e.g. 640x360") from None
        args.live_width, args.live_height = w, h
        extra |= {"live_width": "live.width", "live_height": "live.height"}
    cfg = config_from_args(args, extra)
    ls: LiveSettings = cfg.section("live")
    controls_on = [c for c in (args.control or []) if c != "none"]
    if args.duration is not None and not args.duration > 0:
        raise ConfigError(f"--duration {args.duration:g} must be more than 0 seconds")
    doubled = [o for o in set(args.output) if args.output.count(o) > 1 and o != "null"]
    if doubled:
        raise ConfigError(f"output {doubled[0]!r} is given twice; each output once")
    if args.stats_file:
        try:
            with open(args.stats_file, "a"):
                pass
        except OSError as e:
            raise ConfigError(f"--stats-file {args.stats_file!r} cannot be written: {e.strerror or e}") from None
    panel_bind = None
    if args.panel is not None:
        from stream.web.panel import check_bind, panel_token, parse_bind

        panel_bind = parse_bind(args.panel)
        panel_secret = panel_token()
        check_bind(*panel_bind)  # a busy port fails now, not after the model loads
    twitch_settings = cfg.section("twitch") if "twitch" in controls_on else None
    if twitch_settings is not None:
        twitch_settings.client_secret()  # a missing secret fails now, not after the model loads

    # Open every output first: a bad URL or a refused connection fails before the model loads.
    enc = EncoderSettings(width=ls.width, height=ls.height, fps=ls.fps, video_bitrate_kbps=ls.video_bitrate_kbps,
                          audio_bitrate_kbps=ls.audio_bitrate_kbps, preset=ls.x264_preset,
                          keyframe_interval_s=ls.keyframe_interval_s)
    key = stream_key(ls) if "twitch" in args.output else None
    sinks = []
    source = None
    try:
        for spec in args.output:
            if "{stream_key}" in spec:
                k = stream_key(ls)
                if not k:
                    raise SinkError(f"output uses {{stream_key}} but ${STREAM_KEY_ENV} is not set")
                spec = spec.replace("{stream_key}", k)
            sinks.append(open_sink(spec, enc, twitch_ingest=ls.twitch_ingest, stream_key=key))
        source = open_source(args.input, width=ls.width, height=ls.height, fps=ls.fps, loop=args.loop)
        model, _device = load_model(cfg.model)
        spec = model.spec
        limits = cfg.section("chat")
        default_layer = spec.layer(cfg.model.layers[0]).name if cfg.model.layers else spec.default_layer
        target = None
        if cfg.model.target is not None:
            from engine.imagenet import find_class

            target = find_class(cfg.model.target)
        initial = LiveControls(model=spec.name, layer=default_layer, target=target,
                               target_name=display_name(target) if target is not None else "",
                               octaves=min(cfg.dream.octaves, limits.max_octaves), flow=cfg.section("video").flow,
                               preset=args.preset if args.preset in limits.allowed_presets else limits.allowed_presets[0])
        board = ControlBoard(initial, limits)
        center = CommandCenter(board, limits)

        def load_other(name: str) -> DreamModel:
            return load_model(dataclasses.replace(cfg.model, name=name))[0]

        temporal = live_temporal(cfg.section("video"), ls)
        class_dream = live_class_dream(cfg.class_dream, cfg.dream, ls)
        stage = DreamStage(model, cfg.dream, class_dream, temporal, board, load_other)
    except BaseException:
        for s in sinks:
            s.close()
        if source is not None:
            source.close()
        raise

    bot = console = panel = None
    overlay = None
    if (controls_on or panel_bind) and ls.overlay == "burned" and not args.no_overlay:
        overlay = lambda: overlay_lines(board.get(), center.queue_length(), time.monotonic())  # noqa: E731
    tap = None
    if panel_bind is not None:
        from stream.web.preview import PreviewTap

        tap = PreviewTap(enc)
    pipeline = LivePipeline(source, [*sinks, *([tap] if tap else [])], stage, ls, duration_s=args.duration,
                            overlay=overlay, tick=center.tick, stats_file=args.stats_file)
    if panel_bind is not None and tap is not None:
        from stream.web.panel import PanelServer
        from stream.web.state import LiveState, RateMeter

        state = LiveState(board, center, stats=RateMeter(pipeline.stats).read, outputs=sinks, preview=tap.jpeg,
                          applied=lambda: stage.applied, running=lambda: not pipeline.stop_event.is_set(),
                          operator=(twitch_settings.channel if twitch_settings else "") or "streamer")
        try:
            panel = PanelServer(state, *panel_bind, token=panel_secret).start()
        except BaseException:
            for s in sinks:
                s.close()
            source.close()
            raise
        print(f"dreamstream: panel {panel.url}\ndreamstream: OBS overlay {panel.overlay_url}", file=sys.stderr)
    if "stdin" in controls_on:
        from stream.chat.console import StdinControl

        console = StdinControl(center, sys.stdin, reply=lambda text: print(text, file=sys.stderr))
        console.start()
    if "twitch" in controls_on:
        from stream.chat.bot import run_bot_in_thread

        bot = run_bot_in_thread(twitch_settings, center)

    def on_signal(signum: int, _frame: Any) -> None:
        log.info("stopping (%s)", signal.Signals(signum).name)
        pipeline.stop()

    in_main = threading.current_thread() is threading.main_thread()
    old = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)} if in_main else {}
    log.info("live: %s -> %s at %dx%d %d fps", source.name, ", ".join(s.name for s in sinks), ls.width, ls.height, ls.fps)
    try:
        result = pipeline.run()
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)
        if console is not None:
            console.stop()
        if panel is not None:
            panel.stop()
        if bot is not None:
            bot.stop(5)
        source.close()
        errors = []
        for s in sinks:
            try:
                s.close()
            except DreamError as e:
                errors.append(e)
        if errors:
            raise errors[0]
    log.info("done: %s", json.dumps(result))
    return 0
