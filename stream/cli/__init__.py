"""The ``dreamstream`` command line: argparse parsers and handlers only, on top of every other layer.

Before anything imports torch: OpenMP threads that wait for work spin for a while by default, which
beside another busy process makes each of torch's parallel regions wait for a descheduled spinning
thread (a ``video`` run took 6.6x as long beside one busy process on 2 cores, against 2x for a fair
share; see ``scripts/bench_contention.py``). Passive waiting yields the core instead. A value the
user set is kept.
"""
from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from stream.cli.main import main  # noqa: E402 (after the thread setting, which torch reads on import)

__all__ = ["main"]
