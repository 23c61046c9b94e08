"""``dreamstream video`` (dream a video file, stable over time) and ``dreamstream flicker`` (measure it).

``video`` decodes the input with PyAV, dreams each frame with a :class:`TemporalDreamer` and writes
H.264 with the input's timing and sound (:mod:`stream.io.video`). Ctrl-C or SIGTERM finalise the
output with every frame finished so far (exit 130 or 143). ``flicker`` prints, as JSON, the
warping error of an original video and of its dream, with flow and occlusions from the original.
"""
from __future__ import annotations

import contextlib
import logging
import math
import signal
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from engine.errors import EXIT_INTERRUPTED, EXIT_TERMINATED, SinkError, SourceError
from stream.io.signals import handling
from stream.io.tuning import after_frame

if TYPE_CHECKING:
    from stream.io.cpu_share import CpuShare

log = logging.getLogger(__name__)


class Terminated(BaseException):
    """SIGTERM, turned into an exception so that the output is finalised on the way out."""


@contextlib.contextmanager
def sigterm_raises() -> Iterator[None]:
    """Within the block, SIGTERM raises :class:`Terminated` (main thread only; elsewhere a no-op)."""

    def handler(signum: int, frame: object) -> None:
        raise Terminated()

    with handling(handler, signal.SIGTERM):
        yield


@contextlib.contextmanager
def signals_ignored() -> Iterator[None]:
    """Within the block, a second Ctrl-C or SIGTERM is ignored (main thread only)."""
    with handling(signal.SIG_IGN, signal.SIGINT, signal.SIGTERM):
        yield


@dataclass
class VideoRun:
    """What :func:`dream_video` did."""

    frames: int = 0
    seconds: float = 0.0  # wall time of the frame loop (decode, dream, encode)
    kinds: Counter[str] = field(default_factory=Counter)
    frame_seconds: list[tuple[str, float]] = field(default_factory=list)  # (kind, s) per frame, dream + encode
    truncated: bool = False
    interrupted: int | None = None  # 130 (Ctrl-C) or 143 (SIGTERM)

    @property
    def seconds_per_frame(self) -> float:
        return self.seconds / self.frames if self.frames else float("nan")


def expected_frames(info: Any, start_s: float, duration_s: float | None, max_frames: int | None) -> int | None:
    """About how many frames a window of the input holds (for the progress bar)."""
    total = info.frame_count - round(start_s * float(info.fps)) if info.frame_count else None
    if duration_s is not None:
        window = math.ceil(duration_s * float(info.fps))
        total = window if total is None else min(total, window)
    if max_frames is not None:
        total = max_frames if total is None else min(total, max_frames)
    return max(total, 0) if total is not None else None


def dream_video(reader: Any, writer: Any, dream: Any, bar: Any = None, share: CpuShare | None = None) -> VideoRun:
    """Dream every frame of ``reader`` into ``writer`` with ``dream`` (a TemporalDreamer), then close ``writer``.

    With ``share`` torch's threads follow the CPU other processes leave (:mod:`stream.io.cpu_share`).

    Ctrl-C or SIGTERM stop the loop; the writer is then finalised with the frames done (a second
    Ctrl-C is ignored meanwhile) and ``interrupted`` is set. With no frame done nothing is written
    and ``frames`` is 0. Other errors propagate (the caller's ``with writer`` finalises or discards).
    """
    run = VideoRun()
    start = time.monotonic()
    try:
        with sigterm_raises():
            for frame in reader:
                began = time.monotonic()
                if share is not None:
                    share.update()
                if hasattr(dream, "reseed"):
                    dream.reseed(frame.index)  # per-frame seeds: a chunked render dreams the same frames
                writer.write(dream(frame.image), frame.pts)
                after_frame(frame.image.shape[0] * frame.image.shape[1])  # bounds a 4K render's heap
                run.frames += 1
                kind = getattr(dream, "last_kind", None) or "frame"
                run.kinds[kind] += 1
                run.frame_seconds.append((kind, time.monotonic() - began))
                if bar is not None:  # a tqdm bar
                    bar.set_postfix_str(kind, refresh=False)
                    bar.update(1)
    except KeyboardInterrupt:
        run.interrupted = EXIT_INTERRUPTED
    except Terminated:
        run.interrupted = EXIT_TERMINATED
    run.seconds = time.monotonic() - start
    run.truncated = bool(getattr(reader, "truncated", False))
    if bar is not None:
        bar.close()
    with signals_ignored():
        try:
            writer.close()
        except SinkError:
            if run.frames:  # with no frame the writer removed its file; the caller says why
                raise
    return run


# --------------------------------------------------------------------------------------------------
# Flicker


#: Most pixels by which a dream's size may differ from its original's for ``flicker`` (even-size rounding).
SIZE_SLACK = 2


def compare_videos(
    original: str | Path,
    dreamed: str | Path,
    method: str = "dis",
    preset: str = "medium",
    max_frames: int | None = None,
    pairs: bool = False,
) -> dict[str, Any]:
    """Warping error of ``original`` and ``dreamed`` (same size and frame count), with flow from ``original``.

    Warping error: mean over reliable pixels and RGB channels (in [0, 1]) of ``(O_t - warp(O_{t-1}))^2``,
    averaged over frame pairs; the flow and the forward-backward mask come from the original's frames.
    Also the mean absolute change from the original (0-255) over the first and last quarter.
    ``pairs``: also each pair's error (``pairs[k][i]`` for frames i and i+1; None where no pixel is reliable).
    """
    from engine.flow import FlowEstimator, occlusion_mask, to_gray, warping_error
    from engine.frames import to_tensor
    from stream.io.video.reader import VideoReader

    flow = FlowEstimator(method, preset)
    errors: dict[str, list[float]] = {"original": [], "dreamed": []}
    change: list[float] = []
    reliable: list[float] = []
    prev: tuple[Any, Any, np.ndarray] | None = None
    with VideoReader(original, max_frames=max_frames) as a, VideoReader(dreamed, max_frames=max_frames) as b:
        # An odd-size input is encoded one pixel larger (H.264 4:2:0 needs even sizes): compare the
        # common area. Sizes further apart are another video.
        if max(abs(a.width - b.width), abs(a.height - b.height)) > SIZE_SLACK:  # upright sizes
            raise SourceError(
                f"{dreamed}: {b.width}x{b.height} does not match {original}'s {a.width}x{a.height}"
                f" (allowed: sizes within {SIZE_SLACK} pixels)"
            )
        h, w = min(a.height, b.height), min(a.width, b.width)
        count_a = count_b = 0
        frames_b = iter(b)
        for fa in a:
            count_a += 1
            fb = next(frames_b, None)
            if fb is None:
                break
            count_b += 1
            ia, ib = np.ascontiguousarray(fa.image[:h, :w]), np.ascontiguousarray(fb.image[:h, :w])
            change.append(float(np.abs(ia.astype(np.float32) - ib).mean()))
            cur = (to_tensor(ia), to_tensor(ib), to_gray(ia))
            if prev is not None:
                back, ahead = flow(cur[2], prev[2]), flow(prev[2], cur[2])
                unreliable = occlusion_mask(back, ahead)
                reliable.append(1.0 - float(unreliable.mean()))
                errors["original"].append(warping_error(prev[0], cur[0], back, unreliable))
                errors["dreamed"].append(warping_error(prev[1], cur[1], back, unreliable))
            prev = cur
        count_b += sum(1 for _ in frames_b)
    if count_a != count_b:
        log.warning("%s has %d frames, %s %d; compared the first %d", original, count_a, dreamed, count_b, len(change))
    if len(change) < 2:
        raise SourceError(f"{original}: need at least 2 frames to measure flicker, got {len(change)}")
    quarter = max(1, len(change) // 4)
    with np.errstate(all="ignore"):
        err_o, err_d = (
            float(np.nanmean(errors[k])) if np.isfinite(errors[k]).any() else None for k in ("original", "dreamed")
        )
    result = {
        "frames": len(change),
        "warping_error": {"original": err_o, "dreamed": err_d},
        "ratio": err_d / err_o if err_o and err_d is not None else None,
        "mean_change": {
            "first_quarter": float(np.mean(change[:quarter])),
            "last_quarter": float(np.mean(change[-quarter:])),
        },
        "reliable_fraction": float(np.mean(reliable)),
        "flow": f"{method}" + (f" {preset}" if method == "dis" else ""),
    }
    if pairs:
        result["pairs"] = {k: [e if np.isfinite(e) else None for e in v] for k, v in errors.items()}
    return result

