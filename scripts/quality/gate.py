"""The quality gate: a fast grid's figures against a recorded baseline (``baseline.json`` beside this file).

The fast grid is small (320x180, two real photos: ``china`` of the tuning set and ``rocket`` of the
held-out set, four classes, fewer class steps; everything else the shipped defaults, through the
product's own paths) so that it runs in about a minute on 2 cores. Its figures are deterministic
on one machine (live time is replayed), but dreams amplify the last bits of floating point, so
CPUs of another kind may differ a little. Hence the tolerances: the recognitions summed over the
grid (top-1 in colour, top-5 in grey) may fall by at most ``TOLERANCE["recognitions"]``, each
line's mean scene-kept, colour variety and sky-kept by at most the given amounts. A deliberate
trade updates the baseline (``--update-baseline --why "..."``) in the same commit.
"""
from __future__ import annotations

import json
from pathlib import Path

from .grid import Grid, key

BASELINE = Path(__file__).resolve().parent / "baseline.json"
FAST = Grid(photos=("china", "rocket"), classes=("goldfish", "strawberry", "banana", "zebra"),
            modes=("still", "live_still", "layer_clip"), at=(10.0,), layer_at=(10.0,), size=(320, 180))
#: The fast grid's settings: fewer, cheaper class steps (the default ones, scaled down in cost).
FAST_OVERRIDES = {"class_dream.octaves": 3, "class_dream.steps": 10, "class_dream.crops": 2,
                  "class_dream.crop_size": 160}
TOLERANCE = {"recognitions": 2, "scene_kept": 0.05, "variety": 0.1, "sky_kept": 0.1}


def record(summary: list[dict], why: str, path: Path = BASELINE) -> None:
    """Write ``summary`` as the baseline, with ``why`` (one line: what changed and why it is worth it)."""
    data = {"why": why, "lines": {key(s): s for s in summary}}
    path.write_text(json.dumps(data, indent=1) + "\n")


def check(summary: list[dict], path: Path = BASELINE, partial: bool = False) -> list[str]:
    """What fell below the baseline beyond the tolerances (empty: the gate passes).

    With ``partial`` only the lines measured are compared (a subset of the fast grid), the
    recognitions summed over those lines.
    """
    base = json.loads(path.read_text())
    lines = {key(s): s for s in summary}
    compared = [name for name in base["lines"] if name in lines or not partial]
    failures = [f"{name}: not measured (the baseline has it)" for name in compared if name not in lines]
    measured = [name for name in compared if name in lines]
    for figure in ("top1_colour", "top5_grey"):
        now = sum(lines[name][figure] for name in measured)
        then = sum(base["lines"][name][figure] for name in measured)
        if now < then - TOLERANCE["recognitions"]:
            failures.append(
                f"{figure}: {now} recognitions, baseline {then} (at most {TOLERANCE['recognitions']} fewer)"
            )
    for name in measured:
        old, new = base["lines"][name], lines[name]
        for figure in ("scene_kept", "variety", "sky_kept"):
            if old[figure] is None:
                continue
            if new[figure] is None or new[figure] < old[figure] - TOLERANCE[figure]:
                failures.append(f"{name}: {figure} {new[figure]}, baseline {old[figure]} "
                                f"(at most {TOLERANCE[figure]} lower)")
    return failures
