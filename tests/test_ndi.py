"""NDI out and in (``ndi:NAME``) through the real NDI runtime on loopback.

These machines have no mDNS responder, so discovery goes through NDI's own "extra IPs"
configuration (``ndi-config.v1.json`` in ``$NDI_CONFIG_DIR``, read when the runtime starts):
the tests point it at 127.0.0.1, as NDI Access Manager would for a sender it cannot see.
"""
from __future__ import annotations

import json
import os
import sys
import threading
import time

import numpy as np
import pytest

from engine.errors import SinkError, SourceError
from stream.io import ndi_lib
from stream.io.sinks.open import open_sink
from stream.io.sources import open_source
from stream.settings.encoder import AUDIO_RATE, EncoderSettings

W, H, FPS = 320, 180, 30
BARS = 8  # a frame's number in 8 black or white bars: survives NDI's lossy compression
WARM_UP = 255  # all bars white: sent until the receiver is connected


@pytest.fixture(scope="module")
def loopback(tmp_path_factory):
    """NDI discovery on 127.0.0.1 for this process (set before the runtime starts)."""
    pytest.importorskip("NDIlib", reason="the NDI binding is not installed (pip install 'dreamstream[ndi]')")
    config = tmp_path_factory.mktemp("ndi")
    (config / "ndi-config.v1.json").write_text(json.dumps({"ndi": {"networks": {"ips": "127.0.0.1"}}}))
    old = os.environ.get("NDI_CONFIG_DIR")
    os.environ["NDI_CONFIG_DIR"] = str(config)
    yield
    if old is None:
        del os.environ["NDI_CONFIG_DIR"]
    else:
        os.environ["NDI_CONFIG_DIR"] = old


def unique(name: str) -> str:
    return f"{name}-{os.getpid()}"  # NDI names are machine-wide; other test runs may share this machine


def numbered(i: int) -> np.ndarray:
    image = np.zeros((H, W, 3), np.uint8)
    for bit in range(BARS):
        if i >> bit & 1:
            image[:, bit * W // BARS:(bit + 1) * W // BARS] = 255
    return image


def number_of(image: np.ndarray) -> int:
    h, w = image.shape[:2]
    bar = w // BARS
    return sum(1 << bit for bit in range(BARS)
               if image[h // 4:3 * h // 4, bit * bar + bar // 4:(bit + 1) * bar - bar // 4].mean() > 128)


class Feeder(threading.Thread):
    """Sends warm-up frames until the sink has a receiver, then frames 0..n-1 at FPS, with a 1 kHz tone."""

    def __init__(self, sink, n: int) -> None:
        super().__init__(daemon=True)
        self.sink, self.n = sink, n
        self.sent_at: list[float] = []

    def run(self) -> None:
        tick, t0, number = 0, time.monotonic(), 0
        samples_per_frame = AUDIO_RATE // FPS
        while number < self.n:
            connected = self.sink.receivers > 0
            pts = tick / FPS
            self.sink.write_video(numbered(number) if connected else numbered(WARM_UP), pts)
            t = (tick * samples_per_frame + np.arange(samples_per_frame)) / AUDIO_RATE
            tone = (0.25 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32)
            self.sink.write_audio(np.stack([tone, tone]), pts)
            if connected:
                self.sent_at.append(time.monotonic())
                number += 1
            tick += 1
            delay = t0 + tick / FPS - time.monotonic()
            if delay > 0:
                time.sleep(delay)


def test_bad_ndi_names_are_one_line_naming_the_value():
    settings = EncoderSettings(width=W, height=H, fps=FPS)
    for spec in ("ndi:", "ndi: lead", "ndi:a(b)", "ndi:" + "x" * 64, "ndi:tab\there"):
        with pytest.raises(SinkError) as e:
            open_sink(spec, settings)
        text = str(e.value)
        assert "\n" not in text and repr(spec)[:40] in text and "allowed: ndi:NAME" in text
    with pytest.raises(SourceError, match=r"input 'ndi:STUDIO \(\)' is not a valid NDI name; allowed"):
        open_source("ndi:STUDIO ()")


def test_without_the_binding_ndi_says_how_to_install_it(monkeypatch):
    monkeypatch.setattr(ndi_lib, "_module", None)
    monkeypatch.setitem(sys.modules, "NDIlib", None)  # import NDIlib fails as if it were not installed
    with pytest.raises(SinkError, match=r"^output ndi:Dream needs the NDI binding: pip install 'dreamstream\[ndi\]'$"):
        open_sink("ndi:Dream", EncoderSettings(width=W, height=H, fps=FPS))
    with pytest.raises(SourceError, match=r"^input ndi:Dream needs the NDI binding: pip install"):
        open_source("ndi:Dream")


def test_a_missing_ndi_source_is_one_plain_line(loopback):
    with pytest.raises(SourceError, match=r"^no NDI source named 'nobody-here' found within 1 s; sources seen: "):
        open_source("ndi:nobody-here", open_timeout_s=1.0)


@pytest.mark.slow  # three seconds of frames
def test_ndi_round_trip_keeps_order_size_rate_and_sound(loopback):
    name = unique("roundtrip")
    n = 3 * FPS
    sink = open_sink(f"ndi:{name}", EncoderSettings(width=W, height=H, fps=FPS))
    feeder = Feeder(sink, n)
    feeder.start()
    try:
        source = open_source(f"ndi:{name}", open_timeout_s=10.0)  # native size and rate
        got = []
        audio = []
        try:
            assert (source.width, source.height, source.fps, source.live) == (W, H, FPS, True)
            deadline = time.monotonic() + 3 * n / FPS + 5
            while time.monotonic() < deadline:
                frame = source.read()
                assert frame is not None and frame.image.shape == (H, W, 3)
                number = number_of(frame.image)
                audio.extend(source.read_audio())
                if number != WARM_UP:
                    got.append((number, frame.time_s, frame.pts_s))
                if number == n - 1:
                    break
        finally:
            source.close()
    finally:
        feeder.join(10)
        sink.close()
    numbers = [g[0] for g in got]
    arrival = [g[1] for g in got]
    pts = [g[2] for g in got]
    rate = (len(arrival) - 1) / (arrival[-1] - arrival[0])
    pts_rate = (len(pts) - 1) / (pts[-1] - pts[0])
    samples = np.concatenate([c.samples for c in audio], axis=1)
    spectrum = np.abs(np.fft.rfft(samples[0, -AUDIO_RATE:]))
    peak_hz = np.argmax(spectrum) * AUDIO_RATE / min(AUDIO_RATE, samples.shape[1])
    print(f"NDI round trip: sent {n}, received {len(numbers)} ({numbers[0]}..{numbers[-1]}), in order, "
          f"{W}x{H}, {rate:.2f} fps on arrival, {pts_rate:.3f} fps by timecode (sent {FPS}); "
          f"sound {samples.shape[1] / AUDIO_RATE:.2f} s peaking at {peak_hz:.0f} Hz")
    assert numbers == sorted(set(numbers))  # in order, none twice
    assert numbers[-1] == n - 1 and len(numbers) >= 0.9 * n  # the reader keeps up: few or none skipped
    assert 0.8 * FPS < rate < 1.25 * FPS  # paced as sent (a loose bound: a shared 2-core machine)
    assert abs(pts_rate - FPS) < 0.01 * FPS  # the sender's timecodes come through
    assert samples.shape[1] >= 0.8 * n * AUDIO_RATE / FPS and abs(peak_hz - 1000) < 5
    assert 0.2 < np.abs(samples).max() < 0.3


@pytest.mark.slow  # a three-second live run, received over NDI
def test_live_output_ndi_is_received_as_an_ndi_source(loopback):
    from stream.cli.main import main

    name = unique("live")
    fast = ["--size", "320x180", "--dream-scale", "0.25", "--octaves", "1", "--steps", "1", "--steps-per-frame", "1"]
    result: dict[str, int] = {}
    runner = threading.Thread(target=lambda: result.setdefault(
        "rc", main(["live", "--input", "testsrc", "--output", f"ndi:{name}", "--duration", "3", *fast])))
    runner.start()
    frames = []
    source = open_source(f"ndi:{name}", open_timeout_s=60.0)
    reader = threading.Thread(target=lambda: frames.extend(iter(source.read, None)), daemon=True)
    reader.start()
    runner.join(90)
    source.close()
    reader.join(5)
    assert result["rc"] == 0
    pts = [f.pts_s for f in frames]
    rate = (len(pts) - 1) / (pts[-1] - pts[0])
    print(f"live -> NDI: {len(frames)} frames of {3 * FPS} received, {W}x{H}, {rate:.2f} fps by timecode")
    assert (source.width, source.height, source.fps) == (W, H, FPS)
    assert all(f.image.shape == (H, W, 3) for f in frames)
    assert len(frames) >= 2 * FPS and pts == sorted(set(pts)) and abs(rate - FPS) < 0.05 * FPS
    assert source.read_audio()  # the testsrc tone came along


@pytest.mark.slow  # a second of holding cards, a second of frames, a drop
def test_a_late_ndi_source_is_waited_for_with_holding_cards_and_again_after_a_drop(loopback):
    name = unique("late")
    source = open_source(f"ndi:{name}", width=W, height=H, fps=FPS, open_timeout_s=2.0, wait_s=0)
    try:
        cards = [source.read() for _ in range(FPS)]  # about a second: nobody sends yet
        assert all(f.holding and f.image.shape == (H, W, 3) for f in cards)
        sink = open_sink(f"ndi:{name}", EncoderSettings(width=W, height=H, fps=FPS))
        feeder = Feeder(sink, 2 * FPS)
        feeder.start()
        numbers, pts = [], [f.pts_s for f in cards]
        while len(numbers) < FPS:
            frame = source.read()
            pts.append(frame.pts_s)
            if not frame.holding and number_of(frame.image) != WARM_UP:
                numbers.append(number_of(frame.image))
        feeder.join(10)
        sink.close()  # the sender goes away: cards again
        after = [source.read() for _ in range(3 * FPS)]
        pts += [f.pts_s for f in after]
    finally:
        source.close()
    assert numbers == sorted(set(numbers)) and len(numbers) == FPS
    assert sum(f.holding for f in after[-FPS:]) == FPS
    assert pts == sorted(set(pts))  # one increasing clock through cards, frames and cards


def test_a_late_ndi_source_that_never_comes_gives_up_in_one_line(loopback):
    source = open_source("ndi:never-there", width=W, height=H, fps=FPS, open_timeout_s=0.5, wait_s=1.0)
    try:
        with pytest.raises(SourceError) as e:
            while source.read().holding:
                pass
    finally:
        source.close()
    assert str(e.value) == "no NDI source named 'never-there' appeared within 1 s"
