"""The live pipeline end to end: testsrc in, a real RTMP receiver on 127.0.0.1 out."""
from __future__ import annotations

import json
import logging
import threading
import time

import av
import numpy as np
import pytest
from rtmp_receiver import KEY, free_port

from engine.errors import SinkError
from stream.cli.main import main
from stream.io.sinks.base import Sink
from stream.io.sources import AudioChunk, Source, SourceFrame
from stream.live.overlay import draw_overlay
from stream.live.pipeline import LivePipeline
from stream.live.stats import LiveStats, percentile
from stream.settings.live import LiveSettings

FAST = ["--size", "320x180", "--dream-scale", "0.25", "--octaves", "1", "--steps", "1", "--steps-per-frame", "1"]


def keyframe_gaps(times: list[float]) -> list[float]:
    return [b - a for a, b in zip(times, times[1:])]


@pytest.mark.slow
def test_live_testsrc_to_rtmp_is_what_twitch_accepts(receivers, tmp_path, caplog):
    caplog.set_level(logging.INFO)
    port = free_port()
    receiver = receivers(port)
    receiver.wait_listening()
    stats = tmp_path / "stats.jsonl"
    rc = main(
        ["live", "--input", "testsrc", "--output", receiver.url, "--duration", "8", "--stats-file", str(stats), *FAST]
    )
    assert rc == 0
    r = receiver.result()
    assert r["vcodec"] == "h264" and r["profile"] == "Main"
    assert r["acodec"] == "aac" and r["audio_samples"] > 7 * r["arate"]
    assert abs(r["frames"] - 8 * 30) <= 0.05 * 8 * 30
    span = r["video_pts"][-1] - r["video_pts"][0]
    assert abs((len(r["video_pts"]) - 1) / span - 30) <= 1.5
    assert r["first_is_key"]
    assert all(abs(g - 2.0) < 0.1 for g in keyframe_gaps(r["keyframes"]))
    lines = [json.loads(line) for line in stats.read_text().splitlines()]
    assert lines and lines[-1]["totals"]["output"] == 240 and lines[-1]["totals"]["dreamed"] > 0
    assert KEY not in caplog.text and KEY not in stats.read_text()


@pytest.mark.slow
def test_output_reconnects_while_a_file_output_carries_on(receivers, tmp_path):
    port = free_port()
    first = receivers(port)
    first.wait_listening()
    out = tmp_path / "side.mkv"
    result: dict[str, int] = {}
    args = ["live", "--input", "testsrc", "--output", first.url, "--output", str(out), "--duration", "9", *FAST]
    runner = threading.Thread(target=lambda: result.setdefault("rc", main(args)))
    runner.start()
    time.sleep(3.0)
    first.kill()
    second = receivers(port)
    second.wait_listening()
    runner.join(60)
    assert result["rc"] == 0
    got = second.result()
    assert got["frames"] > 30 and got["first_is_key"]
    with av.open(str(out)) as c:
        frames = sum(1 for _ in c.decode(video=0))
    assert frames == 9 * 30


@pytest.mark.slow
def test_twitch_output_takes_the_key_from_the_environment(receivers, tmp_path, monkeypatch, capfd):
    port = free_port()
    receiver = receivers(port)
    receiver.wait_listening()
    cfg = tmp_path / "twitch.yaml"
    cfg.write_text(f"live:\n  twitch_ingest: rtmp://127.0.0.1:{port}/app\n")
    monkeypatch.setenv("TWITCH_STREAM_KEY", KEY)
    assert (
        main(["live", "--input", "testsrc", "--output", "twitch", "--duration", "2", "--config", str(cfg), *FAST]) == 0
    )
    assert receiver.result()["frames"] > 50
    assert KEY not in capfd.readouterr().err


@pytest.mark.parametrize(
    "argv, code, words",
    [
        (["--input", "webcam:7", "--output", "null"], 4, ["video7"]),
        (["--input", "nope://x", "--output", "null"], 4, ["nope://x"]),
        (["--input", "testsrc", "--output", "ftp://host/x"], 5, ["ftp://host/x"]),
        (["--input", "testsrc", "--output", "twitch"], 5, ["TWITCH_STREAM_KEY"]),
        (["--input", "testsrc", "--output", "null", "--size", "big"], 2, ["--size", "big"]),
        (["--input", "testsrc", "--output", "udp://127.0.0.1:99999"], 5, ["udp://127.0.0.1:99999", "Port"]),
        (
            ["--input", "testsrc", "--output", "null", "--stats-file", "/nonexistent/s.jsonl"],
            2,
            ["/nonexistent/s.jsonl"],
        ),
        (["--input", "testsrc", "--output", "a.mp4", "--output", "a.mp4"], 2, ["a.mp4", "twice"]),
        (["--input", "testsrc", "--output", "null", "--control", "twitch"], 2, ["twitch.client_id"]),
        (["--input", "testsrc", "--output", "null", "--control", "chat"], 2, ["--control", "chat"]),
    ],
)
def test_bad_live_input_is_one_line(monkeypatch, capsys, tmp_path, argv, code, words):
    monkeypatch.delenv("TWITCH_STREAM_KEY", raising=False)
    monkeypatch.chdir(tmp_path)
    try:
        rc = main(["live", *argv, "--duration", "1", *FAST[2:]])
        err = capsys.readouterr().err
    except SystemExit as e:  # argparse usage errors
        rc, err = e.code, capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("dreamstream: error")]
    assert rc == code and len(lines) == 1 and "Traceback" not in err, err
    for w in words:
        assert w in lines[0]


class ListSource(Source):
    """A source of numbered frames; ``live`` decides the backpressure policy."""

    def __init__(self, n: int, live: bool, interval: float = 0.0) -> None:
        super().__init__()
        self.n, self.live, self.interval, self.i = n, live, interval, 0
        self.name = "list"

    def read(self) -> SourceFrame | None:
        if self.i >= self.n:
            return None
        time.sleep(self.interval)
        image = np.full((48, 64, 3), self.i % 256, np.uint8)
        self.i += 1
        return SourceFrame(image=image, time_s=time.monotonic(), pts_s=self.i / 30, index=self.i - 1)



class RecordingSink(Sink):
    def __init__(self) -> None:
        self.frames: list[int] = []
        self.pts: list[float] = []
        self.name = "rec"

    def write_video(self, image: np.ndarray, pts_s: float) -> None:
        self.frames.append(int(image[0, 0, 0]))
        self.pts.append(pts_s)

    def close(self) -> None:
        pass


def slow_identity(image: np.ndarray) -> np.ndarray:
    time.sleep(0.01)
    return image


def test_file_source_never_drops_and_output_is_constant_rate():
    sink = RecordingSink()
    settings = LiveSettings(width=64, height=48, fps=100, stats_interval_s=60)
    result = LivePipeline(ListSource(40, live=False), [sink], slow_identity, settings).run()
    assert result["dropped"] == 0 and result["dreamed"] == 40
    assert sorted(set(sink.frames)) == list(range(40))  # every frame reached the output, in order
    assert sink.frames == sorted(sink.frames)
    assert np.allclose(np.diff(sink.pts), 0.01)


def test_live_source_drops_stale_frames_and_repeats_the_newest():
    sink = RecordingSink()
    settings = LiveSettings(width=64, height=48, fps=100, stats_interval_s=60, capture_queue=1)

    def slow(image: np.ndarray) -> np.ndarray:
        time.sleep(0.05)
        return image

    result = LivePipeline(ListSource(400, live=True, interval=0.005), [sink], slow, settings, duration_s=0.6).run()
    assert result["dropped"] > 0 and result["repeated"] > 0
    assert result["output"] == 60


def test_live_duration_must_be_positive(capsys):
    assert main(["live", "--input", "testsrc", "--output", "null", "--duration", "0", *FAST]) == 2
    assert "--duration 0" in capsys.readouterr().err


def test_overlay_and_percentile():
    image = np.full((180, 320, 3), 200, np.uint8)
    out = draw_overlay(image, ["dreaming: goldfish", "asked by viewer"])
    assert out.shape == image.shape and (out != image).any() and (image == 200).all()
    assert percentile([1, 2, 3, 4], 50) in (2, 3) and percentile([5], 95) == 5


def test_run_latency_percentiles_match_the_exact_ones_with_bounded_memory():
    stats = LiveStats()
    assert stats.run_latency_ms(95) is None
    rng = np.random.default_rng(3)
    latencies = rng.gamma(4.0, 0.02, size=20_000)  # seconds, a long right tail
    for value in latencies:
        stats.latency(float(value))
    exact = sorted(latencies)
    for q in (50, 95, 99):
        assert stats.run_latency_ms(q) == pytest.approx(1000 * percentile(exact, q), abs=0.051)
    assert len(stats.latency_bins) < 0.5 * len(latencies)  # bins, not one entry per frame


@pytest.mark.slow
def test_a_file_input_keeps_its_last_frames_when_the_dream_is_slow():
    """Regression: the end marker used to push the last queued frame out (5 of 6 dreamed, dropped=0)."""
    sink = RecordingSink()
    settings = LiveSettings(width=64, height=48, fps=30, stats_interval_s=60, capture_queue=1)

    def very_slow(image: np.ndarray) -> np.ndarray:
        time.sleep(0.3)
        return image

    result = LivePipeline(ListSource(6, live=False), [sink], very_slow, settings).run()
    assert result["dreamed"] == 6 and result["dropped"] == 0
    assert sorted(set(sink.frames)) == list(range(6))


class NoisySource(ListSource):
    """Frames with more audio than anyone takes: each frame brings many chunks."""

    def read_audio(self) -> list:
        return [AudioChunk(np.zeros((2, 480), np.float32), self.i / 30 + k / 100) for k in range(300)]


def test_audio_dropped_for_lack_of_room_is_counted():
    settings = LiveSettings(width=64, height=48, fps=30, stats_interval_s=60)

    def slow(image: np.ndarray) -> np.ndarray:
        time.sleep(0.05)
        return image

    # The output takes audio once per output frame; 300 chunks a frame overflow the 2000-chunk queue.
    pipeline = LivePipeline(NoisySource(20, live=False), [RecordingSink()], slow, settings)
    pipeline._queue_audio([AudioChunk(np.zeros((2, 480), np.float32), 0.0)] * 2500)
    result = pipeline.run()
    assert result["audio_dropped"] >= 500


class SlowSink(RecordingSink):
    """Takes a second a frame for ``slow_s`` seconds from its making (then at once: the pipeline's end drains it)."""

    def __init__(self, slow_s: float = 3.0) -> None:
        super().__init__()
        self.slow_until = time.monotonic() + slow_s
        self.written_at: list[float] = []

    def write_video(self, image: np.ndarray, pts_s: float) -> None:
        if time.monotonic() < self.slow_until:
            time.sleep(1.0)
        super().write_video(image, pts_s)
        self.written_at.append(time.monotonic())


@pytest.mark.slow
def test_a_slow_output_does_not_delay_the_others():
    fast, slow = RecordingSink(), SlowSink()
    arrivals: list[float] = []
    original = fast.write_video

    def timed(image: np.ndarray, pts_s: float) -> None:
        arrivals.append(time.monotonic())
        original(image, pts_s)

    fast.write_video = timed  # type: ignore[method-assign]
    settings = LiveSettings(width=64, height=48, fps=20, stats_interval_s=60)
    result = LivePipeline(ListSource(10_000, live=True, interval=0.01), [slow, fast], lambda im: im, settings,
                          duration_s=2.0).run()
    assert result["output"] == 40 and len(fast.frames) == 40
    # Before: every frame waited a second for the slow output, so 40 frames took 40 s.
    assert max(np.diff(arrivals)) < 0.7
    assert sum(t < arrivals[-1] for t in slow.written_at) < 10  # the slow one was far behind when the fast one ended


class FullDiskSink(RecordingSink):
    def __init__(self, fail_after: int) -> None:
        super().__init__()
        self.fail_after = fail_after
        self.name = "rec.mp4"

    def write_video(self, image: np.ndarray, pts_s: float) -> None:
        if len(self.frames) >= self.fail_after:
            raise SinkError("output rec.mp4 cannot be written: No space left on device")
        super().write_video(image, pts_s)


def test_a_failing_output_stops_alone_and_the_others_carry_on(caplog):
    ok, full = RecordingSink(), FullDiskSink(fail_after=5)
    settings = LiveSettings(width=64, height=48, fps=100, stats_interval_s=60)
    pipeline = LivePipeline(ListSource(50, live=False), [full, ok], slow_identity, settings)
    with caplog.at_level(logging.ERROR):
        result = pipeline.run()
    assert sorted(set(ok.frames)) == list(range(50)) and len(ok.frames) == result["output"]
    assert len(full.frames) == 5
    states = {s["name"]: s for s in pipeline.outputs()}
    assert "No space left" in states["rec.mp4"]["failed"] and states["rec"]["failed"] is None
    assert sum("output rec.mp4 stopped" in r.message for r in caplog.records) == 1


def test_when_every_output_fails_the_run_ends_with_that_error():
    settings = LiveSettings(width=64, height=48, fps=100, stats_interval_s=60)
    with pytest.raises(SinkError, match="No space left"):
        LivePipeline(ListSource(500, live=False), [FullDiskSink(3)], slow_identity, settings).run()


def test_live_dreams_every_configured_layer_channel_and_guide(lite0, tmp_path):
    """Regression: live built its own objective, so --guide, --channel and every --layer after the first were
    ignored."""
    from live_settings import live_dream_settings

    from stream.io.images import write_image
    from stream.live.build import live_objective
    from stream.live.stage import DreamStage
    from stream.settings.controls import ControlBoard, LiveControls
    from stream.settings.loader import load_config

    guide = tmp_path / "guide.png"
    write_image(guide, np.full((64, 64, 3), 120, np.uint8))
    cfg = load_config(
        overrides={"model.layers": ["block9", "block12"], "model.channels": [3], "model.guide": str(guide)}
    )
    board = ControlBoard(LiveControls(model="efficientnet_lite0", layer="block9", octaves=1), cfg.section("chat"))
    stage = DreamStage(lite0, cfg.dream, cfg.class_dream, live_dream_settings(), board,
                       objective_for=live_objective(cfg.model, "block9"))
    name = stage.live_dream.dreamer.objective.name
    assert "channel(block9, [3])" in name and "layer(block12)" in name and "guide" in name
    # A layer from chat replaces the configured layers; a class from chat is dreamed alone.
    board.replace(layer="block5")
    stage.apply()
    assert "layer(block5)" in stage.live_dream.dreamer.objective.name
    board.replace(target=1, target_name="goldfish")
    stage.apply()
    assert stage.live_dream.dreamer.objective.name.startswith("class(1")


def test_the_longest_wait_between_two_output_frames_is_reported_per_interval_and_for_the_run():
    stats = LiveStats(clock=lambda: 0.0)
    for t in (0.0, 0.033, 0.2, 0.233):
        stats.sent(t)
    assert stats.report()["max_gap_ms"] == 167.0
    stats.sent(0.266)
    assert stats.report()["max_gap_ms"] == 33.0 and round(stats.run_max_gap, 3) == 0.167
