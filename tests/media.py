"""Tiny synthetic video clips for tests, written by the product's writer (a helper module, not a test file).

Test files import it as ``from media import write_clip`` (pytest puts ``tests/`` on ``sys.path``
because ``tests/`` has no ``__init__.py``).
"""
from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from stream.io.video import VideoSpec, VideoWriter

_AUDIO_FORMATS = {"aac": "fltp", "pcm_s16le": "s16", "libopus": "flt", "opus": "fltp", "mp3": "fltp"}
PATTERNS = ("moving", "static", "cut", "scenes")
#: First frame of the second scene of the ``scenes`` pattern.
SCENES_CUT = 24


def clip_frame(index: int, width: int = 64, height: int = 48, pattern: str = "moving") -> np.ndarray:
    """Frame ``index`` of a synthetic clip: RGB uint8 (height, width, 3).

    ``moving``: smooth colour waves drifting 2 px per frame with a white square moving 3 px per frame;
    ``static``: frame 0 of ``moving`` every time; ``cut``: ``moving``, then from the middle of a 16-frame
    clip (index >= 8) an unrelated checkerboard scene drifting 1 px per frame; ``scenes``: ``moving``, then
    from ``SCENES_CUT`` on a dim, low-contrast version of it drifting the other way (one clean scene cut).
    """
    if pattern not in PATTERNS:
        raise ValueError(f"pattern {pattern!r} not in {PATTERNS}")
    if pattern == "static":
        index = 0
    if pattern == "scenes" and index >= SCENES_CUT:
        bright = clip_frame(2 * SCENES_CUT - index + 40, width, height).astype(np.float32)
        return (40 + 0.3 * bright[..., ::-1]).astype(np.uint8)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    if pattern == "cut" and index >= 8:
        board = (((x + index) // 8 + y // 8) % 2).astype(np.float32)
        image = np.stack([40 + 160 * board, 200 - 120 * board, 90 + 0 * board], axis=-1)
        return image.astype(np.uint8)
    shift = 2.0 * index
    image = np.stack(
        [
            128.0 + 100.0 * np.sin(2 * np.pi * (x + shift) / width),
            128.0 + 100.0 * np.sin(2 * np.pi * (y + shift) / height),
            128.0 + 100.0 * np.sin((x + y + shift) / 7.0),
        ],
        axis=-1,
    )
    side = max(4, min(width, height) // 4)
    left = (3 * index) % max(1, width - side)
    top = height // 3
    image[top : top + side, left : left + side] = 255.0
    return image.astype(np.uint8)


def step_frequency(index: int) -> float:
    """Tone frequency (Hz) of the ``steps`` sound during video frame ``index``."""
    return 500.0 + 150.0 * index


def sine(samples: int, sample_rate: int, fps: Fraction = Fraction(24), tone: str = "steady") -> np.ndarray:
    """The clip's sound at amplitude 0.5, float32 (2, samples).

    ``steady``: 440 Hz left, 880 Hz right. ``steps``: both channels at ``step_frequency(i)`` during
    video frame i (continuous phase), so a stretch of sound tells which frame it belongs to.
    """
    t = np.arange(samples, dtype=np.float64) / sample_rate
    if tone == "steady":
        return np.stack([0.5 * np.sin(2 * np.pi * 440.0 * t), 0.5 * np.sin(2 * np.pi * 880.0 * t)]).astype(np.float32)
    if tone != "steps":
        raise ValueError(f"tone {tone!r} not in ('steady', 'steps')")
    frequency = np.array([step_frequency(i) for i in np.floor(t * float(fps)).astype(int)])
    phase = 2 * np.pi * np.cumsum(frequency) / sample_rate
    return np.stack([0.5 * np.sin(phase)] * 2).astype(np.float32)


def write_clip(
    path: str | Path,
    width: int = 64,
    height: int = 48,
    frames: int = 16,
    fps: int | Fraction = 24,
    audio: bool = True,
    audio_codec: str | tuple[str, ...] = "aac",
    sample_rate: int = 48000,
    pattern: str = "moving",
    tone: str = "steady",
    keyframe_interval: int | None = None,
    lossless: bool = False,
) -> Path:
    """Write a clip of ``clip_frame(0..frames-1)`` with a stereo sine track as long as the video.

    Written by the product's :class:`VideoWriter` (the container follows the extension; libx264 yuv420p,
    VP9 for .webm; time base 1/fps; MP4/MOV with ``faststart``, so a truncated copy still opens). ``audio_codec``
    ``"aac"`` is encoded by the writer; any other codec (pcm_s16le, libopus, ...; a tuple writes one audio
    stream per codec, all with the same sound) is written to a sound file first and copied from it.
    ``tone`` is passed to :func:`sine`; ``keyframe_interval`` sets the encoder's GOP size (default: the
    encoder's). ``lossless``: RGB kept exactly (libx264rgb; .mkv/.mp4/.mov), so an odd size stays odd.
    Returns ``path``.
    """
    path = Path(path)
    fps = Fraction(fps)
    codecs = (audio_codec,) if isinstance(audio_codec, str) else tuple(audio_codec)
    sound = sine(round(frames / fps * sample_rate), sample_rate, fps, tone) if audio else None
    pushed = sound is not None and codecs == ("aac",)
    sound_file = None
    if sound is not None and not pushed:
        sound_file = _write_sound(path.with_name(f"{path.stem}.sound{path.suffix}"), sound, sample_rate, codecs)
    options = {"preset": "ultrafast", "crf": "18"}
    if keyframe_interval:
        options["g"] = str(keyframe_interval)
    spec = VideoSpec(width, height, fps)
    with VideoWriter(path, spec, video_options=options, audio_from=sound_file,
                     audio_rate=sample_rate if pushed else None, lossless=lossless, kill_safe=False) as writer:
        for i in range(frames):
            if pushed:  # the sound of frame i, as a live source hands it over
                a, b = round(i / fps * sample_rate), round((i + 1) / fps * sample_rate)
                writer.write_audio(sound[:, a:b], a / sample_rate)
            writer.write(clip_frame(i, width, height, pattern), i)
    if sound_file is not None:
        sound_file.unlink()
    return path


def _write_sound(path: Path, sound: np.ndarray, sample_rate: int, codecs: tuple[str, ...]) -> Path:
    """An audio-only file of float (2, n) ``sound``, one stream per codec, for the writer to copy from."""
    with av.open(str(path), "w") as out:
        pending: list[tuple[av.AudioFrame, av.AudioStream]] = []
        for name in codecs:
            stream = out.add_stream(name, rate=sample_rate)
            stream.layout = "stereo"
            stream.format = _AUDIO_FORMATS.get(name, "fltp")
            fmt = stream.format.name
            pending += [(_audio_frame(sound, start, sample_rate, fmt), stream)
                        for start in range(0, sound.shape[1], 1024)]
        pending.sort(key=lambda item: item[0].pts)  # interleaved in time order
        for frame, stream in pending:
            out.mux(stream.encode(frame))
        for stream in out.streams.audio:
            out.mux(stream.encode(None))
    return path


def _audio_frame(sound: np.ndarray, start: int, sample_rate: int, fmt: str) -> av.AudioFrame:
    """Samples ``start:start+1024`` of float (2, n) ``sound`` as an AudioFrame in sample format ``fmt``."""
    part = sound[:, start : start + 1024]
    if fmt == "s16":
        data = (np.clip(part, -1, 1) * 32767).astype(np.int16).T.reshape(1, -1)
    elif fmt == "flt":
        data = np.ascontiguousarray(part.T.reshape(1, -1))
    else:
        data = np.ascontiguousarray(part)
    frame = av.AudioFrame.from_ndarray(data, format=fmt, layout="stereo")
    frame.sample_rate, frame.pts, frame.time_base = sample_rate, start, Fraction(1, sample_rate)
    return frame


def truncate(path: str | Path, fraction: float, out: str | Path | None = None) -> Path:
    """Copy the first ``fraction`` of the bytes of ``path`` to ``out`` (default ``<stem>.cut<suffix>``)."""
    path = Path(path)
    out = Path(out) if out is not None else path.with_name(f"{path.stem}.cut{path.suffix}")
    data = path.read_bytes()
    out.write_bytes(data[: int(len(data) * fraction)])
    return out


def video_times(path: str | Path) -> list[Fraction]:
    """Presentation times (seconds, exact) of every decoded video frame of ``path``, in order."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return [Fraction(frame.pts) * stream.time_base for frame in container.decode(stream)]


def decoded_audio(path: str | Path, stream_index: int = 0) -> tuple[float, int, np.ndarray]:
    """Decode audio stream ``stream_index`` of ``path``.

    Returns (time of the first sample in s, sample rate, samples float32 (channels, n)).
    """
    with av.open(str(path)) as container:
        stream = container.streams.audio[stream_index]
        frames = list(container.decode(stream))
    if not frames:
        return 0.0, stream.sample_rate, np.zeros((stream.channels, 0), np.float32)
    rate = frames[0].sample_rate
    resampler = av.AudioResampler(format="fltp", layout=frames[0].layout.name, rate=rate)
    chunks = [f.to_ndarray() for frame in frames for f in resampler.resample(frame)]
    return float(frames[0].time or 0.0), rate, np.concatenate(chunks, axis=1).astype(np.float32)


def audio_span(path: str | Path, stream_index: int = 0) -> tuple[float, float]:
    """(start, end) in seconds of the decoded sound of ``path``."""
    start, rate, samples = decoded_audio(path, stream_index)
    return start, start + samples.shape[1] / rate


def heard_frames(path: str | Path, fps: float = 24.0) -> list[int | None]:
    """For each video frame of ``path`` (a ``steps`` clip), the source frame index its sound belongs to.

    Takes the middle half of each frame's interval, finds the loudest frequency and inverts
    :func:`step_frequency`; None where the output has no sound at that time.
    """
    start, rate, samples = decoded_audio(path)
    heard: list[int | None] = []
    for t in video_times(path):
        a = round((float(t) + 0.25 / fps - start) * rate)
        b = round((float(t) + 0.75 / fps - start) * rate)
        if a < 0 or b > samples.shape[1]:
            heard.append(None)
            continue
        segment = samples[0, a:b] * np.hanning(b - a)
        spectrum = np.abs(np.fft.rfft(segment, n=16384))
        frequency = np.argmax(spectrum) * rate / 16384
        heard.append(round((frequency - step_frequency(0)) / (step_frequency(1) - step_frequency(0))))
    return heard


def portrait(index: int) -> np.ndarray:
    """An upright 64x96 (W x H) picture: a white band across the top, dark below, a moving grey square."""
    image = np.full((96, 64, 3), 40, np.uint8)
    image[:16] = 235
    image[50:62, 4 + 2 * index : 16 + 2 * index] = 150
    return image


def phone_clip(path: str | Path, frames: int = 6) -> Path:
    """A clip as a phone held upright records it: landscape 96x64 pictures of :func:`portrait` tagged -90 (shown
    upright, 64x96)."""
    from stream.io.video import stored

    with av.open(str(path), "w") as out:
        s = out.add_stream("libx264", rate=24)
        s.width, s.height, s.pix_fmt = 96, 64, "yuv420p"
        s.set_display_rotation(-90)
        for i in range(frames):
            picture = av.VideoFrame.from_ndarray(stored(portrait(i), -90), format="rgb24")
            picture.pts = i
            out.mux(s.encode(picture))
        out.mux(s.encode(None))
    return Path(path)
