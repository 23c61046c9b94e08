"""What the benchmarks under ``scripts/`` share, so each script reads as its measurement alone.

* :mod:`bench.flags`: command-line values (``WIDTHxHEIGHT`` sizes, ``section.key=value`` overrides)
  and the flags that read them;
* :mod:`bench.machine`: the CPU, the load average, torch's threads, one line describing the machine;
* :mod:`bench.timing`: timing a call with warm-up and a fixed count (synchronising CUDA and MPS);
* :mod:`bench.media`: test photos, generated pan clips and their frames, a work folder;
* :mod:`bench.children`: the ``dreamstream`` CLI or Python code in a child process;
* :mod:`bench.models`: a model with its weights (light, for child processes that measure memory);
* :mod:`bench.dreams`: the config and its model, the live control board, a clip dreamed as ``video`` does;
* :mod:`bench.tables`: fixed-width tables, JSON output, progress lines.

Scripts import it as ``bench`` (``scripts/`` is on ``sys.path`` when a script there runs). Importing
it puts the repository root on ``sys.path`` too, so the scripts also run from a checkout that is
not installed.
"""
from __future__ import annotations

import sys
from pathlib import Path

#: The repository root (``engine/``, ``stream/``, ``scripts/``).
ROOT = Path(__file__).resolve().parents[2]
#: The folder of the scripts (holds this package and ``quality/``).
SCRIPTS = ROOT / "scripts"

if str(ROOT) not in sys.path:
    sys.path.append(str(ROOT))
