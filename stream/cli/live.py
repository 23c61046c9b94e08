"""The ``live`` command: parse, check, build the run (:func:`stream.live.build.build_live`), attach control, run."""
from __future__ import annotations

import argparse
import contextlib
import json
import logging
import signal
import sys
import time
from dataclasses import dataclass
from typing import Any

from engine.errors import ConfigError
from stream.chat.dispatcher import CommandCenter
from stream.cli.common import add_dream_arguments, config_from_args, overrides_from_args
from stream.io.binds import check_bind, parse_bind
from stream.io.signals import handling
from stream.live.build import Live, build_live, initial_controls
from stream.live.overlay import overlay_lines
from stream.settings.controls import ControlBoard
from stream.settings.live import LiveSettings
from stream.settings.loader import Config
from stream.settings.midi import MidiSettings
from stream.settings.names import FLOWS
from stream.settings.presets import load_dream_preset
from stream.settings.twitch import TwitchSettings

log = logging.getLogger(__name__)

#: CLI flag -> config key, for the live command's own flags.
LIVE_FLAGS = {"flow": "video.flow", "dream_scale": "live.dream_scale", "steps_per_frame": "live.steps_per_frame",
              "fps": "live.fps", "live_width": "live.width", "live_height": "live.height",
              "input_wait": "live.input_wait_s"}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("live", help="dream a camera, file or stream live to Twitch, RTMP, files or a window")
    p.add_argument("--input", required=True, metavar="SRC",
                   help="webcam:N, /dev/videoN, a video file, a URL (rtmp://, http(s)://, udp://) or testsrc")
    p.add_argument("--output", action="append", required=True, metavar="DST",
                   help="twitch, rtmp(s)://..., a file (.mp4 .mkv .flv .ts), udp://host:port, vcam[:/dev/videoN], "
                        "preview or null; repeatable")
    p.add_argument("--duration", type=float, metavar="S", help="stop after S seconds of output")
    p.add_argument("--loop", action="store_true", help="repeat a file input")
    p.add_argument("--input-wait", type=float, metavar="S",
                   help="wait up to S seconds for a network input that is not up yet or dropped, showing a "
                        "holding card; 0 = forever (default from config live.input_wait_s: 0)")
    p.add_argument("--size", metavar="WxH", help="output size (default from config live.width/height)")
    p.add_argument("--fps", type=int, help="output frame rate")
    p.add_argument("--stats-file", metavar="FILE", help="append the periodic stats as JSON lines")
    p.add_argument("--control", action="append", choices=("stdin", "twitch", "none"),
                   help="chat control: stdin (type !commands), twitch (the chat bot); repeatable")
    p.add_argument("--no-overlay", action="store_true", help="do not draw the chat overlay")
    p.add_argument("--panel", metavar="[HOST:]PORT",
                   help="serve the web control panel and the OBS overlay page (host 127.0.0.1 unless given)")
    p.add_argument("--osc", metavar="[HOST:]PORT",
                   help="take OSC control messages over UDP (/dreamstream/target, /layer, /strength, ...; "
                        "host 127.0.0.1 unless given)")
    p.add_argument("--osc-reply", metavar="[HOST:]PORT",
                   help="send the state (target, layer, strength, octaves, fps) back to this OSC address")
    p.add_argument("--midi", nargs="?", const="", metavar="PORT",
                   help="take knobs and pads from this MIDI input (a part of its name; default midi.port), "
                        "mapped by midi.map")
    p.add_argument("--flow", choices=FLOWS)
    p.add_argument("--dream-scale", type=float, metavar="F")
    p.add_argument("--steps-per-frame", type=int, metavar="N")
    add_dream_arguments(p)
    p.set_defaults(handler=run_cli)


def _size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise ConfigError(f"--size {text!r} is not WxH, e.g. 640x360") from None
    return w, h


@dataclass(frozen=True)
class Extras:
    """What ``live``'s flags ask for beside the pipeline, checked before the model loads (:func:`_checked_extras`)."""

    controls: tuple[str, ...]  # stdin, twitch
    panel_bind: tuple[str, int] | None
    panel_token: str | None
    osc_bind: tuple[str, int] | None
    osc_reply: tuple[str, int] | None
    twitch: TwitchSettings | None


def _checked_extras(args: argparse.Namespace, cfg: Config) -> Extras:
    """The flags beside the pipeline, checked now: a busy port, a missing secret or a bad flag fails in one line
    before the model loads."""
    if args.duration is not None and not args.duration > 0:
        raise ConfigError(f"--duration {args.duration:g} must be more than 0 seconds")
    if args.stats_file:
        try:
            with open(args.stats_file, "a"):
                pass
        except OSError as e:
            raise ConfigError(f"--stats-file {args.stats_file!r} cannot be written: {e.strerror or e}") from None
    panel_bind = panel_secret = None
    if args.panel is not None:
        from stream.web.panel import panel_token

        panel_bind = parse_bind(args.panel)
        panel_secret = panel_token()
        check_bind(*panel_bind)
    osc_bind = parse_bind(args.osc, "--osc") if args.osc is not None else None
    if osc_bind is not None:
        check_bind(*osc_bind, "--osc", udp=True)
    osc_reply = parse_bind(args.osc_reply, "--osc-reply") if args.osc_reply is not None else None
    if osc_reply is not None and osc_bind is None:
        raise ConfigError("--osc-reply needs --osc (the state goes back to the controller that sends to --osc)")
    controls = tuple(c for c in (args.control or []) if c != "none")
    twitch = cfg.section("twitch") if "twitch" in controls else None
    if twitch is not None:
        twitch.client_secret()
    return Extras(controls, panel_bind, panel_secret, osc_bind, osc_reply, twitch)


def run_cli(args: argparse.Namespace) -> int:
    if args.size:
        args.live_width, args.live_height = _size(args.size)
    cfg = config_from_args(args, LIVE_FLAGS)
    ls: LiveSettings = cfg.section("live")
    extras = _checked_extras(args, cfg)
    limits = cfg.section("chat")
    board = ControlBoard(initial_controls(cfg, args.preset), limits)
    center = CommandCenter(  # !preset NAME: that preset under the same --config file and flags
        board,
        limits,
        load_preset=lambda name: load_dream_preset(name, args.config, overrides_from_args(args, LIVE_FLAGS)),
    )
    overlay = None
    if (extras.controls or extras.panel_bind) and ls.overlay == "burned" and not args.no_overlay:
        overlay = lambda: overlay_lines(board.get(), center.queue_length(), time.monotonic())
    tap = None
    if extras.panel_bind is not None:
        from stream.web.preview import PreviewTap

        tap = PreviewTap()
    # What starts goes on one stack: a start that fails (a port taken since the checks above, a bot that cannot
    # log in) stops everything started before it, in reverse order, and the old signal handlers come back.
    with contextlib.ExitStack() as stack:
        midi_port = None
        if args.midi is not None:
            midi_port = _open_midi(args.midi, cfg.section("midi"))
            stack.callback(midi_port.close)  # MidiControl.stop closes it too; a second close does nothing
        live = stack.enter_context(build_live(
            cfg, args.input, args.output, board=board, loop=args.loop, duration_s=args.duration,
            stats_file=args.stats_file, overlay=overlay, tick=center.tick,
            on_frame=tap.offer if tap is not None else None))
        _start_chat(extras, center, stack)

        def on_signal(signum: int, _frame: Any) -> None:
            log.info("stopping (%s)", signal.Signals(signum).name)
            live.pipeline.stop()

        stack.enter_context(handling(on_signal, signal.SIGINT, signal.SIGTERM))
        _start_remotes(center, live, extras.osc_bind, extras.osc_reply, midi_port, cfg, stack)
        if extras.panel_bind is not None and tap is not None and extras.panel_token is not None:
            operator = (extras.twitch.channel if extras.twitch else "") or "streamer"
            panel = _start_panel(extras.panel_bind, extras.panel_token, center, live, tap, operator)
            stack.callback(panel.stop)
            print(f"dreamstream: panel {panel.url}\ndreamstream: OBS overlay {panel.overlay_url}", file=sys.stderr)
        result = live.run()
    log.info("done: %s", json.dumps(result))
    return 0


def _start_chat(extras: Extras, center: CommandCenter, stack: contextlib.ExitStack) -> None:
    """The stdin console and the Twitch bot the flags ask for, each stopped by ``stack``."""
    if "stdin" in extras.controls:
        from stream.chat.console import StdinControl

        console = StdinControl(center, sys.stdin, reply=lambda text: print(text, file=sys.stderr))
        console.start()
        stack.callback(console.stop)
    if extras.twitch is not None:
        from stream.chat.bot import run_bot_in_thread

        stack.callback(run_bot_in_thread(extras.twitch, center).stop, 5)


def _open_midi(flag: str, settings: MidiSettings) -> Any:
    """The MIDI input named by ``--midi`` (or ``midi.port`` for a bare ``--midi``), opened now."""
    from stream.chat.midi import open_input

    name = flag or settings.port
    if not name:
        raise ConfigError("--midi needs an input: --midi NAME (a part of its name) or midi.port in a --config file")
    return open_input(name)


def _start_remotes(center: CommandCenter, live: Live, osc_bind: tuple[str, int] | None,
                   osc_reply: tuple[str, int] | None, midi_port: Any, cfg: Config,
                   stack: contextlib.ExitStack) -> list[Any]:
    """OSC and MIDI control over ``center``, each started and its ``stop`` put on ``stack``."""
    remotes: list[Any] = []
    if osc_bind is not None:
        from stream.chat.osc import OscControl
        from stream.web.state import RateMeter

        meter = RateMeter(live.pipeline.stats)
        remotes.append(OscControl(center, *osc_bind, reply=osc_reply,
                                  fps=lambda: meter.read()["dreamed_fps"]).start())
        stack.callback(remotes[-1].stop)
    if midi_port is not None:
        from stream.chat.midi import MidiControl

        remotes.append(MidiControl(center, midi_port, cfg.section("midi")).start())
        stack.callback(remotes[-1].stop)
    return remotes


def _start_panel(bind: tuple[str, int], token: str, center: CommandCenter, live: Live, tap: Any,
                 operator: str) -> Any:
    """The web panel over this run's board, command center, stats, outputs and preview."""
    from stream.web.panel import PanelServer
    from stream.web.state import LiveState, RateMeter

    pipeline = live.pipeline
    meter = RateMeter(pipeline.stats)
    state = LiveState(live.board, center, stats=lambda: {**meter.read(), "quality": live.stage.quality()},
                      outputs=pipeline.outputs,
                      preview=tap.jpeg, applied=lambda: live.stage.applied,
                      running=lambda: not pipeline.stop_event.is_set(), operator=operator)
    return PanelServer(state, *bind, token=token).start()
