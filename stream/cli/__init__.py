"""The ``dreamstream`` command line: argparse parsers and handlers only, on top of every other layer."""
from __future__ import annotations

from stream.cli.main import main

__all__ = ["main"]
