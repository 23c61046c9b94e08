"""Live class dreams as a viewer asks for them: ``!dream CLASS`` through the real command layer.

For each scene (a real photo, scikit-image's coffee, held still or slowly panned, delivered in
real time like a camera) and each class, the live pipeline runs the layer dream for --warmup
seconds, then a viewer's ``!dream CLASS`` goes through :class:`stream.chat.CommandCenter`; the
output frames --times seconds after the request are kept, judged by EfficientNet-Lite1 (a
network DreamStream does not dream with) in colour and in grey, written as PNGs and one
contact sheet per scene. Also the dreamed fps and latency p95 while the target was set, and
the layer dream's on the same scene for comparison.

    .venv/bin/python scripts/bench_live_classes.py [--classes banana goldfish] [--scenes still pan]
        [--seconds 20] [--times 5 10 20] [--size 640x360] [--out out/live_classes]

Needs ``pip install .[bench]`` (EfficientNet-Lite1). The machine should be otherwise idle:
the frames at a given second depend on how many steps the dream got.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import platform
import sys
import time
from collections import Counter
from pathlib import Path

import cv2
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_classes import CLASSES, label  # noqa: E402
from judge import Judge  # noqa: E402

from engine.imagenet import display_name, find_class  # noqa: E402
from stream.chat import ChatMessage, CommandCenter  # noqa: E402
from stream.io.dreaming import load_model  # noqa: E402
from stream.io.images import write_image  # noqa: E402
from stream.io.sinks.base import Sink  # noqa: E402
from stream.io.sources import TestSource  # noqa: E402
from stream.live.pipeline import LivePipeline  # noqa: E402
from stream.live.stage import DreamStage  # noqa: E402
from stream.settings.chat import ChatLimits  # noqa: E402
from stream.settings.controls import ControlBoard, LiveControls  # noqa: E402
from stream.settings.live import LiveSettings, live_class_dream, live_temporal  # noqa: E402
from stream.settings.loader import load_config  # noqa: E402

PAN_PX_S = 8.0  # a slow pan: 8 pixels a second at 640x360


class PhotoScene:
    """A real photo as :class:`TestSource`'s picture: held still, or panned ``pan_px_s`` to the right."""

    def __init__(self, photo: np.ndarray, width: int, height: int, pan_px_s: float, seconds: float) -> None:
        extra = int(np.ceil(pan_px_s * seconds)) + 2
        f = max((width + extra) / photo.shape[1], height / photo.shape[0])
        big = cv2.resize(photo, (round(photo.shape[1] * f), round(photo.shape[0] * f)), interpolation=cv2.INTER_AREA)
        top = (big.shape[0] - height) // 2
        self.strip = np.ascontiguousarray(big[top:top + height])
        self.width, self.height, self.pan_px_s = width, height, pan_px_s

    def render(self, pts_s: float) -> np.ndarray:
        x = min(self.pan_px_s * pts_s, self.strip.shape[1] - self.width - 1)
        if x == int(x):
            return np.ascontiguousarray(self.strip[:, int(x):int(x) + self.width])
        m = np.array([[1.0, 0.0, -x], [0.0, 1.0, 0.0]])
        return cv2.warpAffine(self.strip, m, (self.width, self.height), flags=cv2.INTER_LINEAR)


class PhotoSource(TestSource):
    """A real photo as a live camera, paced in real time like testsrc (:class:`PhotoScene`)."""

    def __init__(self, photo: np.ndarray, width: int, height: int, fps: float, pan_px_s: float, seconds: float) -> None:
        super().__init__(width, height, fps, realtime=True, audio=False)
        self.name = "photo pan" if pan_px_s else "photo still"
        self._scene = PhotoScene(photo, width, height, pan_px_s, seconds)


class KeepSink(Sink):
    """An output that keeps the frames at chosen output times (s) and the newest pts."""

    name = "keep"

    def __init__(self) -> None:
        self.last_pts = 0.0
        self.wanted: dict[float, float] = {}  # pts -> label time
        self.kept: dict[float, np.ndarray] = {}

    def write_video(self, image: np.ndarray, pts_s: float) -> None:
        self.last_pts = pts_s
        for pts, seconds in list(self.wanted.items()):
            if pts_s >= pts:
                self.kept[seconds] = image.copy()
                del self.wanted[pts]

    def write_audio(self, samples: np.ndarray, pts_s: float) -> None:
        pass

    def close(self) -> None:
        pass


def percentile_ms(bins: Counter[int], q: float) -> float | None:
    """Percentile ``q`` of latencies held as 0.1 ms bins."""
    total = sum(bins.values())
    if not total:
        return None
    rank, seen = min(total - 1, round(q / 100 * (total - 1))), 0
    for tenth_ms, count in sorted(bins.items()):
        seen += count
        if seen > rank:
            return tenth_ms / 10
    return None


def chat_stage(model, cfg, ls: LiveSettings, limits: ChatLimits) -> tuple[CommandCenter, DreamStage]:
    """The command layer and the dream stage over one control board, as ``dreamstream live`` joins them."""
    spec = model.spec
    board = ControlBoard(LiveControls(model=spec.name, layer=spec.default_layer, octaves=cfg.dream.octaves,
                                      flow=cfg.section("video").flow), limits)
    stage = DreamStage(model, cfg.dream, live_class_dream(cfg.class_dream, cfg.dream, ls),
                       live_temporal(cfg.section("video"), ls), board)
    return CommandCenter(board, limits), stage


def run(model, cfg, scene: str, photo: np.ndarray, query: str | None, args) -> dict:
    """One live run; ``query`` None is the layer dream alone."""
    ls = dataclasses.replace(cfg.section("live"), width=args.width, height=args.height, stats_interval_s=1e9)
    center, stage = chat_stage(model, cfg, ls, dataclasses.replace(cfg.section("chat"), max_octaves=cfg.dream.octaves))
    board = stage.board
    seconds = args.warmup + max(args.times) + 0.5
    source = PhotoSource(photo, ls.width, ls.height, ls.fps, PAN_PX_S if scene == "pan" else 0.0, seconds + 2)
    sink = KeepSink()
    state: dict = {}
    pipeline: LivePipeline | None = None

    def tick(now: float) -> None:
        center.tick(now)
        if "asked" not in state and sink.last_pts >= args.warmup:
            state["asked"] = now
            state["dreamed"] = pipeline.stats.dreamed
            state["bins"] = Counter(pipeline.stats.latency_bins)
            if query is not None:
                state["reply"] = center.handle(ChatMessage("b1", "viewer1", f"!dream {query}"), now)
            sink.wanted = {sink.last_pts + t: t for t in args.times}

    pipeline = LivePipeline(source, [sink], stage, ls, duration_s=seconds, tick=tick)
    try:
        pipeline.run()
    finally:
        source.close()
    wall = time.monotonic() - state["asked"]
    bins = Counter(pipeline.stats.latency_bins)
    bins.subtract(state["bins"])
    return {"frames": sink.kept, "reply": state.get("reply"), "target": board.get().target,
            "dreamed_fps": (pipeline.stats.dreamed - state["dreamed"]) / wall,
            "p95_ms": percentile_ms(+bins, 95)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--classes", nargs="*", default=list(CLASSES))
    ap.add_argument("--scenes", nargs="*", default=["still", "pan"], choices=("still", "pan"))
    ap.add_argument("--times", nargs="*", type=float, default=[5.0, 10.0, 20.0], help="seconds after the request")
    ap.add_argument("--seconds", type=float, default=None, help="shorthand: --times at a quarter, half and all of it")
    ap.add_argument("--warmup", type=float, default=2.0, help="seconds of layer dream before the request")
    ap.add_argument("--size", default="640x360")
    ap.add_argument("--photo", default="coffee", help="a scikit-image sample name")
    ap.add_argument("--no-baseline", action="store_true", help="skip the layer dream run")
    ap.add_argument("--out", default="out/live_classes")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    if args.seconds:
        args.times = [round(args.seconds / 4, 2), round(args.seconds / 2, 2), args.seconds]
    args.width, args.height = (int(v) for v in args.size.split("x"))
    logging.basicConfig(level=logging.WARNING)
    from skimage import data

    photo = getattr(data, args.photo)()
    cfg = load_config()
    model, device = load_model(cfg.model)
    judge = Judge()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.machine()) if Path("/proc/cpuinfo").exists() else platform.machine()
    live = cfg.section("live")
    print(f"# {cpu}, {torch.get_num_threads()} threads, torch {torch.__version__}, {args.size}, photo {args.photo}; "
          f"live dream_scale {live.dream_scale}, {live.steps_per_frame} step/frame, class crops {live.class_crops}x{live.class_size}")
    rows = []
    times = args.times
    for scene in args.scenes:
        if not args.no_baseline:
            r = run(model, cfg, scene, photo, None, args)
            rows.append({"scene": scene, "class": f"(layer {model.spec.default_layer})", "dreamed_fps": round(r["dreamed_fps"], 1),
                         "p95_ms": r["p95_ms"]})
            print(f"{scene:<6} {rows[-1]['class']:<20} dreamed {r['dreamed_fps']:5.1f} fps  p95 {r['p95_ms']} ms", flush=True)
        sheet = []
        for query in args.classes:
            index = find_class(query)
            r = run(model, cfg, scene, photo, query, args)
            name = display_name(index)
            ranks = {t: judge.ranks(r["frames"][t], [index]) for t in times if t in r["frames"]}
            row = {"scene": scene, "class": name, "reply": r["reply"], "dreamed_fps": round(r["dreamed_fps"], 1),
                   "p95_ms": r["p95_ms"], "colour": {t: v["colour"][0] for t, v in ranks.items()},
                   "grey": {t: v["grey"][0] for t, v in ranks.items()}}
            rows.append(row)
            tiles = []
            for t in times:
                image = r["frames"].get(t, np.zeros((args.height, args.width, 3), np.uint8))
                write_image(out / f"{scene}_{name.replace(' ', '_')}_{t:g}s.png", image)
                rk = ranks.get(t)
                text = f"{name} {t:g}s" + (f"  #{rk['colour'][0]} colour, #{rk['grey'][0]} grey" if rk else "")
                tiles.append(label(image, text))
            sheet.append(np.concatenate(tiles, axis=1))
            ranks_text = "  ".join(f"{t:g}s #{row['colour'].get(t, '-')}/#{row['grey'].get(t, '-')}" for t in times)
            print(f"{scene:<6} {name:<20} dreamed {row['dreamed_fps']:5.1f} fps  p95 {row['p95_ms']} ms  "
                  f"rank colour/grey: {ranks_text}", flush=True)
        if sheet:
            grid = np.concatenate(sheet, axis=0)
            f = min(1.0, 1920 / grid.shape[1])
            grid = cv2.resize(grid, (round(grid.shape[1] * f), round(grid.shape[0] * f)), interpolation=cv2.INTER_AREA)
            write_image(out / f"sheet_{scene}.png", grid)
    # Summary against the goals (rank at the middle time, 10 s by default).
    mid = times[len(times) // 2] if len(times) > 1 else times[0]
    print(f"\n## summary ({args.size}; ranks by EfficientNet-Lite1 at {mid:g} s after the request)")
    print(f"{'scene':<6} {'classes':>7} {'top-1 colour':>12} {'top-5 grey':>10} {'dreamed fps (class)':>19} "
          f"{'p95 ms (class)':>14} {'dreamed fps (layer)':>19}")
    for scene in args.scenes:
        cls = [r for r in rows if r["scene"] == scene and "colour" in r]
        base = [r for r in rows if r["scene"] == scene and "colour" not in r]
        if not cls:
            continue
        top1 = sum(1 for r in cls if r["colour"].get(mid) == 1)
        top5 = sum(1 for r in cls if (r["grey"].get(mid) or 999) <= 5)
        fps = np.mean([r["dreamed_fps"] for r in cls])
        p95 = max((r["p95_ms"] or 0) for r in cls)
        layer_fps = f"{base[0]['dreamed_fps']:.1f}" if base else "-"
        print(f"{scene:<6} {len(cls):>7} {top1:>12} {top5:>10} {fps:>19.1f} {p95:>14.1f} {layer_fps:>19}")
    print("goals (640x360, 2 cores, 10 classes): top-1 colour >= 8 still / 6 pan, top-5 grey >= 6, >= 20 dreamed fps, p95 <= 150 ms")
    if args.json:
        print(json.dumps(rows, default=str))


if __name__ == "__main__":
    main()
