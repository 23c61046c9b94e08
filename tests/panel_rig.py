"""A running live stream with the web panel, made of the real parts, for the panel tests.

testsrc in, the real default model dreaming at a small size, a null output and the panel's
preview tap out, chat commands through the real :class:`CommandCenter`, the panel served on
127.0.0.1 from its own thread.  ``http()`` speaks to it with urllib.
"""
from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any

from stream.chat.dispatcher import CommandCenter
from stream.io.dreaming import load_model
from stream.io.sinks.base import NullSink
from stream.io.sources import open_source
from stream.live.pipeline import LivePipeline
from stream.live.stage import DreamStage
from stream.live.stats import LiveStats
from stream.settings.chat import ChatLimits
from stream.settings.controls import ControlBoard, LiveControls
from stream.settings.encoder import EncoderSettings
from stream.settings.live import LiveSettings, live_class_dream, live_temporal
from stream.settings.loader import load_config
from stream.web.panel import PanelServer
from stream.web.preview import PreviewTap
from stream.web.state import LiveState, RateMeter

TOKEN = "test-panel-token-0123456789"


@dataclass
class Rig:
    pipeline: LivePipeline
    board: ControlBoard
    center: CommandCenter
    stage: DreamStage
    server: PanelServer
    thread: threading.Thread
    result: dict[str, Any] = field(default_factory=dict)

    @property
    def base(self) -> str:
        return self.server.base

    def http(self, method: str, path: str, body: bytes | str | dict | None = None, *,
             headers: dict[str, str] | None = None, token: str | None = TOKEN) -> tuple[int, Any]:
        """``(status, parsed JSON or bytes)``; ``token`` goes in the Authorization header."""
        data = json.dumps(body).encode() if isinstance(body, dict) else body.encode() if isinstance(body, str) else body
        h = {"Content-Type": "application/json"} if isinstance(body, dict) else {}
        if token is not None:
            h["Authorization"] = f"Bearer {token}"
        h.update(headers or {})
        req = urllib.request.Request(self.base + path, data=data, method=method, headers=h)
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                status, raw, kind = r.status, r.read(), r.headers.get("Content-Type", "")
        except urllib.error.HTTPError as e:
            status, raw, kind = e.code, e.read(), e.headers.get("Content-Type", "")
        return status, json.loads(raw) if "json" in kind else raw

    def running(self) -> bool:
        return self.thread.is_alive() and not self.pipeline.stop_event.is_set()

    def outputs_advance(self, timeout: float = 10.0) -> bool:
        """True when the pipeline writes more frames within ``timeout`` seconds."""
        start = self.pipeline.stats.output
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.pipeline.stats.output > start + 3:
                return True
            time.sleep(0.05)
        return False

    def stop(self) -> None:
        self.pipeline.stop()
        self.thread.join(30)
        self.server.stop()


def start_rig(*, limits: ChatLimits | None = None, size: tuple[int, int] = (192, 108)) -> Rig:
    cfg = load_config(overrides={"dream.octaves": 1, "dream.steps": 1, "live.dream_scale": 0.25})
    ls = LiveSettings(width=size[0], height=size[1], fps=15, dream_scale=0.25, stats_interval_s=60)
    limits = limits or ChatLimits(user_cooldown_s=0, global_cooldown_s=0, hold_s=45)
    model, _ = load_model(cfg.model)
    board = ControlBoard(LiveControls(model=model.spec.name, layer=model.spec.default_layer, octaves=1), limits)
    center = CommandCenter(board, limits)
    stage = DreamStage(model, cfg.dream, live_class_dream(cfg.class_dream, cfg.dream, ls),
                       live_temporal(cfg.section("video"), ls), board)
    enc = EncoderSettings(width=ls.width, height=ls.height, fps=ls.fps, audio=False)
    tap = PreviewTap()
    null = NullSink(enc)
    source = open_source("testsrc", width=ls.width, height=ls.height, fps=ls.fps)
    pipeline = LivePipeline(source, [null], stage, ls, tick=center.tick, on_frame=tap.offer)
    rates = RateMeter(pipeline.stats)
    state = LiveState(board, center, stats=rates.read, outputs=pipeline.outputs, preview=tap.jpeg,
                      applied=lambda: stage.applied, running=lambda: not pipeline.stop_event.is_set())
    server = PanelServer(state, "127.0.0.1", 0, token=TOKEN).start()
    rig = Rig(pipeline, board, center, stage, server, threading.Thread())

    def run() -> None:
        try:
            rig.result.update(pipeline.run())
        finally:
            source.close()

    rig.thread = threading.Thread(target=run, name="rig", daemon=True)
    rig.thread.start()
    assert isinstance(pipeline.stats, LiveStats)
    return rig
