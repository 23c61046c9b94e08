"""The last step of a chunked render: the chunk files, in order, into the output.

Each kept frame is written at the input's own timestamp, into a :class:`VideoWriter` opened on
the input (its size, rate, time base and every audio stream), so the output is what a single
pass writes: the same frames at the same times with the same sound.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

from engine.errors import SourceError
from stream.render.chunks import Chunk
from stream.render.worker import ChunkJob, part_path
from stream.video_io import VideoReader, VideoWriter


def join_chunks(
    job: ChunkJob,
    chunks: Sequence[Chunk],
    writer: VideoWriter,
    on_frame: Callable[[], None] | None = None,
) -> int:
    """Write the frames of ``chunks`` (consecutive, in order) into ``writer``; returns the frames written."""
    written = 0
    w, h = job.spec.width, job.spec.height
    for chunk in chunks:
        path = part_path(job, chunk)
        count = 0
        with VideoReader(path, max_frames=chunk.frames) as reader:
            for frame in reader:
                writer.write(frame.image[:h, :w], job.scan.pts[chunk.start + count])
                count += 1
                if on_frame is not None:
                    on_frame()
        if count != chunk.frames:
            raise SourceError(f"{path}: holds {count} of {chunk.frames} frames; delete it and run again to redo it")
        written += count
    return written
