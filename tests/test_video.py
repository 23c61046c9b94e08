"""``dreamstream video`` and ``dreamstream flicker`` end to end on tiny clips with sound (real default model)."""
from __future__ import annotations

import json
import logging
import os
import signal
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from media import audio_span, phone_clip, truncate, video_times, write_clip

import engine.temporal
from stream.cli.main import main
from stream.cli.video import EXIT_INPUT_ENDED_EARLY
from stream.io.clips import write_pan_clip
from stream.io.video import VideoReader, probe
from stream.render.video import expected_frames

FPS = 24
FRAME_S = 1 / FPS
FAST = ["--octaves", "1", "--steps", "1", "--steps-per-frame", "1", "--jitter", "2"]


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """16 frames of 96x64 at 24 fps with a stereo AAC sine track."""
    return write_clip(tmp_path_factory.mktemp("clip") / "in.mp4", width=96, height=64, frames=16, fps=FPS)


# The CLI's video runs install SIGINT/SIGTERM handlers: every test here gets the old ones back.
pytestmark = pytest.mark.usefixtures("restore_signals")


def relative(times: list[Fraction]) -> list[float]:
    return [float(t - times[0]) for t in times]


def frames_of(path: Path) -> list[np.ndarray]:
    with VideoReader(path) as reader:
        return [f.image for f in reader]


def one_error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("dreamstream: ")
    return lines[0]


@pytest.mark.slow
def test_video_keeps_frames_rate_duration_and_sound(clip: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "out.mp4"
    assert main(["video", str(clip), str(out), *FAST]) == 0
    assert capsys.readouterr().out.strip() == str(out)
    src, dst = probe(clip), probe(out)
    assert (dst.width, dst.height, dst.fps, dst.frame_count) == (96, 64, FPS, 16)
    assert abs(dst.duration_s - src.duration_s) <= FRAME_S
    assert relative(video_times(out)) == pytest.approx(relative(video_times(clip)), abs=1e-6)
    (a0, a1), (b0, b1) = audio_span(clip), audio_span(out)
    assert abs((b1 - b0) - (a1 - a0)) <= FRAME_S
    dreamed, original = frames_of(out), frames_of(clip)
    assert np.mean([np.abs(d.astype(int) - o).mean() for d, o in zip(dreamed, original)]) > 2.0  # it dreamed


@pytest.mark.slow
def test_max_frames_start_and_duration_trim_video_and_sound(clip: Path, tmp_path: Path) -> None:
    out = tmp_path / "five.mkv"
    assert main(["video", str(clip), str(out), *FAST, "--max-frames", "5", "--flow", "farneback"]) == 0
    assert len(video_times(out)) == 5
    start, end = audio_span(out)
    assert abs((end - start) - 5 * FRAME_S) <= FRAME_S
    out = tmp_path / "window.mp4"
    assert main(["video", str(clip), str(out), *FAST, "--start", "0.25", "--duration", "0.25", "--flow", "none"]) == 0
    assert len(video_times(out)) == 6
    start, end = audio_span(out)
    assert abs((end - start) - 6 * FRAME_S) <= FRAME_S


@pytest.mark.slow
def test_a_rotated_clip_is_dreamed_upright_and_keeps_its_orientation(tmp_path, monkeypatch):
    """A -90 phone clip is dreamed upright, and the output is stored as the input with the same rotation tag."""
    import av

    seen: list[tuple[int, ...]] = []
    original = engine.temporal.TemporalDreamer.__call__

    def spy(self, frame):
        seen.append(frame.shape)
        return original(self, frame)

    monkeypatch.setattr(engine.temporal.TemporalDreamer, "__call__", spy)
    clip = phone_clip(tmp_path / "phone.mp4")
    for suffix, how in ((".mp4", []), (".mkv", []), (".mov", ["--resume"])):  # --resume: the chunked render
        out = tmp_path / f"dream{suffix}"
        assert main(["video", str(clip), str(out), *FAST, *how]) == 0
        with av.open(str(out)) as container:
            first = next(container.decode(video=0))
            assert (first.width, first.height, first.rotation) == (96, 64, -90)  # stored as the input, same tag
        with VideoReader(out) as reader:
            dreamed = [f.image for f in reader]
        assert len(dreamed) == 6 and dreamed[0].shape == (96, 64, 3)
        top, below = dreamed[3][:12].mean(), dreamed[3][24:].mean()
        assert top > below + 80  # the white band is still at the top when shown
    assert set(seen) == {(96, 64, 3)}  # the dream saw the picture upright


@pytest.mark.slow
def test_flicker_prints_warping_errors_as_json(clip: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "out.mp4"
    assert main(["video", str(clip), str(out), *FAST, "--dream-scale", "1"]) == 0
    capsys.readouterr()
    assert main(["flicker", str(clip), str(out)]) == 0
    result = json.loads(capsys.readouterr().out)
    errors = result["warping_error"]
    assert result["frames"] == 16 and 0 < errors["original"] < 0.05 and errors["dreamed"] > 0
    assert result["ratio"] == pytest.approx(errors["dreamed"] / errors["original"])
    assert 0.5 < result["reliable_fraction"] <= 1.0
    assert result["mean_change"]["last_quarter"] > 2.0
    assert main(["flicker", str(clip), str(clip), "--max-frames", "6"]) == 0
    same = json.loads(capsys.readouterr().out)
    assert same["frames"] == 6 and same["ratio"] == pytest.approx(1.0) and same["mean_change"]["first_quarter"] == 0.0


def test_flicker_rejects_videos_of_different_sizes(clip: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    other = write_clip(tmp_path / "other.mp4", width=64, height=48, frames=4, audio=False)
    assert main(["flicker", str(clip), str(other)]) == 4
    assert "64x48 does not match" in one_error_line(capsys.readouterr().err)


def test_flicker_compares_an_odd_size_input_with_its_even_size_dream(tmp_path):
    """A 641x359 input gives a 642x360 dream: flicker compares the two (it refused them, "does not match")."""
    from media import write_clip

    from stream.render.video import compare_videos

    original = write_clip(tmp_path / "odd.mkv", 65, 47, frames=6, audio=False, lossless=True)  # stays 65x47
    dreamed = write_clip(tmp_path / "even.mp4", 66, 48, frames=6, audio=False)
    result = compare_videos(original, dreamed)
    assert result["frames"] == 6 and result["mean_change"]["first_quarter"] < 20
    other = write_clip(tmp_path / "other.mp4", 96, 48, frames=6, audio=False)
    with pytest.raises(Exception, match="does not match"):
        compare_videos(original, other)


def _text_file(path: Path) -> Path:
    path.write_text("not a video")
    return path


@pytest.mark.parametrize(
    ("make_input", "output", "code", "message"),
    [
        (lambda d, clip: d / "missing.mp4", "out.mp4", 4, "no such file"),
        (lambda d, clip: _text_file(d / "notes.mp4"), "out.mp4", 4, "not a readable video"),
        (lambda d, clip: clip, "no/such/folder/out.mp4", 5, "does not exist"),
        (lambda d, clip: clip, "out.avi", 5, "unsupported output extension"),
        (lambda d, clip: clip, "folder.mp4/", 5, "is a directory"),
    ],
    ids=["missing", "not-a-video", "no-folder", "bad-extension", "directory"],
)
def test_bad_inputs_and_outputs_end_with_one_line(
    clip: Path, tmp_path: Path, capsys: pytest.CaptureFixture, make_input, output: str, code: int, message: str
) -> None:
    source = make_input(tmp_path, clip)
    target = tmp_path / output
    if output.endswith("/"):
        target.mkdir()
    assert main(["video", str(source), str(target), *FAST]) == code
    assert message in one_error_line(capsys.readouterr().err)
    assert target.is_dir() if output.endswith("/") else not target.exists()


def test_bad_settings_end_with_one_line(clip: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["video", str(clip), str(tmp_path / "out.mp4"), "--flow-blend", "1.5"]) == 2
    assert "video.flow_blend: 1.5 is out of range" in one_error_line(capsys.readouterr().err)
    assert main(["video", str(clip), str(tmp_path / "out.mp4"), "--crf", "60"]) == 2
    assert "crf 60" in one_error_line(capsys.readouterr().err)
    assert not (tmp_path / "out.mp4").exists()


def test_a_window_past_the_end_is_a_source_error(clip: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "out.mp4"
    assert main(["video", str(clip), str(out), *FAST, "--start", "5"]) == 4
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--start 5 s is past the end" in err[0] and "allowed 0 to 0.667 s" in err[0]
    assert not out.exists()


@pytest.mark.slow
@pytest.mark.parametrize("how", [[], ["--resume"]], ids=["one_pass", "chunked"])
def test_truncated_input_dreams_what_decodes(
    clip: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture, how: list[str]
) -> None:
    """A truncated input ends with a distinct status that says the input ended early (it exited 0)."""
    cut = truncate(clip, 0.6, tmp_path / "cut.mp4")
    out = tmp_path / "out.mp4"
    with caplog.at_level(logging.WARNING):
        assert main(["video", str(cut), str(out), *FAST, *how]) == EXIT_INPUT_ENDED_EARLY == 6
    assert any("keeping what decoded" in r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)
    assert one_error_line(capsys.readouterr().err).startswith(f"dreamstream: input ended early: {cut} is cut short")
    n = len(video_times(out))
    assert 1 <= n < 16 and probe(out).frame_count == n


def _stop_after(monkeypatch: pytest.MonkeyPatch, frames: int, stop) -> None:
    """Make the dreamer call ``stop()`` when asked for frame ``frames`` (0-based)."""
    original = engine.temporal.TemporalDreamer.__call__
    count = {"n": 0}

    def call(self, frame: np.ndarray) -> np.ndarray:
        if count["n"] == frames:
            stop()
        count["n"] += 1
        return original(self, frame)

    monkeypatch.setattr(engine.temporal.TemporalDreamer, "__call__", call)


def _interrupt() -> None:
    raise KeyboardInterrupt


def _terminate() -> None:
    os.kill(os.getpid(), signal.SIGTERM)


@pytest.mark.slow
@pytest.mark.parametrize(("stop", "code", "word"), [(_interrupt, 130, "interrupted"), (_terminate, 143, "terminated")])
def test_interrupted_run_leaves_a_playable_file(
    clip: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
    stop,
    code: int,
    word: str,
) -> None:
    _stop_after(monkeypatch, 4, stop)
    out = tmp_path / "out.mp4"
    assert main(["video", str(clip), str(out), *FAST]) == code
    assert one_error_line(capsys.readouterr().err) == f"dreamstream: {word} after 4 frames; {out} holds them"
    assert len(video_times(out)) == 4 and probe(out).frame_count == 4
    start, end = audio_span(out)
    assert abs((end - start) - 4 * FRAME_S) <= FRAME_S
    assert len(frames_of(out)) == 4


def test_interrupt_before_the_first_frame_leaves_nothing(
    clip: Path, tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    _stop_after(monkeypatch, 0, _interrupt)
    out = tmp_path / "out.mp4"
    assert main(["video", str(clip), str(out), *FAST]) == 130
    assert "before the first frame" in one_error_line(capsys.readouterr().err)
    assert not out.exists()


def test_expected_frames_for_the_progress_bar(clip: Path) -> None:
    info = probe(clip)
    assert expected_frames(info, 0.0, None, None) == 16
    assert expected_frames(info, 0.25, None, None) == 10
    assert expected_frames(info, 0.0, 0.25, None) == 6
    assert expected_frames(info, 0.0, None, 3) == 3


def test_pan_clip_has_smooth_motion_and_sound(tmp_path: Path) -> None:
    from skimage import data

    path = Path(write_pan_clip(tmp_path / "pan.mp4", data.coffee(), frames=6, width=64, height=48, fps=12))
    info = probe(path)
    assert (info.width, info.height, info.fps, info.frame_count, info.has_audio) == (64, 48, 12, 6, True)
    start, end = audio_span(path)
    assert end - start == pytest.approx(0.5, abs=1 / 12)
    frames = frames_of(path)
    steps = [np.abs(a.astype(int) - b).mean() for a, b in zip(frames, frames[1:])]
    assert all(0.5 < s < 40 for s in steps)  # it moves, without jumps
    sky = Path(write_pan_clip(tmp_path / "sky.mkv", None, frames=3, width=64, height=48, audio=False))
    image = frames_of(sky)[0]
    assert not probe(sky).has_audio and image[..., 2].mean() > image[..., 0].mean()  # blue sky
