"""A render worker: loads the model once, then dreams chunks, each into a lossless file in the work folder.

The same class runs in the command's own process (``--workers 1``) and as a Ray actor. A chunk is
read from the input from its first lead-in frame, dreamed with a fresh :class:`TemporalDreamer`
whose random jitter is seeded per frame index (so a frame's dream does not depend on which process
dreamed it), and every dreamed frame (lead-in included) is written with :class:`VideoWriter`
``lossless=True`` to ``chunk_NNNNN.HOST-PID.partial.mkv``, renamed to ``chunk_NNNNN.mkv`` once complete
(removed when the chunk fails).
"""
from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from engine.errors import SinkError, SourceError
from stream.io.tuning import after_frame
from stream.io.video.errors import reason
from stream.io.video.info import VideoSpec
from stream.io.video.reader import Frame, VideoReader
from stream.io.video.writer import VideoWriter
from stream.render.chunks import Chunk
from stream.render.scan import Scan
from stream.settings.loader import Config

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ChunkJob:
    """What every chunk of one render shares: the input, the work folder, the frames and the video's shape."""

    input: str
    parts: str
    scan: Scan
    spec: VideoSpec


@dataclass(frozen=True)
class ChunkResult:
    """A finished chunk: ``frames`` kept, ``dreamed`` with the lead-in (its file holds those), in ``seconds``."""

    index: int
    frames: int
    dreamed: int
    seconds: float
    host: str


def part_path(job: ChunkJob, chunk: Chunk) -> Path:
    return Path(job.parts) / chunk.name


def input_frame(job: ChunkJob, index: int, frame: Frame | None) -> Frame:
    """``frame``, checked to be the input's frame ``index`` as the first pass saw it; SourceError if it is not."""
    if frame is None or frame.pts != job.scan.pts[index]:
        seen = "nothing" if frame is None else f"pts {frame.pts}"
        raise SourceError(f"{job.input}: frame {index} reads as {seen}, the first pass saw pts "
                          f"{job.scan.pts[index]}; did the file change?")
    return frame


class ChunkDreamer:
    """Holds the loaded model; :meth:`dream` dreams one chunk.

    ``threads``: torch's threads at most (0 = the usable cores); with ``model.threads`` auto (0) a
    :class:`~stream.io.cpu_share.CpuShare` keeps to the cores other processes (other workers
    among them) leave, else ``model.threads`` holds.
    """

    def __init__(self, cfg: Config, threads: int = 0) -> None:
        from engine.dream import Dreamer
        from stream.io.cpu_share import CpuShare, usable_cores
        from stream.io.dreaming import setup_dream

        self.share = None if cfg.model.threads else CpuShare(threads or usable_cores())
        setup = setup_dream(cfg)
        self.dreamer = Dreamer(setup.model, setup.objective, setup.settings)
        self.settings = cfg.section("video")
        self.label = f"{setup.spec.name}: {setup.label} on {setup.device}"
        self.current = -1  # the chunk in progress
        self.kept = 0  # its frames written so far (read by progress polls)

    def pid(self) -> int:
        return os.getpid()

    def progress(self) -> tuple[int, int]:
        """The chunk in progress and its frames written so far."""
        return self.current, self.kept

    def dream(self, job: ChunkJob, chunk: Chunk, on_frame: Callable[[], None] | None = None) -> ChunkResult:
        """Dream ``chunk`` into its file in ``job.parts``; ``on_frame()`` after each kept frame."""
        from engine.temporal import TemporalDreamer

        began = time.monotonic()
        self.current, self.kept = chunk.index, 0
        temporal = TemporalDreamer(self.dreamer, self.settings)
        final = part_path(job, chunk)
        # Named by host and process: a worker that outlived a killed render never writes into this run's file.
        partial = final.with_name(f"{final.stem}.{os.uname().nodename}-{os.getpid()}.partial.mkv")
        scan = job.scan
        try:
            reader = VideoReader(job.input, start_s=scan.start_s(chunk.first), max_frames=chunk.dreamed)
            with reader, VideoWriter(partial, job.spec, lossless=True, preset="ultrafast") as writer:
                for offset, frame in enumerate(reader):
                    if self.share is not None:
                        self.share.update()
                    index = chunk.first + offset
                    input_frame(job, index, frame)
                    temporal.reseed(index)
                    writer.write(temporal(frame.image), frame.pts)  # lead-in too: the join fades into it
                    after_frame(frame.image.shape[0] * frame.image.shape[1])  # bounds a 4K render's heap
                    if index >= chunk.start:
                        self.kept += 1
                        if on_frame is not None:
                            on_frame()
            if writer.frames_written != chunk.dreamed:
                raise SourceError(
                    f"{job.input}: {chunk.describe()} decoded {writer.frames_written} of {chunk.dreamed} frames"
                )
        except SinkError as exc:  # a full disk: the part is of no use, and its room is needed
            partial.unlink(missing_ok=True)
            raise SinkError(f"{job.parts}: cannot write {chunk.describe()} ({reason(exc.__cause__ or exc)})") from exc
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        os.replace(partial, final)
        seconds = time.monotonic() - began
        log.debug("%s: %d frames (+%d lead-in) in %.1f s", chunk.describe(), chunk.frames, chunk.lead_in, seconds)
        return ChunkResult(chunk.index, chunk.frames, chunk.dreamed, seconds, os.uname().nodename)
