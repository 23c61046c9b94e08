"""The live and twitch-login commands."""
from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import signal
import sys
import threading
import time
from typing import Any

from engine.errors import ConfigError, DreamError, SinkError
from engine.imagenet import display_name
from engine.models.registry import DreamModel
from stream.io.keys import STREAM_KEY_ENV, stream_key
from stream.live.pipeline import LivePipeline
from stream.live.stage import DreamStage
from stream.settings.controls import ControlBoard, LiveControls
from stream.settings.live import LiveSettings, live_class_dream, live_temporal

log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction) -> None:
    from stream.cli.common import add_dream_arguments

    p = sub.add_parser("live", help="dream a camera, file or stream live to Twitch, RTMP, files or a window")
    p.add_argument("--input", required=True, metavar="SRC",
                   help="webcam:N, /dev/videoN, a video file, a URL (rtmp://, http(s)://, udp://) or testsrc")
    p.add_argument("--output", action="append", required=True, metavar="DST",
                   help="twitch, rtmp(s)://..., a file (.mp4 .mkv .flv .ts), udp://host:port, preview or null; repeatable")
    p.add_argument("--duration", type=float, metavar="S", help="stop after S seconds of output")
    p.add_argument("--loop", action="store_true", help="repeat a file input")
    p.add_argument("--size", metavar="WxH", help="output size (default from config live.width/height)")
    p.add_argument("--fps", type=int, help="output frame rate")
    p.add_argument("--stats-file", metavar="FILE", help="append the periodic stats as JSON lines")
    p.add_argument("--control", action="append", choices=("stdin", "twitch", "none"),
                   help="chat control: stdin (type !commands), twitch (the chat bot); repeatable")
    p.add_argument("--no-overlay", action="store_true", help="do not draw the chat overlay")
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
    from stream.settings.loader import load_config

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
    from stream.chat.commands import CommandCenter
    from stream.cli.common import config_from_args
    from stream.io.dreaming import load_model
    from stream.io.sinks.open import open_sink
    from stream.io.sources import open_source
    from stream.live.overlay import overlay_lines
    from stream.settings.encoder import EncoderSettings

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

    bot = console = None
    overlay = None
    if controls_on and ls.overlay and not args.no_overlay:
        overlay = lambda: overlay_lines(board.get(), center.queue_length(), time.monotonic())  # noqa: E731
    pipeline = LivePipeline(source, sinks, stage, ls, duration_s=args.duration, overlay=overlay,
                            tick=center.tick, stats_file=args.stats_file)
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
