"""Outputs under faults: a full disk stops only the output it hits, at once, with one line; after a full disk or a
hard kill, what was written plays, with its sound."""
from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def run_cli(*args: str, env: dict[str, str] | None = None, timeout: float = 300,
            preexec_fn: Callable[[], None] | None = None) -> subprocess.CompletedProcess[str]:
    code = "import sys; from stream.cli import main; sys.exit(main())"
    return subprocess.run([sys.executable, "-c", code, *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, env=env, check=False, preexec_fn=preexec_fn)


FAST = ["--octaves", "1", "--steps", "1", "--steps-per-frame", "1", "--jitter", "2"]


@pytest.fixture(scope="module")
def long_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """10 s of 160x96 at 24 fps with a stereo AAC track: longer than any of these tests lets run."""
    from media import write_clip

    return write_clip(tmp_path_factory.mktemp("long") / "in.mp4", width=160, height=96, frames=240, fps=24)


def _readable(path: Path) -> tuple[int, int]:
    """(video frames, audio frames) that decode from ``path`` before it ends or breaks off."""
    import av

    video = audio = 0
    try:
        with av.open(str(path)) as container:
            for packet in container.demux():
                for _ in packet.decode():
                    if packet.stream.type == "video":
                        video += 1
                    else:
                        audio += 1
    except (av.FFmpegError, OSError):  # the fragment the failure cut off
        pass
    return video, audio


def _small_tmpfs(path: Path, size: str):
    """Mount a tmpfs of ``size`` at ``path`` (root only); skip where that is not allowed."""
    path.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                                           capture_output=True, check=False).returncode != 0:
        pytest.skip("mounting a tmpfs needs root")


def _file_size_limit(limit: int):
    """For a child process: writes past ``limit`` bytes fail (EFBIG; Python ignores SIGXFSZ), as on a full disk."""
    import resource

    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


@contextlib.contextmanager
def _small_disk(tmp_path: Path, disk: str, size: int) -> Iterator[tuple[Path, Callable[[], None] | None]]:
    """A folder that holds ``size`` bytes, and the ``preexec_fn`` a child writing there needs.

    ``tmpfs``: a real file system of that size (ENOSPC; root only), unmounted afterwards.
    ``file_size_limit``: the same failed write through RLIMIT_FSIZE (EFBIG), which any user can set.
    """
    where = tmp_path / "disk"
    if disk == "tmpfs":
        _small_tmpfs(where, f"{size // 1024}k")
        try:
            yield where, None
        finally:
            subprocess.run(["umount", str(where)], check=False)
    else:
        where.mkdir()
        yield where, _file_size_limit(size)


@pytest.mark.slow
@pytest.mark.parametrize("disk", ["tmpfs", "file_size_limit"])
def test_a_full_disk_stops_video_at_once_and_keeps_what_was_written(long_clip, tmp_path, disk):
    """The first failed write stops the run with one line and the file keeps what fit, playable (the run went on
    dreaming 10 s past the full disk, then removed the 118 frames that fit).

    ``tmpfs``: a real 400 KiB file system (ENOSPC; root only). ``file_size_limit``: the same failed
    write through RLIMIT_FSIZE (EFBIG), which any user can set.
    """
    with _small_disk(tmp_path, disk, 400 * 1024) as (where, preexec):
        out = where / "out.mp4"
        run = run_cli("video", str(long_clip), str(out), *FAST, "--crf", "0", timeout=600, preexec_fn=preexec)
        errors = [line for line in run.stderr.splitlines() if line.startswith("dreamstream:")]
        assert run.returncode == 5 and len(errors) == 1, run.stderr
        assert "Traceback" not in run.stderr
        why = "No space left on device" if disk == "tmpfs" else "File too large"
        assert f"({why}); stopped, kept what was written before, playable" in errors[0]
        dreamed = int(errors[0].split("cannot write after ")[1].split()[0])
        video, audio = _readable(out)
    assert dreamed < 200  # stopped at the failure, not at the end of the 240 frames
    assert video >= 12 and dreamed - video <= 2 * 24  # all but about a second (a fragment) and the encoder's delay
    assert audio > 0


@pytest.mark.slow
@pytest.mark.parametrize("suffix", [".mp4", ".mkv", ".mov"])
def test_a_hard_kill_leaves_video_output_playable_with_sound(long_clip, tmp_path, suffix):
    """After SIGKILL everything readable before the kill still is, with sound (an mp4 was never readable and an mkv
    was 0 bytes after 72 frames)."""
    import signal

    out = tmp_path / f"out{suffix}"
    code = "import sys; from stream.cli import main; sys.exit(main())"
    proc = subprocess.Popen([sys.executable, "-c", code, "video", str(long_clip), str(out), *FAST], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 300
        before = (0, 0)
        while before[0] < 36 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.5)
            if out.exists():
                before = _readable(out)
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    video, audio = _readable(out)
    assert video >= before[0] >= 36, (before, video)  # everything readable before the kill still is
    assert audio > 0


LIVE_FAST = ["--size", "320x180", "--dream-scale", "0.25", "--octaves", "1", "--steps", "1", "--steps-per-frame", "1"]


@pytest.mark.slow
@pytest.mark.parametrize("disk", ["tmpfs", "file_size_limit"])
def test_a_full_disk_on_a_live_recording_stops_only_that_output(receivers, tmp_path, disk):
    """A full disk on the recording stops that output alone; the stream goes on to the end (it ended the whole stream:
    Twitch stopped at 5 s of 20)."""
    from rtmp_receiver import free_port

    port = free_port()
    receiver = receivers(port)
    receiver.wait_listening()
    with _small_disk(tmp_path, disk, 300 * 1024) as (where, preexec):
        rec = where / "rec.mp4"
        run = run_cli("live", "--input", "testsrc", "--output", receiver.url, "--output", str(rec),
                      "--duration", "8", *LIVE_FAST, preexec_fn=preexec)
        recorded, _ = _readable(rec)
    assert run.returncode == 0, run.stderr
    assert "Traceback" not in run.stderr
    stopped = [line for line in run.stderr.splitlines() if str(rec) in line and "stopped" in line]
    assert len(stopped) == 1, run.stderr
    assert receiver.result()["frames"] >= 8 * 30 - 10  # the stream went on to the end
    assert recorded >= 10  # and what the recording got before the disk filled plays
