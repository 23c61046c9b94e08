"""Torch's threads follow the CPU other processes leave (stream/io/cpu_share.py)."""
from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import torch

from stream.io.cpu_share import CpuShare, busy_seconds, cpu_share, fair_threads, usable_cores

ROOT = Path(__file__).resolve().parents[1]


class Machine:
    """A fake clock and CPU counters: ``run(seconds, others, own)`` advances them by that much work."""

    def __init__(self) -> None:
        self.now, self.busy, self.own = 0.0, 1000.0, 5.0

    def run(self, seconds: float, others: float, own: float = 1.0) -> None:
        self.now += seconds
        self.busy += seconds * (others + own)
        self.own += seconds * own


def share_on(machine: Machine, most: int = 2, cores: int = 2) -> tuple[CpuShare, list[int]]:
    calls: list[int] = []
    share = CpuShare(most, interval_s=1.0, cores=cores, clock=lambda: machine.now, busy=lambda: machine.busy,
                     own=lambda: machine.own, set_threads=calls.append)
    return share, calls


def test_fair_threads_are_the_cores_the_others_leave_rounded_and_bounded() -> None:
    assert fair_threads(2, 0.05, 2) == 2
    assert fair_threads(2, 0.6, 2) == 1  # 1.4 cores left
    assert fair_threads(2, 1.0, 2) == 1
    assert fair_threads(2, 2.0, 2) == 1  # never below one
    assert fair_threads(8, 2.3, 8) == 6
    assert fair_threads(8, 0.0, 4) == 4  # never above most


def test_a_busy_process_takes_a_thread_away_and_gives_it_back_when_it_ends(caplog: pytest.LogCaptureFixture) -> None:
    m = Machine()
    share, calls = share_on(m)
    caplog.set_level(logging.INFO, logger="stream.io.cpu_share")
    assert share.update() == 2 and calls == [2]  # the first call sets this thread's count
    m.run(1.0, others=0.1, own=2.0)
    assert share.update() == 2 and share.others == pytest.approx(0.1)
    m.run(0.5, others=1.0)
    reads = []
    share.busy = lambda: reads.append(m.busy) or m.busy
    assert share.update() == 2 and reads == [], "read and measured only once an interval has passed"
    m.run(0.6, others=1.0)
    assert share.update() == 1 and calls == [2, 1]
    assert "1.0 of 2 cores busy: dreaming on 1 thread" in caplog.text
    for _ in range(3):
        m.run(1.0, others=1.0)
        assert share.update() == 1
    assert calls == [2, 1], "no change, no call"
    m.run(1.0, others=0.0, own=1.0)
    assert share.update() == 2 and calls == [2, 1, 2] and share.changes == 2


def test_without_proc_stat_the_count_stays_as_set(tmp_path: Path) -> None:
    calls: list[int] = []
    reads: list[None] = []
    share = CpuShare(3, busy=lambda: reads.append(None), set_threads=calls.append)
    assert [share.update() for _ in range(3)] == [3, 3, 3] and calls == [3]
    assert len(reads) == 1, "an unreadable /proc/stat is not tried again every frame"
    assert not share.available
    assert busy_seconds(tmp_path / "missing") is None
    (tmp_path / "stat").write_text("intr 1 2 3\n")
    assert busy_seconds(tmp_path / "stat") is None


def test_busy_seconds_sum_the_work_fields_of_proc_stat(tmp_path: Path) -> None:
    import os

    hz = os.sysconf("SC_CLK_TCK")
    # user nice system idle iowait irq softirq steal guest guest_nice
    (tmp_path / "stat").write_text(f"cpu  {hz} {hz} {hz} {50 * hz} {9 * hz} {hz} {hz} {hz} 0 0\ncpu0 1 2 3\n")
    assert busy_seconds(tmp_path / "stat") == pytest.approx(6.0)


def test_auto_threads_get_a_share_and_a_fixed_count_does_not() -> None:
    assert cpu_share(3) is None
    share = cpu_share(0, reserve=1)
    assert share is not None and share.most == max(1, usable_cores() - 1)
    assert cpu_share(0).most == usable_cores()


@pytest.mark.skipif(busy_seconds() is None, reason="needs /proc/stat (Linux)")
def test_beside_a_real_busy_process_the_dreaming_thread_gets_fewer_threads() -> None:
    """A spinning child process counts as another busy core; the count is set in the thread that updates."""
    share = CpuShare(usable_cores(), interval_s=0.5)
    hog = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    seen: dict[str, int] = {}

    def dream_thread() -> None:
        share.update()
        time.sleep(0.8)
        seen["threads"] = share.update()
        seen["torch"] = torch.get_num_threads()

    try:
        time.sleep(0.3)  # the child is up and spinning
        t = threading.Thread(target=dream_thread)
        t.start()
        t.join(timeout=30)
    finally:
        hog.kill()
        hog.wait()
    assert share.others >= 0.5, f"a spinning process measured as {share.others:.2f} busy cores"
    assert seen["threads"] == fair_threads(share.cores, share.others, share.most) <= max(1, share.cores - 1)
    assert seen["torch"] == seen["threads"], "torch's count is the dreaming thread's own"


def test_cli_leaves_openmp_waits_alone_and_dreams_on_the_cores_others_leave():
    """The CLI sets no OpenMP wait policy and its dream follows the CPU share: spinning waits made a run 6.6x slower
    beside one busy process, passive waits cost 13% alone."""
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    code = "import os; import stream.cli; print(os.environ.get('OMP_WAIT_POLICY'))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                         check=True, timeout=120)
    assert out.stdout.split() == ["None"]
    assert cpu_share(0) is not None and cpu_share(2) is None  # --threads 0 (auto, the default) shares
