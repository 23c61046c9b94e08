"""One writer for files: a live recording and a ``video`` output are written alike (colour tags, containers)."""
from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from media import video_times

from stream.io import clips
from stream.io.sinks.encode import AvSink
from stream.io.sinks.open import SINK_FORMS, open_sink
from stream.io.sources import Scene
from stream.io.video import VideoReader, VideoSpec, VideoWriter
from stream.io.video import writer as video_writer
from stream.settings import names
from stream.settings.encoder import EncoderSettings

SETTINGS = EncoderSettings(width=160, height=96, fps=24, video_bitrate_kbps=400)
BT709 = (1, 1, 1, 1)  # primaries, matrix, transfer, range (limited): FFmpeg's enum values


def colour_tags(path: Path) -> tuple[int, int, int, int]:
    with av.open(str(path)) as container:
        ctx = container.streams.video[0].codec_context
        return ctx.color_primaries, ctx.colorspace, ctx.color_trc, ctx.color_range


def frames(n: int = 6) -> list[np.ndarray]:
    scene = Scene(SETTINGS.width, SETTINGS.height)
    return [scene.render(i / SETTINGS.fps) for i in range(n)]


def test_a_live_recording_and_a_video_output_carry_the_same_colours(tmp_path: Path) -> None:
    pictures = frames()
    video_out = tmp_path / "video.mp4"
    with VideoWriter(video_out, VideoSpec(SETTINGS.width, SETTINGS.height, Fraction(SETTINGS.fps))) as writer:
        for image in pictures:
            writer.write(image)
    live_out = tmp_path / "live.mp4"
    with open_sink(str(live_out), SETTINGS) as sink:
        for i, image in enumerate(pictures):
            sink.write_video(image, 10.0 + i / SETTINGS.fps)
    network_out = tmp_path / "network.ts"  # the network encoder, writing MPEG-TS to a file here
    with AvSink(str(network_out), SETTINGS, format="mpegts", name="net", live=True) as sink:
        for i, image in enumerate(pictures):
            sink.write_video(image, i / SETTINGS.fps)
    assert colour_tags(video_out) == colour_tags(live_out) == colour_tags(network_out) == BT709
    assert len(video_times(live_out)) == len(pictures)
    # and the pictures come back alike: same conversion on the way in
    with VideoReader(video_out) as a, VideoReader(live_out) as b, VideoReader(network_out) as c:
        for fa, fb, fc, original in zip(a, b, c, pictures):
            assert np.abs(fa.image.astype(int) - original).mean() < 6
            assert np.abs(fb.image.astype(int) - original).mean() < 6
            assert np.abs(fc.image.astype(int) - original).mean() < 6


def test_one_container_table() -> None:
    assert video_writer.CONTAINERS is names.CONTAINERS
    assert clips.CONTAINERS is names.CONTAINERS
    file_form = next(f for f in SINK_FORMS if f.startswith("a file path"))
    assert all(ext in file_form for ext in names.CONTAINERS)


@pytest.mark.parametrize("suffix", [".mov", ".mkv"])
def test_a_live_recording_takes_every_container_video_writes(tmp_path: Path, suffix: str) -> None:
    out = tmp_path / f"live{suffix}"
    with open_sink(str(out), SETTINGS) as sink:
        for i, image in enumerate(frames(4)):
            sink.write_video(image, i / SETTINGS.fps)
            sink.write_audio(np.zeros((2, 2000), np.float32), i * 2000 / 48000)
    with av.open(str(out)) as container:
        assert container.format.name.startswith(names.CONTAINERS[suffix].split(",")[0][:3])
        assert [s.type for s in container.streams] == ["video", "audio"]
    assert len(video_times(out)) == 4


class _Stream:
    """An encoder stand-in that records the frames it is given."""

    def __init__(self) -> None:
        self.frames: list[tuple[int, int]] = []

    def encode(self, frame: av.AudioFrame | None) -> list:
        if frame is not None:
            self.frames.append((frame.pts, frame.samples))
        return []


def test_the_one_audio_placement() -> None:
    from stream.io.encoding import AudioOut

    stream = _Stream()
    out = AudioOut(stream, 48000, lambda packets: None)  # type: ignore[arg-type]
    ones = np.ones((2, 4800), np.float32)
    out.place(ones[:, :2400], -0.025)  # the first chunk goes exactly: the 1200 samples before 0 are dropped
    assert out.end == 1200
    out.place(ones, 0.025 + 0.01)  # 10 ms late: within the jitter, contiguous
    assert out.end == 6000
    out.place(ones, 1.0)  # a gap: silence up to 1 s
    assert out.end == 48000 + 4800
    out.place(ones, 1.04)  # overlaps the last chunk by 60 ms (past the 50 ms jitter): trimmed
    assert out.end == 48000 + 4800 + 4800 - 2880
    out.encode(until_s=1.0)
    assert out.encoded == 48000 and sum(n for _, n in stream.frames) == 48000
    out.finish(2.0)
    assert out.encoded == 96000
    pts = [p for p, _ in stream.frames]
    assert pts == sorted(pts) and all(b == a + n for (a, n), b in zip(stream.frames, pts[1:]))
