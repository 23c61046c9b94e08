"""The ``dreamstream`` command line: argparse parsers and handlers only, on top of every other layer.

OpenMP's threads keep their default wait (a short spin, then sleep): with ``model.threads`` auto
the dream keeps to the cores other processes leave (:mod:`stream.io.cpu_share`), so beside a busy
process it runs on fewer threads instead of waiting for a descheduled one.
"""
from __future__ import annotations

from stream.cli.main import main

__all__ = ["main"]
