"""The pieces of chunked renders (stream/render/*): the plan, the manifest, the join and the Ray pool's start.

The runs of ``dreamstream video --workers N | --resume`` end to end are in ``test_render_runs.py``.
"""
from __future__ import annotations

import itertools
import signal
import subprocess
import sys
import threading
import time
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from engine.errors import SinkError, SourceError
from stream.render.chunks import Chunk, fade_weights, plan_chunks, scenes
from stream.render.manifest import MANIFEST, Manifest, read_manifest, settings_hash, write_manifest
from stream.render.scan import Scan
from stream.render.worker import ChunkJob

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
# Ray pool


def test_a_stuck_ray_start_ends_with_one_line_and_ends_what_it_started(
    monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ray's start stuck (here: a child that never answers, as a fork deadlocked before its exec did): the pool
    gives up after its limit with one line, and the child is ended."""
    ray = pytest.importorskip("ray")
    from stream.render.errors import RenderError
    from stream.render.pools import RayPool
    from stream.settings.loader import load_config

    started: list[subprocess.Popen] = []

    def stuck_init(**kwargs) -> None:
        started.append(subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"]))
        time.sleep(600)

    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    monkeypatch.setattr(ray, "init", stuck_init)
    monkeypatch.setattr(ray, "shutdown", lambda: None)
    pool = RayPool(load_config(), workers=2, start_timeout_s=0.5)
    began = time.monotonic()
    stuck = r"^Ray did not start on a local cluster within 0.5 s; .*run the same command"
    with pytest.raises(RenderError, match=stuck):
        pool.start()
    assert time.monotonic() - began < 60
    assert started and started[0].wait(10) == -signal.SIGKILL  # the stuck child was ended
    assert signal.getsignal(signal.SIGALRM) is signal.SIG_DFL and signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
    pool.stop()  # nothing to stop: it never started

