"""Chunked, resumable renders (``dreamstream video --workers N | --resume``) end to end: Ray, resume, kills, faults.

The tests dream a clip with a sound track and one scene cut (``media`` pattern ``scenes``) with the
real default model at tiny settings, and compare with a single pass written at ``--crf 0``
(lossless in YUV), so that equal dreams give equal decoded frames. The pieces (plan, manifest,
join, the Ray pool's start) are tested on their own in ``test_render_units.py``.
"""
from __future__ import annotations

import contextlib
import errno
import io
import json
import logging
import os
import signal
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from media import audio_span, video_times, write_clip

from stream.render.chunks import Chunk
from stream.render.manifest import MANIFEST

FPS = 24
FRAME_S = 1 / FPS
FAST = ["--octaves", "1", "--steps", "1", "--steps-per-frame", "1", "--jitter", "2", "--crf", "0"]
ROOT = Path(__file__).resolve().parents[1]


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
def test_resume_with_ray_workers_reuses_the_done_chunks(
    ray_output: tuple[Path, str], clip: Path, tmp_path: Path
) -> None:
    """Ctrl-C as the 4th chunk starts (2 done), then the same render again on 2 Ray workers."""
    from stream.render.job import RenderOptions, render_chunked
    from stream.render.scan import Window

    cfg = fast_chunks_config()

    def interrupt_at_chunk_3(chunk: Chunk, pid: int) -> None:
        if chunk.index == 3:
            raise KeyboardInterrupt  # what Ctrl-C raises in the driver

    out = tmp_path / "resumed.mp4"
    parts = Path(str(out) + ".parts")
    first = render_chunked(
        cfg, str(clip), str(out), Window(), RenderOptions(workers=2, crf=0, on_assign=interrupt_at_chunk_3)
    )
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
    once = subprocess.run(
        [*cli, "video", str(clip), str(whole), *args],
        check=False,
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
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


@pytest.mark.slow
def test_plain_runs_do_not_import_ray(clip: Path, tmp_path: Path) -> None:
    code = (
        "import sys; from stream.cli import main; "
        f"rc = main(['-q', 'video', {str(clip)!r}, {str(tmp_path / 'o.mp4')!r}, '--max-frames', '2', "
        "'--octaves', '1', '--steps', '1']); "
        "print(rc, 'ray' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], check=False, cwd=ROOT, capture_output=True, text=True, timeout=300
    )
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
    assert (
        line
        == f"dreamstream: interrupted; 2 of 4 chunks done, {out} holds the first 24 frames; run the same command "
           "again to go on"
    )
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
    assert line.startswith(
        f"dreamstream: error: {parts}: cannot write chunk 2 (frames 24-35) (No space left on device); "
    ), line
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
