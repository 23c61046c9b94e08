"""The last step of a chunked render: the chunk files, in order, into the output.

Each output frame is written at the input's own timestamp, into a :class:`VideoWriter` opened on
the input (its size, rate, time base and every audio stream), so the output has what a single
pass writes: the same frames at the same times with the same sound. Where a chunk has lead-in
frames, the previous chunk's last frames are faded into them (:func:`fade_weights`).
"""
from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence

import numpy as np

from engine.errors import SourceError
from stream.io.video.reader import VideoReader
from stream.io.video.writer import VideoWriter
from stream.render.chunks import Chunk, fade_weights
from stream.render.worker import ChunkJob, part_path


def blend(previous: np.ndarray, current: np.ndarray, weight: float) -> np.ndarray:
    """``(1 - weight) * previous + weight * current``, both RGB uint8 ``(H, W, 3)``."""
    if weight <= 0.0:
        return previous
    mixed = (1.0 - weight) * previous.astype(np.float32) + weight * current.astype(np.float32)
    return np.clip(np.rint(mixed), 0, 255).astype(np.uint8)


def join_chunks(
    job: ChunkJob,
    chunks: Sequence[Chunk],
    writer: VideoWriter,
    on_frame: Callable[[], None] | None = None,
) -> int:
    """Write the frames of ``chunks`` (consecutive, in order) into ``writer``; returns the frames written.

    A chunk's last frames that the next chunk's lead-in covers wait for it and are written blended;
    the last chunk given is written to its end.
    """
    written = 0
    w, h = job.spec.width, job.spec.height
    held: deque[tuple[int, np.ndarray]] = deque()  # (frame index, image) waiting for the next chunk's lead-in

    def emit(index: int, image: np.ndarray) -> None:
        nonlocal written
        writer.write(image, job.scan.pts[index])
        written += 1
        if on_frame is not None:
            on_frame()

    for position, chunk in enumerate(chunks):
        following = chunks[position + 1] if position + 1 < len(chunks) else None
        hold_from = chunk.stop - (following.lead_in if following is not None else 0)
        weights = fade_weights(chunk.lead_in)
        path = part_path(job, chunk)
        count = 0
        with VideoReader(path, max_frames=chunk.dreamed) as reader:
            for frame in reader:
                index = chunk.first + count
                image = frame.image[:h, :w]
                count += 1
                if index < chunk.start:  # lead-in: fade from the previous chunk's frame into this one
                    if not held or held[0][0] != index:
                        raise SourceError(f"{path}: lead-in frame {index} has no frame of the previous chunk to fade from")
                    emit(index, blend(held.popleft()[1], image, weights[index - chunk.first]))
                elif index >= hold_from:
                    held.append((index, image))
                else:
                    emit(index, image)
        if count != chunk.dreamed:
            raise SourceError(f"{path}: holds {count} of {chunk.dreamed} frames; delete it and run again to redo it")
    while held:  # only when the chunks given stop before the one whose lead-in they wait for
        emit(*held.popleft())
    return written
