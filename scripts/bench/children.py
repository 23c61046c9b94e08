"""Benchmarks in a child process: the ``dreamstream`` CLI, or Python code, with this checkout importable."""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from bench import ROOT

#: ``python -c`` code that runs the CLI on the rest of the command line.
CLI = "import sys; from stream.cli import main; sys.exit(main(sys.argv[1:]))"


def child_env(extra: Mapping[str, str] | None = None, root: Path = ROOT) -> dict[str, str]:
    """This environment with the checkout (``root``, default this one) and its ``scripts/`` on ``PYTHONPATH``,
    and ``extra`` on top."""
    path = os.pathsep.join(p for p in (str(root), str(root / "scripts"), os.environ.get("PYTHONPATH", "")) if p)
    env = {**os.environ, "PYTHONPATH": path}
    return {**env, **(extra or {})}


def run_python(
    code: str, args: Sequence[str], env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``python -c code args...`` in the repository root; its output captured, its exit status not checked."""
    return subprocess.run([sys.executable, "-c", code, *args], cwd=ROOT, env=dict(env or child_env()),
                          capture_output=True, text=True, check=False)


def run_cli(args: Sequence[str], env: Mapping[str, str] | None = None, show_output: bool = True,
            root: Path = ROOT) -> float:
    """Wall seconds of ``dreamstream --quiet ARGS`` in a child process (its own torch threads) of the checkout
    ``root`` (default this one); raises if it fails."""
    began = time.perf_counter()
    subprocess.run(cli_argv(["--quiet", *args]), cwd=root, env=dict(env or child_env(root=root)), check=True,
                   stdout=None if show_output else subprocess.DEVNULL)
    return time.perf_counter() - began


def describe_checkout(folder: Path) -> str:
    """``folder`` as ``NAME@HASH`` (``+`` when it has uncommitted changes), or its name outside git."""
    def git(*args: str) -> str:
        run = subprocess.run(["git", "-C", str(folder), *args], capture_output=True, text=True, check=False)
        return run.stdout.strip() if run.returncode == 0 else ""

    head = git("rev-parse", "--short", "HEAD")
    dirty = "+" if git("status", "--porcelain", "--untracked-files=no", "--", "engine", "stream") else ""
    return f"{folder.name}@{head}{dirty}" if head else folder.name


@dataclass(frozen=True)
class ChildRun:
    """A finished child process: wall seconds, exit status, output, and from its own resource usage
    (``wait4``, not the parent's) its peak resident memory and minor page faults."""

    seconds: float
    returncode: int
    stdout: str
    stderr: str
    peak_mb: float
    minor_faults: int


def run_measured(argv: Sequence[str], cwd: Path = ROOT, env: Mapping[str, str] | None = None) -> ChildRun:
    """Run ``argv`` to its end, its output captured; its peak RSS is its own (``ru_maxrss``), whatever else runs."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        began = time.perf_counter()
        child = subprocess.Popen(list(argv), cwd=cwd, env=dict(env or child_env()), stdout=out, stderr=err, text=True)
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - began
        child.returncode = os.waitstatus_to_exitcode(status)  # reaped here: Popen must not wait for it again
        out.seek(0)
        err.seek(0)
        return ChildRun(seconds, child.returncode, out.read(), err.read(), usage.ru_maxrss / 1024, usage.ru_minflt)


def cli_argv(args: Sequence[str]) -> list[str]:
    """The command line of ``dreamstream ARGS`` run by this Python (so a checkout on ``PYTHONPATH`` is the one
    imported)."""
    return [sys.executable, "-c", CLI, *args]
