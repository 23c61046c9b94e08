"""Benchmarks in a child process: the ``dreamstream`` CLI, or Python code, with this checkout importable."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence

from bench import ROOT, SCRIPTS

#: ``python -c`` code that runs the CLI on the rest of the command line.
CLI = "import sys; from stream.cli import main; sys.exit(main(sys.argv[1:]))"


def child_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This environment with the checkout and ``scripts/`` on ``PYTHONPATH``, passive OpenMP waits (as the
    CLI sets them, unless already set) and ``extra`` on top."""
    path = os.pathsep.join(p for p in (str(ROOT), str(SCRIPTS), os.environ.get("PYTHONPATH", "")) if p)
    env = {**os.environ, "PYTHONPATH": path}
    env.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    return {**env, **(extra or {})}


def run_python(code: str, args: Sequence[str], env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``python -c code args...`` in the repository root; its output captured, its exit status not checked."""
    return subprocess.run([sys.executable, "-c", code, *args], cwd=ROOT, env=dict(env or child_env()),
                          capture_output=True, text=True, check=False)


def run_cli(args: Sequence[str], env: Mapping[str, str] | None = None, show_output: bool = True) -> float:
    """Wall seconds of ``dreamstream --quiet ARGS`` in a child process (its own torch threads); raises if it fails."""
    began = time.perf_counter()
    subprocess.run([sys.executable, "-c", CLI, "--quiet", *args], cwd=ROOT, env=dict(env or child_env()), check=True,
                   stdout=None if show_output else subprocess.DEVNULL)
    return time.perf_counter() - began
