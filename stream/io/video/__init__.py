"""Video files in and out with PyAV, in-process: probe, read RGB frames, write H.264 with the source's sound.

Frames are RGB ``uint8`` arrays of shape ``(H, W, 3)``. Timestamps (``pts``) are integers in the video
stream's ``time_base``; the writer keeps them, shifted so that the first written frame starts at 0.

Typical use::

    info = probe(src)
    with VideoReader(src, start_s=2.0, duration_s=5.0) as reader, \\
            VideoWriter(dst, info, audio_from=src) as writer:
        for frame in reader:
            writer.write(dream(frame.image), frame.pts)

Rooms: :mod:`~stream.io.video.info` (what a video is), :mod:`~stream.io.video.probing` (a file
described), :mod:`~stream.io.video.rotation` (phone clips turned upright), :mod:`~stream.io.video.sizes`
(the delivered size), :mod:`~stream.io.video.reader`, :mod:`~stream.io.video.audio` (the writer's audio
routes), :mod:`~stream.io.video.writer`, :mod:`~stream.io.video.errors` (an FFmpeg error in one line).
"""
from stream.io.video.audio import COPY_AUDIO, AudioRoute
from stream.io.video.info import AudioInfo, VideoInfo, VideoSpec
from stream.io.video.probing import probe
from stream.io.video.reader import Frame, VideoReader
from stream.io.video.rotation import stored, upright
from stream.io.video.sizes import fit_size
from stream.io.video.writer import VideoWriter

__all__ = [
    "COPY_AUDIO", "AudioInfo", "AudioRoute", "Frame", "VideoInfo", "VideoReader", "VideoSpec", "VideoWriter",
    "fit_size", "probe", "stored", "upright",
]
