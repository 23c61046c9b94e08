"""The watchdog: a dream that fails or hangs never freezes the stream; the stage restarts itself, one line says so.

Pipeline tests use a source that never ends and dreams that mark what they made (channel 1: 200, channel 2: which
stage), so the test sees, frame by frame, what reached the output: the dream, the plain input, or which stage.
No wall-clock bound: each wait is a deadline against a hang, on conditions the output must reach.
"""
from __future__ import annotations

import concurrent.futures
import logging
import threading
import time
from collections.abc import Callable

import av
import numpy as np
import pytest

from engine.flow import FlowEstimator
from engine.step_worker import ThreadSteps
from stream.cli.main import main
from stream.io.sinks.base import Sink
from stream.io.sources import Source, SourceFrame
from stream.live.pipeline import LivePipeline
from stream.settings.live import LiveSettings

DEADLINE_S = 60.0  # against a hang only: every wait below ends as soon as its condition holds
SETTINGS = LiveSettings(width=64, height=48, fps=30, stats_interval_s=3600, watchdog_s=1.0)


class EndlessSource(Source):
    """A live camera-like source: frame ``i`` is grey ``i % 100`` (never 200), 30 a second."""

    def __init__(self) -> None:
        super().__init__()
        self.live, self.name, self.i = True, "endless", 0

    def read(self) -> SourceFrame | None:
        time.sleep(1 / 30)
        image = np.full((48, 64, 3), self.i % 100, np.uint8)
        self.i += 1
        return SourceFrame(image=image, time_s=time.monotonic(), pts_s=self.i / 30, index=self.i - 1)


class Watching(Sink):
    """Records, per output frame, whether it was dreamed and by which stage (0: the plain input)."""

    def __init__(self) -> None:
        self.name, self.pts, self.stages = "watch", [], []
        self.lock = threading.Lock()

    def write_video(self, image: np.ndarray, pts_s: float) -> None:
        with self.lock:
            self.pts.append(pts_s)
            self.stages.append(int(image[0, 0, 2]) if image[0, 0, 1] == 200 else 0)

    def close(self) -> None:
        pass

    def seen(self) -> list[int]:
        with self.lock:
            return list(self.stages)


class Stage:
    """A dream stage numbered ``n``; ``trouble(call)`` may raise or block on a frame."""

    def __init__(self, n: int, trouble: Callable[[int], None] = lambda call: None) -> None:
        self.n, self.trouble, self.calls, self.closed = n, trouble, 0, False

    def __call__(self, image: np.ndarray) -> np.ndarray:
        self.calls += 1
        self.trouble(self.calls)
        out = image.copy()
        out[..., 1], out[..., 2] = 200, self.n
        return out

    def close(self) -> None:
        self.closed = True


def wait_for(condition: Callable[[], bool]) -> None:
    end = time.monotonic() + DEADLINE_S
    while not condition():
        assert time.monotonic() < end, "the output did not get there"
        time.sleep(0.02)


def running(pipeline: LivePipeline) -> tuple[threading.Thread, dict]:
    out: dict = {}
    thread = threading.Thread(target=lambda: out.update(pipeline.run()), daemon=True)
    thread.start()
    return thread, out


def restarting(trouble: Callable[[int], None]) -> tuple[list[Stage], Watching, LivePipeline]:
    """A pipeline on an endless source whose first stage has ``trouble`` and whose restarts make stages 2, 3, ..."""
    stages, sink = [Stage(1, trouble)], Watching()

    def restart() -> Stage:
        stages.append(Stage(len(stages) + 1))
        return stages[-1]

    return stages, sink, LivePipeline(EndlessSource(), [sink], stages[0], SETTINGS, restart=restart)


def test_a_dream_that_raises_restarts_on_a_fresh_stage_and_the_stream_goes_on(caplog) -> None:
    def boom(call: int) -> None:
        if call == 5:
            raise RuntimeError("a step failed")

    stages, sink, pipeline = restarting(boom)
    with caplog.at_level(logging.WARNING, logger="stream.live.pipeline"):
        thread, result = running(pipeline)
        wait_for(lambda: sink.seen().count(2) >= 10)  # the fresh stage dreams
        pipeline.stop()
        thread.join(DEADLINE_S)
    seen = sink.seen()
    assert result["restarts"] == 1 and len(stages) == 2 and stages[0].closed and pipeline.dream is stages[1]
    first_two = seen.index(2)
    assert set(seen[:first_two]) <= {0, 1} and 0 in seen[:first_two]  # the failed frame went out plain
    assert set(seen[first_two:]) == {2}
    assert np.allclose(np.diff(sink.pts), 1 / 30)  # the output's timestamps never pause
    lines = [r.getMessage() for r in caplog.records if "the dream failed" in r.getMessage()]
    assert lines == ["the dream failed (RuntimeError: a step failed); it restarts on a fresh stage, the input shown "
                     "plain meanwhile"]


@pytest.mark.slow
def test_a_hung_step_is_left_behind_the_plain_input_goes_out_and_a_fresh_stage_takes_over(caplog) -> None:
    hung, release = threading.Event(), threading.Event()

    def hang(call: int) -> None:
        if call == 5:
            hung.set()
            release.wait(DEADLINE_S)

    stages, sink, pipeline = restarting(hang)
    with caplog.at_level(logging.WARNING, logger="stream.live.pipeline"):
        thread, result = running(pipeline)
        hung.wait(DEADLINE_S)
        at_hang = len(sink.seen())
        wait_for(lambda: sink.seen()[at_hang:].count(2) >= 10)  # after the plain input, the fresh stage
        release.set()  # the hung step returns at last: its frame must not reach the output
        wait_for(lambda: stages[0].closed)
        shown = len(sink.seen())
        wait_for(lambda: len(sink.seen()) >= shown + 10)
        pipeline.stop()
        thread.join(DEADLINE_S)
    after = sink.seen()[at_hang:]
    first_two = after.index(2)
    # the stream never froze: the last dream repeated, then the plain input (the watchdog), then the fresh stage
    assert after[0] == 1 and 0 in after[:first_two] and set(after[:first_two]) <= {0, 1}
    assert set(after[first_two:]) == {2}  # the stage left behind never shows again
    assert np.allclose(np.diff(sink.pts), 1 / 30)
    assert result["restarts"] == 1 and result["plain"] > 0 and pipeline.dream is stages[1]
    lines = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(lines) == 1 and lines[0].startswith("no dreamed frame for 1 s (a step hung?); a fresh dream stage")


def test_without_a_way_to_restart_a_failing_dream_still_stops_the_run() -> None:
    def boom(call: int) -> None:
        raise RuntimeError("broken")

    with pytest.raises(RuntimeError, match="broken"):
        LivePipeline(EndlessSource(), [Watching()], Stage(1, boom), SETTINGS).run()


@pytest.mark.slow
def test_live_survives_a_hung_step_and_a_failing_flow_on_the_real_stage(tmp_path, monkeypatch, caplog) -> None:
    """``dreamstream live``: a step that never returns (the worker's) and then a flow that raises, on the real
    stage; the file holds every frame at a constant rate and the log says what happened, once each."""
    submit, flow = ThreadSteps.submit, FlowEstimator.__call__
    calls = {"submit": 0, "flow": 0}

    def hanging_submit(self, fn, *args):
        calls["submit"] += 1
        if calls["submit"] == 20:
            return concurrent.futures.Future()  # never done: the dream thread waits on it forever
        return submit(self, fn, *args)

    def failing_flow(self, a, b):
        calls["flow"] += 1
        if calls["flow"] == 200:
            raise ValueError("the flow failed")
        return flow(self, a, b)

    monkeypatch.setattr(ThreadSteps, "submit", hanging_submit)
    monkeypatch.setattr(FlowEstimator, "__call__", failing_flow)
    config = tmp_path / "watch.yaml"
    config.write_text("live:\n  watchdog_s: 1\n  stats_interval_s: 3600\n")
    out = tmp_path / "out.mp4"
    with caplog.at_level(logging.WARNING, logger="stream.live.pipeline"):
        assert main(["live", "--input", "testsrc", "--output", str(out), "--duration", "8", "--config", str(config),
                     "--size", "320x180", "--octaves", "1", "--steps", "1"]) == 0
    assert calls["submit"] > 20 and calls["flow"] > 200  # both faults happened, and the dream went on after them
    with av.open(str(out)) as f:
        stream = f.streams.video[0]
        pts = [float(frame.pts * stream.time_base) for frame in f.decode(stream)]
    assert len(pts) == 8 * 30 and np.allclose(np.diff(pts), 1 / 30)
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 2, warnings
    assert warnings[0].startswith("no dreamed frame for")
    assert warnings[1].startswith("the dream failed (ValueError: the flow failed)")
