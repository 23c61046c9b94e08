"""DreamStream's quality suite: dream a fixed grid, judge it with a second network, write a table and a gallery.

    .venv/bin/python scripts/quality                      # the full grid (about 40 min on 2 cores)
    .venv/bin/python scripts/quality --fast --check       # the CI gate: the fast grid against baseline.json
    .venv/bin/python scripts/quality --photos china --classes banana lemon --modes still live_still
    .venv/bin/python scripts/quality --set live.scene_limit=0.1 --out out/quality_try

The grid: real photos (a tuning set and a held-out set, ``quality/scenes.py``) x classes x modes
(still, noise, first = video's first frame, live_still and live_pan at 5, 10 and 20 s after a
viewer's ``!dream``, and the live layer dream on the still, panned and panned-and-zoomed photos at
10 and 60 s), each through the product's own path with the shipped defaults (``quality/cells.py``). The judge is
EfficientNet-Lite1 (``pip install .[bench]``), a network DreamStream does not dream with, in
colour and in grey. Each picture is measured for scene kept (coarse SSIM against its input),
colour variety (over the input's), on a sky the blue sky kept, and the dream's fine-detail share. Writes ``rows.json``,
``summary.json``, the pictures and ``index.html`` (the gallery) under ``--out``.
"""
from __future__ import annotations

import json
import logging
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # scripts/: quality and bench

from bench.dreams import config_and_model
from bench.flags import add_set, add_size, parser
from bench.machine import cpu_model
from bench.tables import Table

from quality.cells import MODES
from quality.gallery import write_gallery
from quality.gate import FAST, FAST_OVERRIDES, check, record
from quality.grid import CLASSES, Grid, key, run_grid, set_totals, summarise
from quality.judge import Judge
from quality.scenes import HELD_OUT, PHOTOS, TUNING

TOTALS = Table(("set/mode", "<28"), ("classes", ">7"), ("top-1 colour", ">12"), ("top-5 grey", ">10"))
SUMMARY = Table(("cell", "<28"), ("classes", ">7"), ("top-1 colour", ">12"), ("top-5 grey", ">10"),
                ("scene kept", ">10.2f"), ("min", ">5.2f"), ("colours", ">7"), ("sky kept", ">8"),
                ("detail", ">6.2f"))


def print_summary(summary: list[dict]) -> None:
    print("\n" + TOTALS.header())
    for t in set_totals(summary):
        print(TOTALS.row(key(t, "set"), t["n"], t["top1_colour"], t["top5_grey"]))
    print("\n" + SUMMARY.header())
    for s in summary:
        sky = "" if s["sky_kept"] is None else f"{s['sky_kept']:.0%}"
        n, top1, top5 = (s["n"], s["top1_colour"], s["top5_grey"]) if s["n"] else ("", "", "")  # layer cells: no class
        print(SUMMARY.row(key(s), n, top1, top5, s["scene_kept"], s["scene_kept_min"], f"{s['variety']:.2f}x", sky,
                          s.get("detail", 0.0)))


def main(argv: list[str] | None = None) -> int:
    ap = parser(__doc__, prog="scripts/quality")
    ap.add_argument(
        "--fast", action="store_true", help="the fast grid of the CI gate (320x180, 4 classes, fewer steps)"
    )
    ap.add_argument("--photos", nargs="*", choices=PHOTOS, default=list(PHOTOS),
                    help=f"the photos (default all: tuning {', '.join(TUNING)}; held-out {', '.join(HELD_OUT)})")
    ap.add_argument("--classes", nargs="*", default=list(CLASSES))
    ap.add_argument("--modes", nargs="*", choices=MODES, default=list(MODES))
    ap.add_argument(
        "--at", nargs="*", type=float, default=[5.0, 10.0, 20.0], help="live class cells: seconds after !dream"
    )
    ap.add_argument("--layer-at", nargs="*", type=float, default=[10.0, 60.0], help="live layer cells: seconds")
    add_size(ap, "640x360")
    add_set(ap)
    ap.add_argument("--out", default="out/quality")
    ap.add_argument("--part", default="", help="a name for this run's share of a grid split over processes: "
                    "each writes rows_PART.json into the same --out, and the table and gallery cover every part there")
    ap.add_argument("--check", action="store_true", help="compare with baseline.json; exit 1 when below it")
    ap.add_argument("--update-baseline", action="store_true", help="record this run as baseline.json (with --why)")
    ap.add_argument("--why", default="", help="with --update-baseline: why the figures changed")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    overrides = dict(args.set)
    if args.fast:
        grid = FAST
        overrides = {**FAST_OVERRIDES, **overrides}
    else:
        grid = Grid(
            tuple(args.photos), tuple(args.classes), tuple(args.modes), tuple(args.at), tuple(args.layer_at), args.size
        )
    if args.update_baseline and not (args.fast and args.why):
        ap.error("--update-baseline records the fast grid: give --fast and --why")
    torch.manual_seed(0)
    cfg, model, _ = config_and_model(overrides)
    judge = Judge()
    out = Path(args.out)
    started = time.perf_counter()
    header = (
        f"{cpu_model()}, {torch.get_num_threads()} threads, torch {torch.__version__}; {grid.size[0]}x{grid.size[1]}"
        + (f"; overrides {overrides}" if overrides else "")
    )
    print(f"# {header}", flush=True)

    def report(r: dict) -> None:
        ranks = "" if r["colour"] is None else f"#{r['colour']} colour #{r['grey']} grey"
        at = "" if r["at_s"] is None else f"{r['at_s']:g}s"
        sky = "" if r["sky_kept"] is None else f"sky {r['sky_kept']:.0%}"
        print(f"{r['photo']:<9} {r['mode']:<11} {r['target']:<18} {at:>4} {ranks:<22} scene {r['scene_kept']:.2f} "
              f"colours {r['variety']:.2f}x {sky}", flush=True)

    rows = run_grid(model, cfg, grid, judge, out, report)
    (out / f"rows{'_' + args.part if args.part else ''}.json").write_text(json.dumps(rows, indent=1) + "\n")
    if args.part:  # every part written so far, in name order
        rows = [r for f in sorted(out.glob("rows_*.json")) for r in json.loads(f.read_text())]
    summary = summarise(rows)
    print_summary(summary)
    (out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    page = write_gallery(out, rows, summary, "DreamStream quality", [header, f"{time.perf_counter() - started:.0f} s"])
    print(f"\ngallery: {page}  ({time.perf_counter() - started:.0f} s)")
    if args.update_baseline:
        record(summary, args.why)
        print("recorded baseline.json")
    if args.check:
        failures = check(summary)
        for f in failures:
            print(f"quality gate: {f}", file=sys.stderr)
        print("quality gate: " + ("FAILED" if failures else "passed"))
        return 1 if failures else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
