"""What every PyAV output shares: the video stream setup (BT.709 tags), libx264 options, and audio placement.

The file writer (:class:`stream.io.video.writer.VideoWriter`, for ``video`` and live recordings) and the
network encoder (:class:`stream.io.sinks.encode.AvSink`, FLV/MPEG-TS over RTMP/UDP) both build their
streams here, so a recording, a ``video`` output and a stream carry the same colours.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from fractions import Fraction

import av
import numpy as np
from av.video.reformatter import ColorRange, Colorspace

from stream.settings.encoder import EncoderSettings

AUDIO_LAYOUT = "stereo"

# BT.709 limited range: the matrix used for RGB -> YUV, and the tags written in the stream.
_BT709 = 1
_RANGE_MPEG = 1

AUDIO_JITTER_S = 0.05  # audio closer than this to the sample clock is treated as contiguous
AUDIO_FILL_LAG_S = 1.0  # no audio for this long behind the video: insert silence ...
AUDIO_FILL_KEEP_S = 0.5  # ... up to this much before the video time
AUDIO_MAX_GAP_S = 60.0  # longest gap filled with silence in one go


def x264_options(settings: EncoderSettings, *, live: bool) -> dict[str, str]:
    """libx264 options from ``settings``: strict CBR, zero latency, no B-frames for live; ABR for files."""
    gop = str(settings.keyframe_interval_frames)
    kbps = settings.video_bitrate_kbps
    options = {
        "preset": settings.preset,
        "profile": "main",
        "g": gop,
        "keyint_min": gop,
        "sc_threshold": "0",
        "b": f"{kbps}k",
        "threads": str(settings.threads),
    }
    if live:
        options.update({"tune": "zerolatency", "bf": "0", "minrate": f"{kbps}k", "maxrate": f"{kbps}k",
                        "bufsize": f"{2 * kbps}k", "x264-params": "nal-hrd=cbr"})
    else:
        options.update({"maxrate": f"{2 * kbps}k", "bufsize": f"{4 * kbps}k"})
    return options


def add_video_stream(
    container: av.container.OutputContainer,
    codec: str,
    *,
    width: int,
    height: int,
    fps: Fraction | int,
    time_base: Fraction,
    options: Mapping[str, str],
) -> av.video.stream.VideoStream:
    """A yuv420p video stream tagged BT.709 limited range, its encoder opened (bad options fail here)."""
    stream = container.add_stream(codec, rate=fps)
    stream.options = dict(options)
    stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
    stream.time_base = time_base
    ctx = stream.codec_context
    ctx.time_base = time_base
    ctx.colorspace = ctx.color_primaries = ctx.color_trc = _BT709
    ctx.color_range = _RANGE_MPEG
    ctx.open()
    return stream


def yuv_frame(image: np.ndarray) -> av.VideoFrame:
    """RGB uint8 ``(H, W, 3)`` as a yuv420p frame converted with BT.709 (limited range), as the streams are tagged."""
    rgb = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
    return rgb.reformat(format="yuv420p", dst_colorspace=Colorspace.ITU709, dst_color_range=ColorRange.MPEG)


def add_audio_stream(container: av.container.OutputContainer, codec: str, rate: int,
                     bit_rate: int) -> av.audio.stream.AudioStream:
    """A stereo audio stream (AAC, or Opus for WebM) at ``rate`` Hz, time base ``1/rate``."""
    stream = container.add_stream(codec, rate=rate)
    stream.layout = AUDIO_LAYOUT
    stream.bit_rate = bit_rate
    stream.time_base = Fraction(1, rate)
    return stream


class AudioOut:
    """The one audio-placement algorithm: float32 stereo samples with start times onto a gapless sample clock.

    ``place(samples, start_s)`` puts ``(2, N)`` samples at ``start_s`` seconds of output time (0 = the first
    video frame): the first chunk goes exactly there (samples before 0 are dropped, a later start is preceded by
    silence); after that, a start within ``AUDIO_JITTER_S`` of where the last chunk ended is contiguous, a gap is
    filled with silence (at most ``AUDIO_MAX_GAP_S``) and an overlap is trimmed. ``start_s=None`` continues where
    the last chunk ended. ``encode(until_s)`` encodes what lies before ``until_s``; ``finish(end_s)`` pads silence
    to ``end_s``, drops anything after it and flushes the encoder. Packets go to ``mux``.
    """

    def __init__(self, stream: av.audio.stream.AudioStream, rate: int, mux: Callable[[list[av.Packet]], None]) -> None:
        self.stream = stream
        self.rate = rate
        self._mux = mux
        self._tb = Fraction(1, rate)
        self.encoded = 0  # samples encoded so far (the next frame's pts)
        self._buffer: list[np.ndarray] = []  # placed, not yet encoded
        self._buffered = 0
        self._placed = False

    @property
    def end(self) -> int:
        """Sample index where the placed audio ends."""
        return self.encoded + self._buffered

    def place(self, samples: np.ndarray, start_s: float | None) -> None:
        start = self.end if start_s is None else round(start_s * self.rate)
        jitter = 0 if not self._placed else round(AUDIO_JITTER_S * self.rate)
        if start > self.end + jitter:
            self.silence(start - self.end)
        elif start < self.end - jitter:
            samples = samples[:, self.end - start:]
        if samples.shape[1]:
            self._placed = True
            self._buffer.append(np.ascontiguousarray(samples, dtype=np.float32))
            self._buffered += samples.shape[1]

    def silence(self, count: int) -> None:
        count = min(count, round(AUDIO_MAX_GAP_S * self.rate))
        if count > 0:
            self._placed = True
            self._buffer.append(np.zeros((2, count), np.float32))
            self._buffered += count

    def keep_up(self, video_s: float) -> None:
        """Silence when no audio came for ``AUDIO_FILL_LAG_S`` behind the video, so the track never stalls."""
        if self.end / self.rate < video_s - AUDIO_FILL_LAG_S:
            self.silence(round((video_s - AUDIO_FILL_KEEP_S) * self.rate) - self.end)

    def encode(self, until_s: float | None = None) -> None:
        """Encode the placed samples before ``until_s`` (all of them when None)."""
        stop = self.end if until_s is None else min(self.end, round(until_s * self.rate))
        while self._buffer and self.encoded < stop:
            chunk = self._buffer[0]
            take = min(chunk.shape[1], stop - self.encoded, self.rate)  # at most a second per frame
            if take < chunk.shape[1]:
                self._buffer[0] = chunk[:, take:]
                chunk = chunk[:, :take]
            else:
                self._buffer.pop(0)
            self._buffered -= take
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(chunk), format="fltp", layout=AUDIO_LAYOUT)
            frame.sample_rate, frame.time_base, frame.pts = self.rate, self._tb, self.encoded
            self.encoded += take
            self._mux(self.stream.encode(frame))

    def finish(self, end_s: float) -> None:
        """Audio exactly as long as the video (``end_s``), then flush the encoder."""
        end = round(end_s * self.rate)
        self.silence(end - self.end)
        self.encode(end_s)
        self._buffer.clear()
        self._buffered = 0
        self._mux(self.stream.encode(None))


def _has_codec(name: str, mode: str) -> bool:
    try:
        av.Codec(name, mode)
    except (av.FFmpegError, ValueError):
        return False
    return True


def has_encoder(name: str) -> bool:
    """Whether this FFmpeg build can encode with codec ``name``."""
    return _has_codec(name, "w")


def has_decoder(name: str) -> bool:
    """Whether this FFmpeg build can decode codec ``name``."""
    return _has_codec(name, "r")
