"""Video file input/output: probe, VideoReader, VideoWriter on tiny clips the tests write with PyAV."""
from __future__ import annotations

import logging
import os
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from media import audio_span, clip_frame, heard_frames, phone_clip, portrait, truncate, video_times, write_clip

from engine.errors import ConfigError, SinkError, SourceError
from stream.io.video import VideoReader, VideoSpec, VideoWriter, probe

FPS = 24
FRAME_S = 1 / FPS


def dream_copy(src: Path, dst: Path, **window: float | int | None) -> VideoReader:
    """Read ``src`` (optionally a window) and write every frame to ``dst`` with ``src``'s sound."""
    with VideoReader(src, **window) as reader, VideoWriter(dst, reader.info, audio_from=src) as writer:
        for frame in reader:
            writer.write(frame.image, frame.pts)
    return reader


def relative(times: list[Fraction]) -> list[Fraction]:
    return [t - times[0] for t in times]


def audio_packets(path: Path) -> list[bytes]:
    with av.open(str(path)) as container:
        return [bytes(p) for p in container.demux(container.streams.audio[0]) if p.size]


def test_probe_describes_clip(tmp_path: Path) -> None:
    src = write_clip(tmp_path / "in.mp4", width=64, height=48, frames=16)
    info = probe(src)
    assert (info.width, info.height, info.fps, info.frame_count, info.frame_count_exact) == (64, 48, 24, 16, True)
    assert info.duration_s == pytest.approx(16 / FPS)
    assert info.codec == "h264" and info.has_audio
    assert (info.audio[0].codec, info.audio[0].sample_rate, info.audio[0].channels) == ("aac", 48000, 2)
    mkv = probe(write_clip(tmp_path / "in.mkv", frames=16, audio=False))
    assert not mkv.has_audio and not mkv.frame_count_exact and mkv.frame_count == 16


def test_reader_yields_rgb_frames_with_pts(tmp_path: Path) -> None:
    src = write_clip(tmp_path / "in.mp4", frames=8)
    with VideoReader(src) as reader:
        frames = list(reader)
    assert [f.index for f in frames] == list(range(8))
    assert all(f.image.shape == (48, 64, 3) and f.image.dtype == np.uint8 for f in frames)
    assert [f.time_s for f in frames] == pytest.approx([i / FPS for i in range(8)])
    assert [f.pts for f in frames] == [round(i / FPS / reader.info.time_base) for i in range(8)]
    for i, frame in enumerate(frames):  # the picture is the one written (lossy codec: small error)
        assert np.abs(frame.image.astype(int) - clip_frame(i)).mean() < 6
    assert not reader.truncated


def test_a_rotated_clip_is_read_upright(tmp_path):
    clip = phone_clip(tmp_path / "phone.mp4")
    info = probe(clip)
    assert (info.width, info.height, info.rotation, info.display_width, info.display_height) == (96, 64, -90, 64, 96)
    with VideoReader(clip) as reader:
        frames = [f.image for f in reader]
    assert (reader.width, reader.height) == (64, 96)
    assert all(f.shape == (96, 64, 3) for f in frames)
    assert np.abs(frames[2].astype(int) - portrait(2)).mean() < 6  # upright, not turned


def test_round_trip_mp4_keeps_frames_timing_and_copies_aac(tmp_path: Path) -> None:
    src = write_clip(tmp_path / "in.mp4", frames=16)
    out = tmp_path / "out.mp4"
    with VideoReader(src) as reader, VideoWriter(out, reader.info, audio_from=src) as writer:
        for frame in reader:
            writer.write(frame.image, frame.pts)
        routes = writer.audio_routes
    assert len(routes) == 1 and routes[0].copied and routes[0].output_codec == "aac"
    a, b = probe(src), probe(out)
    assert (b.width, b.height, b.fps, b.frame_count, b.codec) == (a.width, a.height, a.fps, 16, "h264")
    assert abs(b.duration_s - a.duration_s) <= FRAME_S
    assert video_times(out) == video_times(src)  # per-frame timestamps, exactly
    assert b.audio[0].codec == "aac"
    assert audio_packets(out) == audio_packets(src)  # packet for packet: copied, not re-encoded
    (a0, a1), (b0, b1) = audio_span(src), audio_span(out)
    assert abs((b1 - b0) - (a1 - a0)) < 0.05 and abs(b0 - a0) < 0.005
    with VideoReader(out) as check:
        for frame in check:
            assert np.abs(frame.image.astype(int) - clip_frame(frame.index)).mean() < 8


@pytest.mark.parametrize(("suffix", "video", "audio", "copied"), [
    (".mkv", "h264", "aac", True),
    (".mov", "h264", "aac", True),
    (".ts", "h264", "aac", True),
    (".webm", "vp9", "opus", False),
])
def test_other_containers(tmp_path: Path, suffix: str, video: str, audio: str, copied: bool) -> None:
    src = write_clip(tmp_path / "in.mp4", frames=16, tone="steps")
    out = tmp_path / f"out{suffix}"
    with VideoReader(src) as reader, VideoWriter(out, reader.info, audio_from=src) as writer:
        for frame in reader:
            writer.write(frame.image, frame.pts)
        assert [r.copied for r in writer.audio_routes] == [copied]
    info = probe(out)
    assert (info.codec, info.audio[0].codec, info.width, info.height, info.fps) == (video, audio, 64, 48, 24)
    times = video_times(out)
    assert len(times) == 16
    # Matroska/WebM store milliseconds; MPEG-TS may start later: compare steps, within 1 ms.
    assert [float(t) for t in relative(times)] == pytest.approx([i / FPS for i in range(16)], abs=1e-3)
    (a0, a1), (b0, b1) = audio_span(src), audio_span(out)
    assert abs((b1 - b0) - (a1 - a0)) < 0.05
    assert heard_frames(out) == list(range(16))  # the sound stays in sync with the pictures


@pytest.mark.parametrize(("name", "codec"), [("in.mov", "pcm_s16le"), ("in.mkv", "pcm_s16le")])
def test_audio_the_container_refuses_is_reencoded_to_aac(tmp_path: Path, name: str, codec: str) -> None:
    src = write_clip(tmp_path / name, frames=16, audio_codec=codec, tone="steps")
    assert probe(src).audio[0].codec == codec
    out = tmp_path / "out.mp4"
    reader = dream_copy(src, out)
    assert reader.frames_read == 16
    info = probe(out)
    assert info.frame_count == 16
    assert (info.audio[0].codec, info.audio[0].sample_rate, info.audio[0].channels) == ("aac", 48000, 2)
    (a0, a1), (b0, b1) = audio_span(src), audio_span(out)
    assert abs((b1 - b0) - (a1 - a0)) < 0.05
    assert heard_frames(out) == list(range(16))


@pytest.mark.parametrize("codec", ["aac", "pcm_s16le"])
def test_window_trims_video_and_audio_alike(tmp_path: Path, codec: str) -> None:
    suffix = ".mp4" if codec == "aac" else ".mov"
    src = write_clip(tmp_path / f"in{suffix}", frames=32, audio_codec=codec, tone="steps", keyframe_interval=8)
    out = tmp_path / "out.mp4"
    # 0.52 s is inside frame 12 (0.500-0.542): the first frame at or after it is frame 13.
    reader = dream_copy(src, out, start_s=0.52, duration_s=0.5)
    assert reader.frames_read == 12
    times = video_times(out)
    assert times == [Fraction(i, FPS) for i in range(12)]
    with VideoReader(out) as check:
        first = next(iter(check)).image.astype(int)
    errors = [np.abs(first - clip_frame(i)).mean() for i in (12, 13, 14)]
    assert errors[1] < min(errors[0], errors[2])
    assert heard_frames(out) == list(range(13, 25))
    start, end = audio_span(out)
    assert abs((end - start) - 12 / FPS) < 0.05


def test_max_frames_limits_video_and_audio(tmp_path: Path) -> None:
    src = write_clip(tmp_path / "in.mp4", frames=16, tone="steps")
    out = tmp_path / "out.mkv"
    reader = dream_copy(src, out, max_frames=5)
    assert reader.frames_read == 5 and len(video_times(out)) == 5
    start, end = audio_span(out)
    assert abs((end - start) - 5 / FPS) < 0.05


@pytest.mark.parametrize("suffix", [".mp4", ".mkv"])
def test_truncated_input_yields_what_decodes(tmp_path: Path, suffix: str, caplog: pytest.LogCaptureFixture) -> None:
    src = write_clip(tmp_path / f"in{suffix}", frames=48)
    cut = truncate(src, 0.5)
    out = tmp_path / "out.mp4"
    with caplog.at_level(logging.WARNING, logger="stream.io.video.reader"):
        reader = dream_copy(cut, out)
    assert 0 < reader.frames_read < 48
    assert reader.truncated
    assert any("keeping what decoded" in r.getMessage() for r in caplog.records)
    assert len(video_times(out)) == reader.frames_read  # and the output is a valid file
    with VideoReader(src) as whole:
        assert len(list(whole)) == 48 and not whole.truncated


def test_missing_and_non_video_inputs_raise_source_error(tmp_path: Path) -> None:
    text = tmp_path / "notes.mp4"
    text.write_text("this is not a video\n" * 20)
    audio_only = tmp_path / "sound.mka"
    with av.open(str(audio_only), "w") as container:
        stream = container.add_stream("pcm_s16le", rate=8000)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 1600), np.int16), format="s16", layout="stereo")
        frame.sample_rate, frame.pts = 8000, 0
        container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    cases = {tmp_path / "missing.mp4": "no such file", text: "not a readable video", tmp_path: "directory",
             audio_only: "no video stream"}
    for path, why in cases.items():
        for open_it in (probe, VideoReader):
            with pytest.raises(SourceError, match=why) as caught:
                open_it(path)
            message = str(caught.value)
            assert str(path) in message and "\n" not in message


def test_reader_rejects_bad_window(tmp_path: Path) -> None:
    src = write_clip(tmp_path / "in.mp4", frames=4, audio=False)
    for window in ({"start_s": -1.0}, {"duration_s": 0.0}, {"max_frames": 0}):
        with pytest.raises(ConfigError):
            VideoReader(src, **window)


def test_unwritable_output_raises_sink_error_at_open(tmp_path: Path) -> None:
    src = write_clip(tmp_path / "in.mp4", frames=4)
    info = probe(src)
    (tmp_path / "file").write_text("x")
    cases = {
        tmp_path / "missing" / "out.mp4": "does not exist",
        tmp_path / "file" / "out.mp4": "does not exist",
        tmp_path / "out.avi": "unsupported output extension",
        src: "overwrite the input",
    }
    if os.geteuid() != 0:  # root may write anywhere
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        cases[locked / "out.mp4"] = "cannot write"
    for path, why in cases.items():
        with pytest.raises(SinkError, match=why):
            VideoWriter(path, info, audio_from=src)
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_file()) == ["file", "in.mp4"]
    with pytest.raises(ConfigError):
        VideoWriter(tmp_path / "out.mp4", info, crf=60)


@pytest.mark.parametrize("suffix", [".mp4", ".mkv"])
def test_interrupted_writing_leaves_a_playable_file(tmp_path: Path, suffix: str) -> None:
    src = write_clip(tmp_path / "in.mp4", frames=24, tone="steps")
    out = tmp_path / f"out{suffix}"
    with pytest.raises(KeyboardInterrupt):
        with VideoReader(src) as reader, VideoWriter(out, reader.info, audio_from=src) as writer:
            for frame in reader:
                writer.write(frame.image, frame.pts)
                if frame.index == 9:
                    raise KeyboardInterrupt
    assert len(video_times(out)) == 10
    assert probe(out).duration_s == pytest.approx(10 / FPS, abs=FRAME_S)
    start, end = audio_span(out)
    assert abs((end - start) - 10 / FPS) < 0.05
    assert heard_frames(out) == list(range(10))


def test_nothing_written_leaves_no_file(tmp_path: Path) -> None:
    src = write_clip(tmp_path / "in.mp4", frames=4)
    out = tmp_path / "out.mp4"
    with pytest.raises(KeyboardInterrupt):
        with VideoWriter(out, probe(src), audio_from=src):
            raise KeyboardInterrupt
    assert not out.exists()
    with pytest.raises(SinkError, match="no frame"):
        with VideoWriter(out, probe(src), audio_from=src):
            pass
    assert not out.exists()


def test_failed_finalise_keeps_what_reached_the_disk(tmp_path: Path) -> None:
    """A failed finalise (a full disk) keeps what was flushed, playable (it removed the file)."""

    class FullDisk:
        def encode(self, frame: object) -> list[object]:
            if frame is None:
                raise av.error.OSError(28, "No space left on device")
            return real.encode(frame)

    out = tmp_path / "out.mp4"
    writer = VideoWriter(out, VideoSpec(64, 48, Fraction(24)))
    real, writer._video = writer._video, FullDisk()
    for i in range(72):  # 3 s: the first fragments are on disk
        writer.write(clip_frame(i))
    with pytest.raises(SinkError, match="No space left on device") as caught:
        writer.close()
    assert "\n" not in str(caught.value) and "kept what was written before" in str(caught.value)
    assert 48 <= len(video_times(out)) < 72


def test_a_failed_write_stops_the_writer_and_keeps_the_file(tmp_path: Path) -> None:
    """The first failed write raises at once; later writes are refused; close keeps the file."""

    class FullDiskAfter:
        def __init__(self) -> None:
            self.frames = 0

        def encode(self, frame: object) -> list[object]:
            self.frames += 1
            if self.frames > 60:
                raise av.error.OSError(28, "No space left on device")
            return real.encode(frame)

    out = tmp_path / "out.mkv"
    writer = VideoWriter(out, VideoSpec(64, 48, Fraction(24)))
    real, writer._video = writer._video, FullDiskAfter()
    for i in range(60):
        writer.write(clip_frame(i))
    with pytest.raises(SinkError, match=r"cannot write after 60 frames \(No space left on device\); stopped, kept"):
        writer.write(clip_frame(60))
    with pytest.raises(SinkError, match="closed"):
        writer.write(clip_frame(61))
    writer.close()  # releases the file, no second error
    assert 24 <= len(video_times(out)) <= 60


def test_odd_size_is_padded_and_colours_survive(tmp_path: Path) -> None:
    colours = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (200, 120, 40), (16, 16, 16), (240, 240, 240)]
    out = tmp_path / "out.mp4"
    with VideoWriter(out, VideoSpec(33, 25, Fraction(30))) as writer:
        assert (writer.width, writer.height) == (34, 26)
        for colour in colours:
            writer.write(np.full((25, 33, 3), colour, np.uint8))
    with VideoReader(out) as reader:
        frames = list(reader)
    assert reader.info.fps == 30 and [f.time_s for f in frames] == pytest.approx([i / 30 for i in range(6)])
    for frame, colour in zip(frames, colours, strict=True):
        assert frame.image.shape == (26, 34, 3)
        assert np.abs(frame.image.astype(int) - colour).max() <= 3  # BT.709 tagged and read back as such


def test_writer_rejects_frames_of_the_wrong_shape(tmp_path: Path) -> None:
    with VideoWriter(tmp_path / "out.mp4", VideoSpec(64, 48, Fraction(24))) as writer:
        with pytest.raises(SinkError, match="does not match"):
            writer.write(np.zeros((48, 64), np.uint8))
        with pytest.raises(SinkError, match="does not match"):
            writer.write(np.zeros((48, 64, 3), np.float32))
        writer.write(np.zeros((48, 64, 3), np.uint8))
    assert len(video_times(tmp_path / "out.mp4")) == 1


@pytest.mark.parametrize(("width", "height", "preset", "lookahead", "bframes"), [
    (64, 48, "veryfast", b"10", b"3"), (1920, 1080, "veryfast", b"10", b"3"), (2048, 1088, "veryfast", b"1", b"1"),
    (2048, 1088, "ultrafast", None, b"0"),
])
def test_frames_over_1080p_are_encoded_holding_fewer_frames(
    tmp_path: Path, width: int, height: int, preset: str, lookahead: bytes | None, bframes: bytes
) -> None:
    """x264 holds about 25 MB for each 4K frame it keeps: above 1920x1080 it looks 1 frame ahead with 1 B-frame,
    not veryfast's 10 and 3 (ultrafast looks ahead none and has no B-frames, and stays so)."""
    out = tmp_path / "out.mp4"
    with VideoWriter(out, VideoSpec(width, height, Fraction(24)), preset=preset) as writer:
        for _ in range(2):
            writer.write(np.zeros((height, width, 3), np.uint8))
    settings = out.read_bytes()  # x264 writes its settings into the stream
    assert (b" rc_lookahead=" in settings) is (lookahead is not None)
    if lookahead is not None:
        assert b" rc_lookahead=" + lookahead + b" " in settings
    assert b" bframes=" + bframes + b" " in settings


def test_every_audio_stream_goes_to_the_output(tmp_path: Path) -> None:
    src = write_clip(tmp_path / "in.mkv", frames=16, audio_codec=("aac", "pcm_s16le"), tone="steps")
    out = tmp_path / "out.mp4"
    with VideoReader(src) as reader, VideoWriter(out, reader.info, audio_from=src) as writer:
        for frame in reader:
            writer.write(frame.image, frame.pts)
        assert [(r.source_codec, r.output_codec, r.copied) for r in writer.audio_routes] == [
            ("aac", "aac", True), ("pcm_s16le", "aac", False)]
    assert [a.codec for a in probe(out).audio] == ["aac", "aac"]
    for index in (0, 1):
        start, end = audio_span(out, index)
        assert abs((end - start) - 16 / FPS) < 0.05


def test_sound_written_before_the_first_frame_starts_at_time_zero(tmp_path: Path) -> None:
    """write_audio before any frame is held until the first frame sets time zero (it hung the first write)."""
    out = tmp_path / "out.mp4"
    with VideoWriter(out, VideoSpec(64, 48, Fraction(FPS)), audio_rate=48000) as writer:
        writer.write_audio(np.full((2, 48000 // 2), 0.25, np.float32), 0.0)
        for i in range(12):
            writer.write(clip_frame(i), i)
    start, end = audio_span(out)
    assert abs(start) < 0.005 and abs((end - start) - 12 / FPS) < 0.05
