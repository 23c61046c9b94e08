"""The video and flicker commands."""
from __future__ import annotations

import argparse
import json
import logging
import sys
from typing import Any

from engine.errors import EXIT_INPUT_ENDED_EARLY, EXIT_INTERRUPTED, EXIT_TERMINATED, SourceError
from stream.render.video import Terminated, compare_videos, dream_video, expected_frames, sigterm_raises
from stream.settings.names import FLOW_METHODS, FLOWS

log = logging.getLogger(__name__)



#: CLI flag -> config key of the ``video`` section.
VIDEO_FLAGS = {
    "flow": "video.flow",
    "flow_blend": "video.flow_blend",
    "steps_per_frame": "video.steps_per_frame",
    "dream_scale": "video.dream_scale",
    "chunk_s": "video.chunk_s",
    "chunk_overlap": "video.chunk_overlap",
}


def chunked(args: argparse.Namespace) -> bool:
    """Whether the options ask for a chunked render (a work folder) rather than the plain single pass."""
    return bool(args.resume or args.keep_parts or args.ray_address or (args.workers or 1) > 1)


def cmd_video_chunked(args: argparse.Namespace, cfg: Any) -> int:
    """``video`` with ``--workers N``, ``--ray-address`` or ``--resume``: chunks in ``OUT.parts/``, joined as they
    finish."""
    from stream.render.job import RenderOptions, render_chunked
    from stream.render.scan import Window

    workers = args.workers if args.workers is not None else (0 if args.ray_address else 1)
    options = RenderOptions(workers=workers, ray_address=args.ray_address, keep_parts=args.keep_parts, crf=args.crf)
    run = render_chunked(cfg, args.input, args.output, Window(args.start, args.duration, args.max_frames), options)
    if run.interrupted is not None:
        how = "interrupted" if run.interrupted == EXIT_INTERRUPTED else "terminated"
        done = f"{len(run.results) + run.reused} of {run.chunks} chunks done"
        held = f"{args.output} holds the first {run.frames} frames" if run.frames else "no output yet"
        print(f"dreamstream: {how}; {done}, {held}; run the same command again to go on", file=sys.stderr)
        return run.interrupted
    dreamed = sum(r.dreamed for r in run.results)
    log.info(
        "wrote %s: %d frames, %d chunks (%d reused); dreamed %d frames in %.1f s; joined in %.1f s, %.1f s of it after "
        "the dreaming", args.output, run.frames, run.chunks, run.reused, dreamed, run.dream_seconds,
        run.join_total_seconds, run.join_seconds,
    )
    print(args.output)
    return _ended_early(args, run.frames) if run.truncated else 0


def _ended_early(args: argparse.Namespace, frames: int) -> int:
    print(f"dreamstream: input ended early: {args.input} is cut short or damaged; {args.output} holds everything "
          f"readable ({frames} frames)", file=sys.stderr)
    return EXIT_INPUT_ENDED_EARLY


def cmd_video(args: argparse.Namespace) -> int:
    from engine.dream import Dreamer
    from engine.temporal import TemporalDreamer
    from stream.cli.common import config_from_args
    from stream.io.cpu_share import cpu_share
    from stream.io.dreaming import setup_dream
    from stream.io.progress import progress_bar
    from stream.io.video.reader import VideoReader
    from stream.io.video.writer import VideoWriter

    cfg = config_from_args(args, VIDEO_FLAGS)
    if chunked(args):
        return cmd_video_chunked(args, cfg)
    settings = cfg.section("video")
    try:
        with sigterm_raises():
            reader = VideoReader(args.input, start_s=args.start, duration_s=args.duration, max_frames=args.max_frames)
            length = reader.info.duration_s
            if args.start and length and args.start >= length:
                reader.close()
                raise SourceError(
                    f"--start {args.start:g} s is past the end of {args.input!r}; allowed 0 to {length:.3g} s"
                )
            with reader, VideoWriter(args.output, reader.info, crf=args.crf, audio_from=args.input) as writer:
                setup = setup_dream(cfg)
                temporal = TemporalDreamer(Dreamer(setup.model, setup.objective, setup.settings), settings)
                info = reader.info
                dh, dw = temporal.dream_size(reader.height, reader.width)  # upright
                per_frame = (
                    "full octaves every frame"
                    if settings.flow == "none"
                    else f"{settings.steps_per_frame} steps per frame"
                )
                log.info(
                    "dreaming %s (%dx%d, %.3g fps) at %dx%d with %s: %s; flow %s, %s",
                    args.input, reader.width, reader.height, float(info.fps), dw, dh, setup.spec.name, setup.label,
                    settings.flow, per_frame,
                )
                total = expected_frames(info, args.start, args.duration, args.max_frames)
                run = dream_video(reader, writer, temporal, progress_bar(total, "frames"), cpu_share(cfg.model.threads))
    except Terminated:
        print("dreamstream: terminated before the first frame; no output", file=sys.stderr)
        return EXIT_TERMINATED
    if run.interrupted is not None:
        how = "interrupted" if run.interrupted == EXIT_INTERRUPTED else "terminated"
        if run.frames:
            print(f"dreamstream: {how} after {run.frames} frames; {args.output} holds them", file=sys.stderr)
        else:
            print(f"dreamstream: {how} before the first frame; no output", file=sys.stderr)
        return run.interrupted
    if run.frames == 0:
        raise SourceError(f"{args.input}: no frame decoded" + (f" from {args.start:g} s" if args.start else ""))
    kinds = ", ".join(f"{k} {n}" for k, n in sorted(run.kinds.items()))
    log.info(
        "wrote %s: %d frames in %.1f s (%.2f s per frame; %s)",
        args.output,
        run.frames,
        run.seconds,
        run.seconds_per_frame,
        kinds,
    )
    print(args.output)
    return _ended_early(args, run.frames) if run.truncated else 0


def cmd_flicker(args: argparse.Namespace) -> int:
    result = compare_videos(args.original, args.dreamed, method=args.flow, max_frames=args.max_frames)
    print(json.dumps(result, indent=2))
    return 0


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not >= 1")
    return value


def register(subparsers: Any) -> None:
    """Add the ``video`` and ``flicker`` commands to the ``dreamstream`` parser."""
    from stream.cli.common import add_dream_arguments

    p = subparsers.add_parser("video", help="dream a video file, stable over time (optical flow)")
    p.add_argument("input", help="a video file")
    p.add_argument("output", help="where to write the dream (.mp4, .mkv, .mov, .webm, .ts)")
    add_dream_arguments(p)
    g = p.add_argument_group("video")
    g.add_argument("--flow", choices=FLOWS, help="optical flow; none = full dream every frame")
    g.add_argument(
        "--flow-blend", type=float, metavar="F", help="fraction of the previous dream carried per frame (0-1)"
    )
    g.add_argument("--steps-per-frame", type=int, metavar="N", help="gradient steps on each carried frame")
    g.add_argument("--dream-scale", type=float, metavar="F", help="internal resolution as a fraction of the frame's")
    g.add_argument("--start", type=float, default=0.0, metavar="S", help="start at S seconds (default 0)")
    g.add_argument("--duration", type=float, metavar="S", help="dream only S seconds")
    g.add_argument("--max-frames", type=_positive_int, metavar="N", help="dream at most N frames")
    g.add_argument(
        "--crf", type=int, default=18, metavar="N", help="H.264 quality, 0-51, lower is better (default %(default)s)"
    )
    g = p.add_argument_group("long videos (chunks in OUT.parts/, resumable)")
    g.add_argument(
        "--workers",
        type=_positive_int,
        metavar="N",
        help="dream chunks on N workers (N > 1: local Ray workers; on a cluster: default one per GPU or machine)",
    )
    g.add_argument("--ray-address", metavar="ADDRESS", help="use this Ray cluster (host:port, or auto)")
    g.add_argument("--resume", action="store_true", help="work in chunks and reuse the finished ones of an earlier run")
    g.add_argument("--keep-parts", action="store_true", help="keep OUT.parts/ after the join")
    g.add_argument(
        "--chunk-s", type=float, metavar="S", help="split scenes longer than S seconds into chunks (video.chunk_s)"
    )
    g.add_argument("--chunk-overlap", type=int, metavar="N",
                   help="frames dreamed before a chunk that starts inside a scene, then dropped (video.chunk_overlap)")
    p.set_defaults(handler=cmd_video)

    p = subparsers.add_parser("flicker", help="print the warping error of a video and of its dream (JSON)")
    p.add_argument("original", help="the input video")
    p.add_argument("dreamed", help="its dream")
    p.add_argument("--flow", choices=FLOW_METHODS, default="dis", help="flow on the original (default %(default)s)")
    p.add_argument("--max-frames", type=_positive_int, metavar="N", help="compare at most N frames")
    p.set_defaults(handler=cmd_flicker)
