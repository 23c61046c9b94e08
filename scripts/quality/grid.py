"""Run the quality grid: every cell dreamed, judged and measured into rows, and their summary.

A row is one kept picture: ``photo`` (and its ``set``: tuning or held-out), ``mode``, ``target``
(a class, or ``layer``), ``at_s`` (live seconds), the judge's ``colour`` and ``grey`` rank of the
target, ``scene_kept`` (coarse SSIM against the input frame), ``variety`` (colour variety over the
input's), ``sky_kept`` (the share of the input's blue sky still blue), ``detail`` (the residual's
fine-detail share), and ``file`` (the picture, under the output folder).
"""
from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.imagenet import display_name, find_class
from engine.models.registry import DreamModel
from stream.io.images import write_image
from stream.settings.loader import Config

from .cells import LAYER_MODES, LIVE_MODES, run_cell
from .judge import Judge
from .measures import colour_variety, fine_detail, scene_kept, sky_kept
from .scenes import photo_set

CLASSES = ("goldfish", "zebra", "strawberry", "banana", "jellyfish", "daisy", "monarch butterfly", "golden retriever",
           "pizza", "tabby cat")


@dataclass(frozen=True)
class Grid:
    """What to dream: photos x classes x modes, live cells kept ``at`` seconds after the request, at ``size``."""

    photos: tuple[str, ...]
    classes: tuple[str, ...]
    modes: tuple[str, ...]
    at: tuple[float, ...] = (5.0, 10.0, 20.0)
    layer_at: tuple[float, ...] = (10.0, 60.0)
    size: tuple[int, int] = (640, 360)

    def cells(self) -> Iterable[tuple[str, str, str | None, tuple[float, ...]]]:
        """``(mode, photo, class or None, at)`` in the order they are dreamed."""
        for mode in self.modes:
            for photo in (("noise",) if mode == "noise" else self.photos):
                if mode in LAYER_MODES:
                    yield mode, photo, None, self.layer_at
                    continue
                for query in self.classes:
                    yield mode, photo, query, self.at if mode in LIVE_MODES else ()


def slug(*parts: object) -> str:
    return "_".join(str(p).replace(" ", "-").replace(".", "p") for p in parts if p not in (None, ""))


def run_grid(model: DreamModel, cfg: Config, grid: Grid, judge: Judge, out: Path,
             report: Callable[[dict], None] = lambda row: None) -> list[dict]:
    """Dream every cell of ``grid``; writes each picture under ``out`` and returns the rows."""
    rows = []
    out.mkdir(parents=True, exist_ok=True)
    for mode, photo, query, at in grid.cells():
        started = time.perf_counter()
        shots = run_cell(model, cfg, mode, photo, query, grid.size, at)
        seconds = (time.perf_counter() - started) / len(shots)
        index = find_class(query) if query is not None else None
        for shot in shots:
            ranks = judge.ranks(shot.image, [index]) if index is not None else {"colour": [None], "grey": [None]}
            target = display_name(index) if index is not None else "layer"
            name = slug(photo, mode, target, f"{shot.at_s:g}s" if shot.at_s is not None else "") + ".png"
            write_image(out / name, shot.image)
            source = out / (slug(photo, mode, "input", f"{shot.at_s:g}s" if shot.at_s is not None else "") + ".png")
            if not source.exists():
                write_image(source, shot.source)
            sky = sky_kept(shot.image, shot.source)
            row = {"photo": photo, "set": photo_set(photo) if photo != "noise" else "noise", "mode": mode,
                   "target": target, "at_s": shot.at_s,
                   "colour": ranks["colour"][0], "grey": ranks["grey"][0],
                   "scene_kept": round(scene_kept(shot.image, shot.source), 3),
                   "variety": round(colour_variety(shot.image) / max(colour_variety(shot.source), 1e-3), 3),
                   "sky_kept": None if sky is None else round(sky, 3),
                   "detail": round(fine_detail(shot.image, shot.source), 3),
                   "file": name, "input": source.name, "seconds": round(seconds, 2)}
            rows.append(row)
            report(row)
    return rows


def summarise(rows: list[dict]) -> list[dict]:
    """One line per (photo, mode, at): top-1 colour and top-5 grey counts, and the means of the figures."""
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        groups.setdefault((r["photo"], r["mode"], r["at_s"]), []).append(r)
    out = []
    for (photo, mode, at_s), rs in groups.items():
        classes = [r for r in rs if r["colour"] is not None]
        skies = [r["sky_kept"] for r in rs if r["sky_kept"] is not None]
        out.append({
            "photo": photo, "set": rs[0]["set"], "mode": mode, "at_s": at_s, "n": len(classes),
            "top1_colour": sum(r["colour"] == 1 for r in classes), "top5_grey": sum(r["grey"] <= 5 for r in classes),
            "scene_kept": round(float(np.mean([r["scene_kept"] for r in rs])), 3),
            "scene_kept_min": round(float(np.min([r["scene_kept"] for r in rs])), 3),
            "variety": round(float(np.mean([r["variety"] for r in rs])), 3),
            "sky_kept": round(float(np.mean(skies)), 3) if skies else None,
            "detail": round(float(np.mean([r["detail"] for r in rs])), 3),
        })
    return out


def key(s: dict, by: str = "photo") -> str:
    """The summary line's name: ``photo/mode@at`` (a set's total: ``by="set"``, ``tuning/mode@at``)."""
    return f"{s[by]}/{s['mode']}" + (f"@{s['at_s']:g}s" if s["at_s"] is not None else "")


def set_totals(summary: list[dict]) -> list[dict]:
    """Per set (tuning, held-out, noise), mode and time: the classes dreamed and the recognitions among them."""
    totals: dict[tuple, dict] = {}
    for line in summary:
        if not line["n"]:
            continue
        t = totals.setdefault((line["set"], line["mode"], line["at_s"]), {"set": line["set"], "mode": line["mode"],
                              "at_s": line["at_s"], "n": 0, "top1_colour": 0, "top5_grey": 0})
        for figure in ("n", "top1_colour", "top5_grey"):
            t[figure] += line[figure]
    return list(totals.values())
