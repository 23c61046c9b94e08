"""Inputs that come up late: a network input that is not there yet, or drops, is waited for.

Senders are PyAV processes on 127.0.0.1 (in one process a PyAV publisher's connect, which holds
the GIL, would deadlock with a PyAV listener's timeout callback): an MPEG-TS sender over UDP,
an FLV publisher over RTMP (like OBS pushing to us) and a TCP MPEG-TS server.
"""
from __future__ import annotations

import logging
import subprocess
import sys
import threading
import time

import av
import numpy as np
import pytest
from rtmp_receiver import KEY, free_port

from engine.errors import SourceError
from stream.cli.main import main
from stream.io.backoff import BackoffPolicy
from stream.io.sinks.base import Sink
from stream.io.sources import Source, SourceFrame, open_source
from stream.io.waiting import Connector, NotYet, holding_card
from stream.live.pipeline import LivePipeline
from stream.settings.live import LiveSettings

FAST = ["--size", "160x90", "--dream-scale", "0.25", "--octaves", "1", "--steps", "1", "--steps-per-frame", "1"]

SENDER = r"""
import sys, time
from fractions import Fraction
import av, numpy as np
url, fmt, seconds, level = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
deadline = time.monotonic() + 20
sent = 0
while sent == 0:  # like OBS: retry a refused connect
    try:
        with av.open(url, "w", format=fmt, timeout=(20, 10)) as out:
            video = out.add_stream("libx264", rate=30, options={"preset": "ultrafast", "tune": "zerolatency", "g":
            "15"})
            video.width, video.height, video.pix_fmt = 160, 96, "yuv420p"
            audio = out.add_stream("aac", rate=48000, layout="stereo")
            start = time.monotonic()
            for i in range(int(seconds * 30)):
                picture = av.VideoFrame.from_ndarray(np.full((96, 160, 3), level, np.uint8), format="rgb24")
                picture.pts, picture.time_base = i, Fraction(1, 30)
                out.mux(video.encode(picture))
                sent += 1
                sound = av.AudioFrame.from_ndarray(np.zeros((2, 1600), np.float32), format="fltp", layout="stereo")
                sound.sample_rate, sound.pts, sound.time_base = 48000, i * 1600, Fraction(1, 48000)
                out.mux(audio.encode(sound))
                pause = start + (i + 1) / 30 - time.monotonic()  # real time, as a live sender does
                if pause > 0:
                    time.sleep(pause)
            out.mux(video.encode(None))
            out.mux(audio.encode(None))
    except ConnectionRefusedError:
        if sent or time.monotonic() > deadline:
            raise
        time.sleep(0.1)
"""


def send(url: str, fmt: str, seconds: float, level: int) -> subprocess.Popen:
    """A sender of ``seconds`` of flat frames at ``level`` (160x96, 30 fps, with sound), in real time."""
    return subprocess.Popen([sys.executable, "-c", SENDER, url, fmt, str(seconds), str(level)])


class Collector:
    """Reads a source on a thread, keeping every frame."""

    def __init__(self, source: Source) -> None:
        self.source = source
        self.frames: list[SourceFrame] = []
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            while (frame := self.source.read()) is not None:
                self.frames.append(frame)
        except SourceError as e:
            self.error = e

    def wait_for(self, test, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while not test(self.frames):
            assert time.monotonic() < deadline, f"timed out; {len(self.frames)} frames"
            assert self.thread.is_alive(), f"reader ended: {self.error}"
            time.sleep(0.05)

    def stop(self) -> None:
        self.source.close()
        self.thread.join(10)
        assert not self.thread.is_alive()


def real(frames: list[SourceFrame], level: int) -> list[SourceFrame]:
    return [f for f in frames if not f.holding and abs(float(f.image.mean()) - level) < 20]


def stop_all(*procs: subprocess.Popen | None) -> None:
    for proc in procs:
        if proc is not None:
            if proc.poll() is None:
                proc.kill()
            proc.wait()


def waiting_lines(caplog, text: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.getMessage().startswith(text)]


@pytest.mark.slow
def test_a_late_udp_sender_is_picked_up_after_holding_cards(caplog):
    caplog.set_level(logging.INFO)
    url = f"udp://127.0.0.1:{free_port()}"
    source = open_source(url, width=160, height=90, fps=30, wait_s=0)
    assert source.live and (source.width, source.height, source.fps) == (160, 90, 30)
    reader = Collector(source)
    sender = None
    try:
        reader.wait_for(lambda fs: len(fs) >= 45)  # about 1.5 s of holding cards
        sender = send(url, "mpegts", 4.0, 200)
        reader.wait_for(lambda fs: len(real(fs, 200)) >= 30)
    finally:
        reader.stop()
        stop_all(sender)
    frames = reader.frames
    first = next(i for i, f in enumerate(frames) if not f.holding)
    assert first >= 45 and all(f.holding for f in frames[:first])
    cards = frames[:first]
    assert all(f.image.shape == (90, 160, 3) for f in frames)
    assert cards[0].image.mean() < 40 and cards[0].image.std() > 1  # dark, with its line of text
    gaps = np.diff([f.time_s for f in cards[5:]])
    assert np.median(gaps) == pytest.approx(1 / 30, abs=0.01)  # cards come at the live rate
    assert all(np.diff([f.pts_s for f in frames]) > 0)
    assert waiting_lines(caplog, "waiting for") == [f"waiting for {url} ..."]
    assert f"input {url} connected" in caplog.text
    assert "Immediate exit" not in caplog.text and "ExitError" not in caplog.text


@pytest.mark.slow
def test_live_streams_a_holding_card_until_a_late_sender_starts(tmp_path, caplog):
    """``dreamstream live`` end to end: the file output gets the card, then dreams of the sender's frames."""
    caplog.set_level(logging.INFO)
    url = f"udp://127.0.0.1:{free_port()}"
    out = tmp_path / "late.mkv"
    result: dict[str, int] = {}
    args = ["live", "--input", url, "--output", str(out), "--duration", "8", *FAST]
    runner = threading.Thread(target=lambda: result.setdefault("rc", main(args)))
    runner.start()
    sender = None
    try:
        deadline = time.monotonic() + 60
        while not any(r.getMessage().startswith("live: ") for r in caplog.records):  # built; cards are flowing
            assert time.monotonic() < deadline and runner.is_alive()
            time.sleep(0.05)
        time.sleep(1.0)
        sender = send(url, "mpegts", 10.0, 200)
        runner.join(60)
    finally:
        stop_all(sender)
    assert result["rc"] == 0
    with av.open(str(out)) as container:
        levels = [float(frame.to_ndarray(format="rgb24").mean()) for frame in container.decode(video=0)]
    assert len(levels) == 8 * 30
    first_bright = next(i for i, level in enumerate(levels) if level > 120)
    assert first_bright >= 30 and all(level < 40 for level in levels[:first_bright])  # >= 1 s of the card
    assert sum(level > 120 for level in levels) >= 60  # then the sender's (dreamed) frames
    assert waiting_lines(caplog, "waiting for") == [f"waiting for {url} ..."]


@pytest.mark.slow
def test_a_late_rtmp_publisher_is_picked_up_and_waited_for_again_when_it_drops(caplog):
    """``rtmp://...?listen=1``: we are the RTMP server OBS publishes to. The publisher starts after
    us, hangs up, and a second one comes: cards, its frames, cards, the second one's frames."""
    caplog.set_level(logging.INFO)
    port = free_port()
    url = f"rtmp://127.0.0.1:{port}/live/{KEY}"
    source = open_source(url + "?listen=1", width=160, height=90, fps=30, wait_s=20)
    reader = Collector(source)
    publishers: list[subprocess.Popen] = []
    try:
        reader.wait_for(lambda fs: len(fs) >= 30)
        publishers.append(send(url, "flv", 1.5, 200))
        reader.wait_for(lambda fs: len(real(fs, 200)) >= 20)
        publishers[0].wait(20)
        reader.wait_for(lambda fs: fs[-1].holding)  # it hung up: cards again
        publishers.append(send(url, "flv", 3.0, 100))
        reader.wait_for(lambda fs: len(real(fs, 100)) >= 20)
    finally:
        reader.stop()
        stop_all(*publishers)
    kinds = [("card" if f.holding else "bright" if f.image.mean() > 150 else "dim") for f in reader.frames]
    runs = [k for i, k in enumerate(kinds) if i == 0 or kinds[i - 1] != k]
    assert runs == ["card", "bright", "card", "dim"]
    assert all(np.diff([f.pts_s for f in reader.frames]) > 0)
    assert source.reconnects == 1
    shown = f"rtmp://127.0.0.1:{port}/live/****"
    assert waiting_lines(caplog, "waiting for") == [f"waiting for a publisher on {shown} ..."]
    assert waiting_lines(caplog, f"input {shown} dropped") == [f"input {shown} dropped; waiting for it ..."]
    assert KEY not in caplog.text


@pytest.mark.slow
def test_a_server_that_comes_up_late_is_connected_to():
    """A play URL whose server is not up yet (connection refused; an RTMP server does the same) is retried."""
    port = free_port()
    url = f"tcp://127.0.0.1:{port}"
    source = open_source(url, width=160, height=90, fps=30, wait_s=20)
    reader = Collector(source)
    server = None
    try:
        reader.wait_for(lambda fs: len(fs) >= 15)
        server = send(url + "?listen=1", "mpegts", 3.0, 200)  # serves one client
        reader.wait_for(lambda fs: len(real(fs, 200)) >= 20)
    finally:
        reader.stop()
        stop_all(server)
    assert reader.frames[0].holding and reader.error is None


def test_giving_up_is_one_plain_line_without_the_key():
    port = free_port()
    source = open_source(f"rtmp://127.0.0.1:{port}/app/{KEY}", width=160, height=90, fps=30, wait_s=0.5)
    cards = 0
    try:
        with pytest.raises(SourceError) as info:
            while source.read().holding:
                cards += 1
    finally:
        source.close()
    assert str(info.value) == f"could not connect to rtmp://127.0.0.1:{port}/app/**** within 0.5 s (connection refused)"
    assert cards >= 10 and info.value.__context__ is None


def test_after_a_drop_the_wait_ends_with_one_plain_line():
    tries: list[float] = []

    def refused(timeout_s: float) -> object:
        tries.append(timeout_s)
        raise NotYet("connection refused")

    connector = Connector("tcp://127.0.0.1:9", refused, lambda conn: None, wait_s=0.3, attempt_s=5.0,
                          backoff=BackoffPolicy(0.02, 0.05))
    connector.begin(dropped=True)
    with pytest.raises(SourceError) as info:
        while connector.take(0.02) is None:
            pass
    assert str(info.value) == ("input tcp://127.0.0.1:9 dropped and could not be reconnected within 0.3 s "
                               "(connection refused)")
    assert len(tries) >= 3 and all(t <= 0.8 for t in tries)  # retried, each try bounded by what is left


def test_an_input_that_can_never_work_fails_at_once():
    """Waiting cannot cure a port that another program holds: no wait, one line."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1]
        begin = time.monotonic()
        with pytest.raises(SourceError, match=f"input udp://127.0.0.1:{port} cannot be opened: the port is in use"):
            open_source(f"udp://127.0.0.1:{port}", width=160, height=90, fps=30, wait_s=0)
    assert time.monotonic() - begin < 5


@pytest.mark.slow
def test_live_gives_up_with_one_line_and_a_playable_file(tmp_path, capsys):
    url = f"udp://127.0.0.1:{free_port()}"
    out = tmp_path / "held.mkv"
    rc = main(["live", "--input", url, "--input-wait", "1", "--output", str(out), "--duration", "60", *FAST])
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("dreamstream: error")]
    assert rc == 4 and errors == [f"dreamstream: error: no data arrived on {url} within 1 s"], err
    assert "Traceback" not in err and "Immediate exit" not in err
    with av.open(str(out)) as container:
        images = [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]
    assert len(images) >= 20 and images[0].shape == (90, 160, 3)
    assert all(image.mean() < 40 for image in images)  # the holding card, not a dream of it


def test_input_wait_must_not_be_negative(capsys):
    assert main(["live", "--input", "udp://127.0.0.1:9", "--output", "null", "--input-wait", "-1", *FAST]) == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("dreamstream: error")]
    assert len(errors) == 1 and "live.input_wait_s" in errors[0] and "-1" in errors[0]


class CardsThenFrames(Source):
    """Holding cards, then frames of one grey level."""

    def __init__(self, cards: int, frames: int) -> None:
        super().__init__()
        self.cards, self.frames, self.i = cards, frames, 0
        self.card = holding_card(64, 48, "waiting for udp://127.0.0.1:9")

    def read(self) -> SourceFrame | None:
        if self.i >= self.cards + self.frames:
            return None
        time.sleep(0.005)
        self.i += 1
        holding = self.i <= self.cards
        image = self.card.copy() if holding else np.full((48, 64, 3), 120, np.uint8)
        return SourceFrame(image, time.monotonic(), self.i / 30, self.i - 1, holding=holding)


def test_the_pipeline_shows_holding_cards_without_dreaming_them():
    seen: list[np.ndarray] = []
    shown: list[float] = []

    def dream(image: np.ndarray) -> np.ndarray:
        seen.append(image)
        return 255 - image

    class Recorder(Sink):
        def __init__(self) -> None:
            super().__init__("rec", None)

        def write_video(self, image: np.ndarray, pts_s: float) -> None:
            shown.append(float(image.mean()))

        def close(self) -> None:
            pass

    source = CardsThenFrames(10, 10)
    source.live = False  # every frame reaches the output, in order
    settings = LiveSettings(width=64, height=48, fps=100, stats_interval_s=60)
    result = LivePipeline(source, [Recorder()], dream, settings).run()
    assert len(seen) == 10 and all(float(image.mean()) == 120 for image in seen)
    assert result["dreamed"] == 10
    card = float(source.card.mean())
    assert shown[0] == pytest.approx(card) and shown[-1] == 135  # the card as it is, then dreams
