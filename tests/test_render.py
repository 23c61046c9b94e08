"""Chunked, resumable renders (``dreamstream video --workers N | --resume``): plan, manifest, Ray, resume, faults.

The end-to-end tests dream a clip with a sound track and one scene cut (``media`` pattern
``scenes``) with the real default model at tiny settings, and compare with a single pass written
at ``--crf 0`` (lossless in YUV), so that equal dreams give equal decoded frames.
"""
from __future__ import annotations

import contextlib
import errno
import io
import itertools
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from media import audio_span, video_times, write_clip

from engine.errors import SinkError, SourceError
from stream.render.chunks import Chunk, fade_weights, plan_chunks, scenes
from stream.render.manifest import MANIFEST, Manifest, read_manifest, settings_hash, write_manifest
from stream.render.scan import Scan
from stream.render.worker import ChunkJob

FPS = 24
FRAME_S = 1 / FPS
FAST = ["--octaves", "1", "--steps", "1", "--steps-per-frame", "1", "--jitter", "2", "--crf", "0"]
ROOT = Path(__file__).resolve().parents[1]


# --------------------------------------------------------------------------------------------------
# Planning (pure)


def test_scenes_split_at_cuts() -> None:
    assert scenes(10, [4, 7]) == [(0, 4), (4, 7), (7, 10)]
    assert scenes(10, [0, 10, 4, 4]) == [(0, 4), (4, 10)]  # edges and repeats ignored


def test_chunks_cut_at_scenes_and_split_long_ones_with_a_lead_in() -> None:
    chunks = plan_chunks(100, [40], chunk_frames=20, overlap=5)
    assert [(c.start, c.stop, c.lead_in) for c in chunks] == [
        (0, 20, 0), (20, 40, 5),  # scene 1: the second piece starts inside it, 5 frames early
        (40, 60, 0), (60, 80, 5), (80, 100, 5),  # scene 2 starts at the cut: no lead-in
    ]
    assert [c.index for c in chunks] == list(range(5))
    assert chunks[1].first == 15 and chunks[1].dreamed == 25 and chunks[1].frames == 20


def test_lead_in_never_reaches_into_the_previous_scene() -> None:
    chunks = plan_chunks(30, [10], chunk_frames=4, overlap=8)
    for c in chunks:
        scene_start = 0 if c.start < 10 else 10
        assert c.first >= scene_start
    assert chunks[1].start == 5 and chunks[1].lead_in == 5  # only 5 frames of its scene before it, not 8


def test_short_scenes_share_a_chunk_up_to_its_length() -> None:
    chunks = plan_chunks(40, [5, 10, 15, 30], chunk_frames=16, overlap=4)
    assert [(c.start, c.stop) for c in chunks] == [(0, 15), (15, 30), (30, 40)]
    assert all(c.lead_in == 0 for c in chunks)


def test_lead_in_warms_up_then_fades() -> None:
    assert fade_weights(0) == []
    assert fade_weights(4) == [0.0, 0.0, pytest.approx(1 / 3), pytest.approx(2 / 3)]
    weights = fade_weights(25)
    assert weights[:12] == [0.0] * 12 and all(0 < a < b < 1 for a, b in itertools.pairwise(weights[12:]))


def test_plan_covers_every_frame_once() -> None:
    rng = np.random.default_rng(0)
    for _ in range(50):
        n = int(rng.integers(1, 500))
        cuts = sorted(set(rng.integers(0, n, size=int(rng.integers(0, 8))).tolist()))
        chunks = plan_chunks(n, cuts, chunk_frames=int(rng.integers(1, 80)), overlap=int(rng.integers(0, 30)))
        assert chunks[0].start == 0 and chunks[-1].stop == n
        assert all(a.stop == b.start for a, b in itertools.pairwise(chunks))
        assert all(c.frames >= 1 and c.first >= 0 for c in chunks)
        assert all(b.lead_in <= a.frames for a, b in itertools.pairwise(chunks))  # a fade needs frames to fade from


# --------------------------------------------------------------------------------------------------
# Manifest


def _manifest() -> Manifest:
    scan = Scan((0, 512, 1024, 1536), (2,), 0, Fraction(1, 12288), False)
    return Manifest("abc", 1234, "f00d", scan, [Chunk(0, 0, 2), Chunk(1, 2, 4)], {0: 2})


def test_manifest_round_trip(tmp_path: Path) -> None:
    write_manifest(tmp_path, _manifest())
    assert not (tmp_path / (MANIFEST + ".tmp")).exists()
    back = read_manifest(tmp_path)
    assert back is not None and back.to_json() == _manifest().to_json()
    assert back.chunks[1] == Chunk(1, 2, 4) and back.done == {0: 2}


def test_an_unreadable_manifest_starts_over(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / MANIFEST).write_text('{"version": 1, "settings_hash": ')  # what a crash mid-write would leave
    assert read_manifest(tmp_path) is None
    assert "unreadable" in caplog.text
    assert read_manifest(tmp_path / "nothing") is None


def test_settings_hash_follows_the_values() -> None:
    a = settings_hash({"dream": {"steps": 3, "octaves": 4}})
    assert a == settings_hash({"dream": {"octaves": 4, "steps": 3}})
    assert a != settings_hash({"dream": {"steps": 4, "octaves": 4}})


# --------------------------------------------------------------------------------------------------
# Join


class _Frames:
    """A writer that keeps what it is given."""

    def __init__(self) -> None:
        self.frames: list[tuple[int, np.ndarray]] = []

    def write(self, image: np.ndarray, pts: int) -> None:
        self.frames.append((pts, image))


def _two_parts(tmp_path: Path) -> tuple[ChunkJob, list[Chunk]]:
    """Two chunk files of 33x17 frames: chunk 0 (frames 0-9) of 0, 1, 0, 1, ...; chunk 1 (10-19, 4 lead-in frames)
    of 210, 211, ...; the input: 20 frames of 100."""
    from stream.io.video import VideoSpec, VideoWriter
    from stream.render.scan import Window, scan_input
    from stream.render.worker import ChunkJob, part_path
    from stream.settings.video import VideoSettings

    chunks = [Chunk(0, 0, 10), Chunk(1, 10, 20, lead_in=4)]
    spec = VideoSpec(33, 17, Fraction(24))  # odd sizes: no padding
    source = tmp_path / "in.mkv"
    with VideoWriter(source, spec, lossless=True) as writer:
        for i in range(20):
            writer.write(np.full((17, 33, 3), 100, np.uint8), i)
    _, scan = scan_input(str(source), Window(), VideoSettings())
    job = ChunkJob(str(source), str(tmp_path), scan, spec)
    for chunk, value in zip(chunks, (0, 210)):
        with VideoWriter(part_path(job, chunk), job.spec, lossless=True) as writer:
            for i in range(chunk.dreamed):
                writer.write(np.full((17, 33, 3), value + i % 2, np.uint8), i)
    return job, chunks


def test_join_fades_the_previous_chunk_into_the_lead_in(tmp_path: Path) -> None:
    from stream.render.join import Joiner, fade
    from stream.render.worker import part_path

    job, chunks = _two_parts(tmp_path)
    out = _Frames()
    joiner = Joiner(job, chunks, out)
    joiner.add(chunks[0])
    assert joiner.written == 6 and [i for i, _ in joiner.held] == [6, 7, 8, 9]  # chunk 1's lead-in fades from these
    joiner.add(chunks[1])
    assert joiner.finish() == 20 and not joiner.held
    assert [pts for pts, _ in out.frames] == list(job.scan.pts)  # the input's timestamps
    values = [int(image[0, 0, 0]) for _, image in out.frames]
    # frames 6-7 warm chunk 1 up (chunk 0 kept), 8-9 fade to it (weights 1/3, 2/3), from 10 on chunk 1 alone
    plain = np.full((17, 33, 3), 100, np.uint8)
    faded = [int(fade(np.full_like(plain, a), np.full_like(plain, b), plain, w)[0, 0, 0])
             for a, b, w in [(0, 210, 1 / 3), (1, 211, 2 / 3)]]
    assert values == [0, 1, 0, 1, 0, 1, 0, 1, *faded, 210, 211, 210, 211, 210, 211, 210, 211, 210, 211]
    assert 0 < faded[0] < faded[1] < 210
    assert all(image.shape == (17, 33, 3) for _, image in out.frames)

    alone = _Frames()
    joiner = Joiner(job, chunks, alone)
    with pytest.raises(ValueError, match="chunk 1 .* is not the next chunk to join"):
        joiner.add(chunks[1])
    joiner.add(chunks[0])
    assert joiner.finish() == 10  # the render stopped before chunk 1: chunk 0 to its end, as dreamed
    assert [int(image[0, 0, 0]) for _, image in alone.frames] == [0, 1] * 5

    part_path(job, chunks[1]).write_bytes(part_path(job, chunks[1]).read_bytes()[:2000])  # a damaged part
    joiner = Joiner(job, chunks, _Frames())
    joiner.add(chunks[0])
    with pytest.raises(SourceError, match="chunk_00001.mkv: holds"):
        joiner.add(chunks[1])


def test_a_fade_keeps_the_dream_as_strong_as_its_two_ends() -> None:
    """Two dreams that do not line up (stripes across and along) mixed plainly are fainter half way; the fade is not."""
    from stream.render.join import MAX_FADE_GAIN, fade

    original = np.full((64, 64, 3), 128, np.uint8)
    stripes = (np.arange(64) % 2 * 2 - 1) * 20  # +-20 around the frame: a residual of RMS 20
    across = (original + stripes[None, :, None]).astype(np.uint8)
    along = (original + stripes[:, None, None]).astype(np.uint8)

    def strength(image: np.ndarray) -> float:
        return float(np.sqrt(np.mean((image.astype(np.float64) - original) ** 2)))

    for weight in (0.2, 0.5, 0.8):
        plain = (1 - weight) * across.astype(np.float64) + weight * along
        assert strength(plain) == pytest.approx(20 * np.hypot(1 - weight, weight), abs=0.1)  # 14.1 half way
        mixed = fade(across, along, original, weight)
        assert strength(mixed) == pytest.approx(20, abs=0.6)
        toward = np.mean((mixed.astype(np.float64) - original) * (along.astype(np.float64) - original))
        away = np.mean((mixed.astype(np.float64) - original) * (across.astype(np.float64) - original))
        assert (toward > away) == (weight > 0.5)  # it still goes from one dream to the other
    assert fade(across, along, original, 0.0) is across and fade(across, along, original, 1.0) is along
    nearly_opposite = (original - 0.8 * stripes[None, :, None]).astype(np.uint8)  # the two nearly cancel: +-2 left
    assert strength(fade(across, nearly_opposite, original, 0.5)) == pytest.approx(2 * MAX_FADE_GAIN)  # not 9x


def test_the_join_thread_takes_the_done_prefix_as_it_grows(tmp_path: Path) -> None:
    from stream.render.join import JoinThread

    job, chunks = _two_parts(tmp_path)
    out = _Frames()
    joining = JoinThread(job, chunks, out)
    joining.offer({1: 10})  # chunk 1 alone is no prefix: nothing to join yet
    assert joining.queued == 0
    joining.offer({0: 10, 1: 10})
    assert joining.queued == 2
    assert joining.close() == 20 and joining.seconds > 0
    assert [pts for pts, _ in out.frames] == list(job.scan.pts)

    class Full(_Frames):
        def write(self, image: np.ndarray, pts: int) -> None:
            if len(self.frames) == 3:
                raise SinkError("out.mp4: cannot write after 3 frames (No space left on device)")
            super().write(image, pts)

    joining = JoinThread(job, chunks, Full())
    joining.offer({0: 10})
    with pytest.raises(SinkError, match="No space left"):
        joining.close()

    reached, go = threading.Event(), threading.Event()

    class Slow(_Frames):
        def write(self, image: np.ndarray, pts: int) -> None:
            if len(self.frames) == 3:
                reached.set()
                go.wait(10)
            super().write(image, pts)

    slow = Slow()
    joining = JoinThread(job, chunks, slow)
    joining.offer({0: 10, 1: 10})
    assert reached.wait(10)
    threading.Timer(0.2, go.set).start()
    joining.abort()  # stops after the frame being written: it stays, nothing more comes
    assert len(slow.frames) == joining.joiner.written == 4


# --------------------------------------------------------------------------------------------------
# End to end: a clip with sound and a scene cut


CLIP_FRAMES = 48  # scene cut at SCENES_CUT = 24


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """48 frames of 96x64 at 24 fps, one scene cut at frame 24, with a stereo AAC sine track."""
    return write_clip(tmp_path_factory.mktemp("clip") / "in.mp4", width=96, height=64, frames=CLIP_FRAMES, fps=FPS,
                      pattern="scenes")


@pytest.fixture(scope="module")
def single(clip: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The single-process dream of ``clip`` (plain ``dreamstream video``)."""
    from stream.cli import main

    out = tmp_path_factory.mktemp("single") / "single.mp4"
    assert main(["video", str(clip), str(out), *FAST]) == 0
    return out


# The CLI's video runs install SIGINT/SIGTERM handlers: every test here gets the old ones back.
pytestmark = pytest.mark.usefixtures("restore_signals")


def frames_of(path: Path) -> list[np.ndarray]:
    from stream.io.video import VideoReader

    with VideoReader(path) as reader:
        return [f.image.astype(np.int16) for f in reader]


def relative(times: list[Fraction]) -> list[Fraction]:
    return [t - times[0] for t in times]


def per_frame_difference(a: Path, b: Path) -> np.ndarray:
    """Mean absolute difference (0-255) of each pair of decoded frames."""
    fa, fb = frames_of(a), frames_of(b)
    assert len(fa) == len(fb)
    return np.array([float(np.abs(x - y).mean()) for x, y in zip(fa, fb)])


def one_error_line(err: str) -> str:
    lines = [line for line in err.strip().splitlines() if line.startswith("dreamstream")]
    assert len(lines) == 1, err
    return lines[0]


def assert_same_timing(out: Path, ref: Path) -> None:
    from stream.io.video import probe

    a, b = probe(out), probe(ref)
    assert (a.width, a.height, a.fps, a.frame_count) == (b.width, b.height, b.fps, b.frame_count)
    assert video_times(out) == video_times(ref)
    (a0, a1), (b0, b1) = audio_span(out), audio_span(ref)
    assert abs((a1 - a0) - (b1 - b0)) <= 1e-3 and abs(a0 - b0) <= 1e-3


@pytest.fixture(scope="module")
def ray_local():
    """A local Ray with 2 CPUs, shared by this module's Ray tests."""
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


# chunk_s 0.5 s = 12 frames: scene 1 (frames 0-23) in 2 chunks, the second with a 4-frame lead-in;
# scene 2 (24-47) in 2 chunks, starting at the cut (exact) and inside the scene (lead-in).
CHUNKS = ["--chunk-s", "0.5", "--chunk-overlap", "4"]


def fast_chunks_config():
    """The config of ``FAST`` and ``CHUNKS``, for :func:`render_chunked` called here."""
    from stream.settings.loader import load_config

    return load_config(overrides={"dream.octaves": 1, "dream.steps": 1, "video.steps_per_frame": 1, "dream.jitter": 2,
                                  "video.chunk_s": 0.5, "video.chunk_overlap": 4})


@pytest.fixture(scope="module")
def ray_output(ray_local, clip: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """``clip`` dreamed by 2 Ray workers, and what the command printed."""
    from stream.cli import main

    out = tmp_path_factory.mktemp("ray") / "ray.mp4"
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert main(["video", str(clip), str(out), *FAST, *CHUNKS, "--workers", "2"]) == 0
    return out, printed.getvalue()


@pytest.mark.slow
def test_two_ray_workers_match_a_single_pass(ray_output: tuple[Path, str], clip: Path, single: Path) -> None:
    out, printed = ray_output
    assert printed.strip() == str(out)
    assert_same_timing(out, single)
    assert not Path(str(out) + ".parts").exists()  # removed after the join
    diff = per_frame_difference(out, single)
    # Chunks 0 (frames 0-11) and 2 (24-35, at the cut) start where the single pass starts a dream:
    # the same frames exactly, up to the 2 frames that fade into the next chunk (4 lead-in frames:
    # 2 to warm up, 2 to fade). Chunks 1 and 3 start inside a scene: their own dream of it.
    assert diff[:10].max() < 0.5 and diff[24:34].max() < 0.5  # measured 0.0: the same frames exactly
    assert 0.0 < diff[10:12].max() and 0.0 < diff[34:36].max()
    own = np.concatenate([diff[12:24], diff[36:]])
    assert own.max() < 8.0, own  # measured: mean 4.97, max 5.9 (of 255); the dream itself changes frames by ~5
    dream = per_frame_difference(single, clip)
    assert own.mean() < 1.5 * dream.mean()
    assert (frames_of(out)[15] != frames_of(clip)[15]).any()  # it dreamed


@pytest.mark.slow
def test_a_dead_worker_has_its_chunk_retried_then_a_clear_error(
    ray_output: tuple[Path, str], clip: Path, tmp_path: Path
) -> None:
    from stream.render.errors import RenderError
    from stream.render.job import RenderOptions, render_chunked
    from stream.render.scan import Window

    cfg = fast_chunks_config()
    killed: list[int] = []

    def kill_first_try_of_chunk_1(chunk: Chunk, pid: int) -> None:
        if chunk.index == 1 and not killed:
            killed.append(pid)
            os.kill(pid, signal.SIGKILL)

    out = tmp_path / "retried.mp4"
    options = RenderOptions(workers=2, crf=0, on_assign=kill_first_try_of_chunk_1)
    run = render_chunked(cfg, str(clip), str(out), Window(), options)
    assert killed and run.frames == CLIP_FRAMES and len(run.results) == 4
    assert per_frame_difference(out, ray_output[0]).max() < 0.5  # measured 0.0: the retried chunk is the same dream

    def kill_always(chunk: Chunk, pid: int) -> None:
        if chunk.index == 1:
            os.kill(pid, signal.SIGKILL)

    options = RenderOptions(workers=2, crf=0, max_retries=1, on_assign=kill_always)
    with pytest.raises(RenderError, match=r"chunk 1 \(frames 12-23\): its worker died 2 times \(retry limit 1\)"):
        render_chunked(cfg, str(clip), str(tmp_path / "failed.mp4"), Window(), options)
    failed = tmp_path / "failed.mp4"  # holds what was joined before the error: chunk 0 but its 4 faded frames, if done
    assert not failed.exists() or len(video_times(failed)) == 8
    assert Path(str(failed) + ".parts").is_dir()  # kept for the next run


def part_stats(parts: Path, done) -> dict[int, tuple[int, int, int]]:
    """(inode, mtime, size) of the finished chunks' files: a chunk reused is not written again."""
    stats = {int(i): (parts / f"chunk_{int(i):05d}.mkv").stat() for i in done}
    return {i: (st.st_ino, st.st_mtime_ns, st.st_size) for i, st in stats.items()}


@pytest.mark.slow
def test_resume_with_ray_workers_reuses_the_done_chunks(ray_output: tuple[Path, str], clip: Path, tmp_path: Path) -> None:
    """Ctrl-C as the 4th chunk starts (2 done), then the same render again on 2 Ray workers."""
    from stream.render.job import RenderOptions, render_chunked
    from stream.render.scan import Window

    cfg = fast_chunks_config()

    def interrupt_at_chunk_3(chunk: Chunk, pid: int) -> None:
        if chunk.index == 3:
            raise KeyboardInterrupt  # what Ctrl-C raises in the driver

    out = tmp_path / "resumed.mp4"
    parts = Path(str(out) + ".parts")
    first = render_chunked(cfg, str(clip), str(out), Window(), RenderOptions(workers=2, crf=0, on_assign=interrupt_at_chunk_3))
    assert first.interrupted == 130
    done = {int(i) for i in _done_chunks(parts)}
    assert len(done) == 2 and len(first.results) == 2, done  # chunk 3 starts when the second chunk is done
    prefix = 0 if 0 not in done else 1 if 1 not in done else 2
    assert first.frames == 12 * prefix  # the done chunks from the first on, joined (no output when chunk 0 is not done)
    assert out.exists() == bool(prefix)
    before = part_stats(parts, done)

    again = render_chunked(cfg, str(clip), str(out), Window(), RenderOptions(workers=2, crf=0, keep_parts=True))
    assert again.interrupted is None and again.reused == 2 and again.frames == CLIP_FRAMES
    assert sorted(r.index for r in again.results) == sorted({0, 1, 2, 3} - done)  # only the others dreamed
    assert part_stats(parts, done) == before  # the done chunks' files untouched
    assert not list(parts.glob("*.partial.mkv"))
    assert per_frame_difference(out, ray_output[0]).max() < 0.5  # measured 0.0: what one run of 2 Ray workers writes


def _done_chunks(parts: Path) -> dict[str, int]:
    try:
        return json.loads((parts / MANIFEST).read_text())["done"]
    except (OSError, ValueError):
        return {}


@pytest.mark.slow
def test_resume_after_sigkill_reuses_exactly_the_finished_chunks(clip: Path, tmp_path: Path) -> None:
    """SIGKILL after 2 of 4 chunks; the same command again reuses those 2 and writes what one run writes."""
    out, whole = tmp_path / "resumed.mp4", tmp_path / "whole.mp4"
    # Threads fixed: the auto count follows other processes' load (stream/io/cpu_share.py), and 1 and 2 threads round
    # differently; exactly the same frames need the same count in both runs.
    args = [*FAST, "--chunk-s", "0.5", "--chunk-overlap", "4", "--workers", "1", "--resume", "--keep-parts",
            "--threads", "2"]
    cli = [sys.executable, "-c", "import sys; from stream.cli import main; sys.exit(main(sys.argv[1:]))"]
    command = [*cli, "video", str(clip), str(out), *args]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    parts = Path(str(out) + ".parts")
    job = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 300
    while len(_done_chunks(parts)) < 2 and job.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    job.send_signal(signal.SIGKILL)
    job.communicate()
    done = _done_chunks(parts)
    assert sorted(done) == ["0", "1"], done  # killed after 2 of 4
    # OUT may hold the start of the join (chunk 0 joins while chunk 1 dreams; a kill loses its last second): the
    # next run writes it anew.
    files = {i: (parts / f"chunk_{int(i):05d}.mkv").stat() for i in done}

    again = subprocess.run(command, check=False, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    assert "reusing 2 of 4 finished chunks (24 frames)" in again.stderr
    for i, before in files.items():  # those 2 files untouched; the other 2 dreamed now
        after = (parts / f"chunk_{int(i):05d}.mkv").stat()
        assert (after.st_ino, after.st_mtime_ns, after.st_size) == (before.st_ino, before.st_mtime_ns, before.st_size)
    assert sorted(_done_chunks(parts)) == ["0", "1", "2", "3"]
    once = subprocess.run([*cli, "video", str(clip), str(whole), *args], check=False, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert once.returncode == 0, once.stderr
    assert "reusing" not in once.stderr
    assert_same_timing(out, whole)
    assert per_frame_difference(out, whole).max() == 0.0


def _marked(marker: str) -> dict[int, str]:
    """Process id -> command line of every process whose environment holds ``marker`` (a test's child and its own)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if marker.encode() in (entry / "environ").read_bytes():
                found[int(entry.name)] = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
    return found


def _kill_marked(marker: str) -> None:
    """SIGKILL every process :func:`_marked` finds."""
    for pid in _marked(marker):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


# The CLI in a child process that says, at every fork it makes beside Python code (a preexec_fn: Ray's start),
# which threads were running: a fork beside a thread of ours is what deadlocked a resumed render's Ray start.
FORK_SPY = (
    "import os, sys, threading; "
    "os.register_at_fork(before=lambda: print('fork beside threads:', *sorted(t.name for t in threading.enumerate()), "
    "file=sys.stderr, flush=True)); "
    "from stream.cli import main; sys.exit(main(sys.argv[1:]))"
)


def _ray_starting(marker: str) -> bool:
    """Ray's first process (its GCS server) of the marked run is up."""
    return any("gcs_server" in command for command in _marked(marker).values())


def _killed_at(command: list[str], env: dict[str, str], log: Path, when, what: str) -> None:
    """Run ``command`` and SIGKILL it as soon as ``when()`` holds (or it ended); then end what it left (Ray's)."""
    with open(log, "ab") as err:  # a file, not a pipe: Ray's processes may hold it open after the driver dies
        driver = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=err,
                                  start_new_session=True)
        deadline = time.monotonic() + 120
        while not when() and driver.poll() is None and time.monotonic() < deadline:
            time.sleep(0.005)
        assert driver.poll() is None, f"{what}: the run ended before the kill: {log.read_text()[-2000:]}"
        driver.send_signal(signal.SIGKILL)
        driver.wait(30)
    marker = env["DREAMSTREAM_TEST_MARK"]
    deadline = time.monotonic() + 20  # Ray ends the workers of a driver that died (its two agents stay)
    while any("_RemoteDreamer" in c for c in _marked(marker).values()) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [c for c in _marked(marker).values() if "_RemoteDreamer" in c], what
    _kill_marked(marker)


@pytest.mark.slow
def test_a_ray_render_killed_at_any_point_resumes_to_the_end(clip: Path, single: Path, tmp_path: Path) -> None:
    """The driver of 2 Ray workers killed with SIGKILL while Ray starts, while it dreams, while Ray starts again with
    finished chunks to join (where the rerun hung: the join thread ran beside Ray's forks), and while it joins beside
    the dreaming; then the same command finishes in time, with every frame at its time and no fork beside a thread."""
    pytest.importorskip("ray")
    out = tmp_path / "killed.mp4"
    parts = Path(str(out) + ".parts")
    command = [sys.executable, "-c", FORK_SPY, "video", str(clip), str(out), *FAST, *CHUNKS, "--workers", "2",
               "--keep-parts"]
    marker = f"dreamstream-test-{os.getpid()}-{time.monotonic_ns()}"  # finds Ray's processes of that run too
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DREAMSTREAM_TEST_MARK": marker}
    log = tmp_path / "driver.log"
    try:
        _killed_at(command, env, log, lambda: _ray_starting(marker), "while Ray starts")
        assert not _done_chunks(parts)
        _killed_at(command, env, log, lambda: bool(_done_chunks(parts)), "while dreaming")
        done = _done_chunks(parts)
        assert 1 <= len(done) < 4, (done, log.read_text())
        _killed_at(command, env, log, lambda: _ray_starting(marker), "while Ray starts with chunks to join")
        assert _done_chunks(parts) == done
        joined = lambda: out.is_file() and out.stat().st_size > 0 or len(_done_chunks(parts)) > len(done)
        if len(done) < 3:
            _killed_at(command, env, log, joined, "while joining beside the dreaming")
        done = _done_chunks(parts)
        before = part_stats(parts, done)

        again = subprocess.run(command, check=False, cwd=ROOT, env=env, capture_output=True, text=True, timeout=180)
        assert again.returncode == 0, again.stderr
        assert f"reusing {len(done)} of 4 finished chunks" in again.stderr
        forks = [line for line in again.stderr.splitlines() if line.startswith("fork beside threads:")]
        assert forks and set(forks) == {"fork beside threads: MainThread"}, forks  # Ray started, and alone
        assert part_stats(parts, done) == before
        assert sorted(_done_chunks(parts)) == ["0", "1", "2", "3"]
        assert not list(parts.glob("*.partial.mkv"))
        assert_same_timing(out, single)  # every frame at its time, with the sound
    finally:
        _kill_marked(marker)


def test_a_stuck_ray_start_ends_with_one_line_and_ends_what_it_started(
    monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ray's start stuck (here: a child that never answers, as a fork deadlocked before its exec did): the pool
    gives up after its limit with one line, and the child is ended."""
    ray = pytest.importorskip("ray")
    from stream.render.errors import RenderError
    from stream.render.pools import RayPool

    started: list[subprocess.Popen] = []

    def stuck_init(**kwargs) -> None:
        started.append(subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"]))
        time.sleep(600)

    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    monkeypatch.setattr(ray, "init", stuck_init)
    monkeypatch.setattr(ray, "shutdown", lambda: None)
    pool = RayPool(fast_chunks_config(), workers=2, start_timeout_s=0.5)
    began = time.monotonic()
    stuck = r"^Ray did not start on a local cluster within 0.5 s; .*run the same command"
    with pytest.raises(RenderError, match=stuck):
        pool.start()
    assert time.monotonic() - began < 60
    assert started and started[0].wait(10) == -signal.SIGKILL  # the stuck child was ended
    assert signal.getsignal(signal.SIGALRM) is signal.SIG_DFL and signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
    pool.stop()  # nothing to stop: it never started


@pytest.mark.slow
def test_changed_settings_or_input_start_over(clip: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from stream.cli import main

    caplog.set_level(logging.INFO)
    source = tmp_path / "in.mp4"
    source.write_bytes(clip.read_bytes())
    out = tmp_path / "out.mp4"
    args = [str(source), str(out), *FAST, "--chunk-s", "1", "--workers", "1", "--resume", "--keep-parts"]
    assert main(["video", *args]) == 0
    assert len(_done_chunks(Path(str(out) + ".parts"))) == 2
    caplog.clear()
    assert main(["video", *args]) == 0  # nothing to do but the join
    assert "reusing 2 of 2 finished chunks" in caplog.text
    caplog.clear()
    assert main(["video", *args, "--steps-per-frame", "2"]) == 0
    assert "the settings changed since the last run; starting over" in caplog.text
    caplog.clear()
    write_clip(source, width=96, height=64, frames=CLIP_FRAMES, fps=FPS, pattern="moving")
    assert main(["video", *args, "--steps-per-frame", "2"]) == 0
    assert "the input changed since the last run; starting over" in caplog.text
    assert "reusing" not in caplog.text


def test_bad_input_fails_before_any_worker_starts(
    clip: Path, tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    from stream.cli import main
    from stream.render import pools

    started: list[str] = []
    for pool in (pools.LocalPool, pools.RayPool):
        monkeypatch.setattr(pool, "run", lambda self, *args: started.append(type(self).__name__))
    out = tmp_path / "out.mp4"
    for argv, code, message in [
        ([str(tmp_path / "missing.mp4"), str(out)], 4, "no such file"),
        ([str(clip), str(tmp_path / "out.avi")], 5, "unsupported output extension"),
        ([str(clip), str(out), "--layer", "block99"], 3, "block99"),
        ([str(clip), str(out), "--start", "9"], 4, "past the end"),
        ([str(clip), str(out), "--chunk-s", "0"], 2, "video.chunk_s"),
    ]:
        assert main(["video", *argv, "--workers", "2"]) == code
        assert message in one_error_line(capsys.readouterr().err)
        assert not out.exists() and not Path(str(out) + ".parts").exists()
    assert started == []  # no pool was asked to dream


def test_plain_runs_do_not_import_ray(clip: Path, tmp_path: Path) -> None:
    code = (
        "import sys; from stream.cli import main; "
        f"rc = main(['-q', 'video', {str(clip)!r}, {str(tmp_path / 'o.mp4')!r}, '--max-frames', '2', "
        "'--octaves', '1', '--steps', '1']); "
        "print(rc, 'ray' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], check=False, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.stdout.split()[-2:] == ["0", "False"], result.stderr


@pytest.mark.slow
def test_ctrl_c_joins_the_finished_chunks_and_keeps_the_work_folder(
    clip: Path, tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    from stream.cli import main
    from stream.render.worker import ChunkDreamer

    dream = ChunkDreamer.dream

    def interrupt_at_chunk_2(self, job, chunk, on_frame=None):
        if chunk.index == 2:
            raise KeyboardInterrupt
        return dream(self, job, chunk, on_frame)

    monkeypatch.setattr(ChunkDreamer, "dream", interrupt_at_chunk_2)
    out = tmp_path / "out.mp4"
    args = ["video", str(clip), str(out), *FAST, *CHUNKS, "--resume"]
    assert main(args) == 130
    line = one_error_line(capsys.readouterr().err)
    assert line == f"dreamstream: interrupted; 2 of 4 chunks done, {out} holds the first 24 frames; run the same command again to go on"
    assert len(video_times(out)) == 24
    start, end = audio_span(out)
    assert abs((end - start) - 24 * FRAME_S) <= FRAME_S
    assert len(_done_chunks(Path(str(out) + ".parts"))) == 2
    monkeypatch.setattr(ChunkDreamer, "dream", dream)
    assert main(args) == 0
    assert len(video_times(out)) == CLIP_FRAMES and not Path(str(out) + ".parts").exists()


@pytest.fixture()
def small_disk(tmp_path: Path):
    """A folder on its own 16 MB tmpfs (needs root: skipped elsewhere), unmounted after the test."""
    folder = tmp_path / "disk"
    folder.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(folder)], check=False,
                             capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    yield folder
    subprocess.run(["umount", "-l", str(folder)], check=False)


def fill(folder: Path) -> Path:
    """Write a file in ``folder`` until its disk is full; the file."""
    filler = folder / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
    try:
        while True:
            os.write(fd, bytes(1 << 16))
    except OSError as exc:
        assert exc.errno == errno.ENOSPC, exc
    finally:
        os.close(fd)
    return filler


@pytest.mark.slow
def test_a_full_disk_while_writing_the_parts_stops_with_one_line_and_keeps_the_finished_chunks(
    clip: Path, small_disk: Path, capsys: pytest.CaptureFixture, caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from stream.cli import main
    from stream.render.worker import ChunkDreamer

    dream = ChunkDreamer.dream

    def fill_the_disk_at_chunk_2(self, job, chunk, on_frame=None):
        if chunk.index == 2:
            fill(small_disk)
        return dream(self, job, chunk, on_frame)

    monkeypatch.setattr(ChunkDreamer, "dream", fill_the_disk_at_chunk_2)
    out = small_disk / "out.mp4"
    parts = Path(str(out) + ".parts")
    args = ["video", str(clip), str(out), *FAST, *CHUNKS, "--resume"]
    assert main(args) == 5
    err = capsys.readouterr().err
    assert "Traceback" not in err
    line = one_error_line(err)
    assert line.startswith(f"dreamstream: error: {parts}: cannot write chunk 2 (frames 24-35) (No space left on device); "), line
    assert line.endswith(f"2 of 4 chunks done and kept in {parts}: run the same command again to go on"), line
    assert sorted(_done_chunks(parts)) == ["0", "1"]
    assert not list(parts.glob("*.partial.mkv"))  # the failed chunk's file is gone: its room is free again

    (small_disk / "filler").unlink()
    monkeypatch.setattr(ChunkDreamer, "dream", dream)
    caplog.set_level(logging.INFO)
    assert main(args) == 0
    assert "reusing 2 of 4 finished chunks" in caplog.text
    assert len(video_times(out)) == CLIP_FRAMES and not parts.exists()


def test_workers_without_ray_say_how_to_install_it(
    clip: Path, tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    from stream.cli import main

    monkeypatch.setitem(sys.modules, "ray", None)  # import ray fails, as where the extra is not installed
    out = tmp_path / "out.mp4"
    assert main(["video", str(clip), str(out), "--workers", "2"]) == 7  # a failed render, not "input ended early"
    assert 'install it with pip install "dreamstream[ray]"' in one_error_line(capsys.readouterr().err)
    assert not out.exists() and not Path(str(out) + ".parts").exists()
