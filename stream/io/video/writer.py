"""Writing: :class:`VideoWriter` encodes RGB frames into a file that survives a hard kill, with sound."""
from __future__ import annotations

import logging
import os
from collections import deque
from collections.abc import Iterator, Mapping
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from engine.errors import ConfigError, SinkError, SourceError
from stream.io.encoding import AudioOut, add_audio_stream, add_video_stream, has_decoder, has_encoder, yuv_frame
from stream.io.tuning import LARGE_FRAME_PIXELS
from stream.io.video.audio import COPY_AUDIO, AudioRoute, AudioTrack
from stream.io.video.errors import reason
from stream.io.video.info import VideoInfo, VideoSpec
from stream.io.video.rotation import stored
from stream.settings.encoder import AUDIO_RATE
from stream.settings.names import CONTAINERS

log = logging.getLogger(__name__)

#: Every output is written so that a hard kill (SIGKILL, an OOM kill) keeps all but about its last second:
#: MP4/MOV fragmented (an empty ``moov`` up front, a fragment at least every second), Matroska/WebM with a
#: cluster at least every second, and every packet handed to the OS as it is muxed (``flush_packets``), so a
#: write that fails (a full disk) fails at once, not when a buffer fills later.
_FRAGMENTED_MP4 = "+frag_keyframe+empty_moov+delay_moov+default_base_moof"  # delay_moov: an edit list for B-frames
_FLUSH_S = 1.0
_MAX_PENDING_AUDIO = 500  # chunks written before the first frame, kept until it sets time zero
#: Frames larger than 1920x1080 are encoded with x264 holding fewer frames: veryfast looks 10 frames ahead
#: and keeps 3 B-frames, and x264 holds about 25 MB for each 3840x2160 frame it keeps.
_LARGE_X264 = {"rc-lookahead": "1", "bf": "1"}
_NO_LOOKAHEAD = ("ultrafast", "superfast")  # x264 presets that look ahead no frame at all


class VideoWriter:
    """Write RGB frames to a video file: H.264 (libx264) yuv420p, VP9 for .webm, in the container its extension names.

    ``like`` gives the size, frame rate and time base (a :class:`VideoInfo` of the input or a
    :class:`VideoSpec`). Frames are written with their pts in that time base, shifted so the first
    written frame starts at 0; colours are converted with BT.709 (limited range) and tagged so.
    Odd width or height: yuv420p needs even sizes, so the picture is **padded** by one pixel (the
    last column/row repeated); ``width``/``height`` give the encoded size. ``like.rotation`` (a
    rotated phone clip's): frames are given upright (``source_width`` x ``source_height``), stored
    turned back and tagged with the same display matrix, so the output shows as the input does.

    ``audio_from``: every audio stream of that file goes to the output, copied packet by packet when
    the container takes the codec (see ``COPY_AUDIO``), otherwise re-encoded to AAC 48 kHz stereo
    (Opus for .webm). The sound follows the written video: it starts at the source time of the first
    written frame and ends with the last written frame (the packet that straddles the end is kept
    when copying), so a start/duration window, ``max_frames`` or an interruption trim it alike.
    Audio is interleaved with the video as frames are written.

    ``lossless``: RGB kept exactly (libx264rgb at qp 0, .mkv/.mp4/.mov; no padding, no colour
    conversion), for intermediate files that are encoded again later (the chunks of a render).

    ``kill_safe=False``: an ordinary file instead, MP4/MOV with their index up front (``faststart``,
    exact frame counts), for generated clips (:mod:`stream.io.clips`, the tests' clips).

    ``close()`` (or leaving the ``with`` block, also by an exception) flushes the encoders and
    finalises the file, so an interrupted run leaves a playable file with every frame written so far.
    The file is also written to survive a hard kill: fragmented MP4/MOV, Matroska clusters, at least
    every second, each packet handed to the OS as it is muxed (``_FLUSH_S``); a kill loses the frames
    still in the encoder and the last fragment (about a second), the rest plays, with its sound.
    A write that fails (a full disk) raises SinkError at once; the file is kept with what reached
    the disk, and ``close`` then only releases it. If finalising fails the file is kept too
    (SinkError); with no frame written it is removed. Opening checks that the path is writable and
    sets up the encoders (SinkError), and opens ``audio_from`` (SourceError), before any frame is written.

    For live recordings (:class:`stream.io.sinks.file.FileSink`): ``video_options`` replace the
    crf/preset libx264 options (e.g. a bitrate from :func:`stream.io.encoding.x264_options`);
    ``audio_rate`` adds one audio track fed by :meth:`write_audio` (AAC, or Opus for .webm) at
    ``audio_bitrate_kbps``. Every re-encoded sound goes through the one placement of
    :class:`stream.io.encoding.AudioOut` and ends with the video.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        like: VideoInfo | VideoSpec,
        *,
        crf: int = 18,
        audio_from: str | os.PathLike[str] | None = None,
        preset: str = "veryfast",
        video_options: Mapping[str, str] | None = None,
        audio_rate: int | None = None,
        audio_bitrate_kbps: int | None = None,
        lossless: bool = False,
        kill_safe: bool = True,
    ) -> None:
        self.path = os.fspath(path)
        self.lossless = lossless
        self.kill_safe = kill_safe
        if not 0 <= crf <= 51:
            raise ConfigError(f"crf {crf!r}: must be in 0..51")
        if audio_from is not None and audio_rate is not None:
            raise ConfigError(f"{self.path}: sound comes from audio_from or from write_audio, not both")
        self.format = self._check_path(audio_from)
        self.fps = Fraction(like.fps)
        if self.fps <= 0:
            raise ConfigError(f"frame rate {like.fps!r}: must be > 0")
        self.time_base = Fraction(like.time_base) if like.time_base else 1 / self.fps
        #: The display rotation written (the input's): frames come upright and are stored turned back.
        self.rotation = int(getattr(like, "rotation", 0) or 0)
        swap = self.rotation % 180 != 0
        self.source_width, self.source_height = (like.height, like.width) if swap else (like.width, like.height)
        pad = not lossless  # yuv420p needs even sizes; RGB does not
        self.width, self.height = like.width + pad * (like.width % 2), like.height + pad * (like.height % 2)
        self.frames_written = 0
        self.audio_routes: tuple[AudioRoute, ...] = ()
        self._frame_ticks = max(1, round(1 / (self.fps * self.time_base)))
        self._origin_pts = 0  # input pts of the first written frame
        self._origin_s = 0.0  # its source time in seconds
        self._last_pts = -1  # last output pts
        self._end_s = 0.0  # output time where the written video ends
        self._audio_source: av.container.InputContainer | None = None
        self._audio_packets: Iterator[av.Packet] | None = None
        self._pending: av.Packet | None = None
        self._audio_done = False
        self._tracks: dict[int, AudioTrack] = {}
        self._pushed: AudioOut | None = None  # the track fed by write_audio
        self._pending_audio: deque[tuple[np.ndarray, float]] = deque()  # before the first frame
        self._closed = False
        self._touched = False
        self.failed: str | None = None  # why a write failed (the file keeps what reached the disk)
        self._output: av.container.OutputContainer | None = None
        try:
            try:
                options = self._container_options()
                self._output = av.open(self.path, "w", format=self.format, container_options=options)
                self._add_video(crf, preset, video_options)
            except (av.FFmpegError, ValueError) as exc:
                why = f"crf {crf}, preset {preset!r}: {reason(exc)}" if video_options is None else reason(exc)
                raise SinkError(f"{self.path}: cannot set up the video encoder ({why})") from exc
            if audio_from is not None:
                self._add_audio(os.fspath(audio_from))
            if audio_rate is not None:
                self._add_pushed_audio(audio_rate, audio_bitrate_kbps)
        except BaseException:
            self._discard()
            raise

    # -- opening -----------------------------------------------------------------------------------

    def _check_path(self, audio_from: str | os.PathLike[str] | None) -> str:
        """Return the muxer name for the extension; SinkError if the path cannot be written."""
        suffix = Path(self.path).suffix.lower()
        if suffix not in CONTAINERS:
            allowed = ", ".join(CONTAINERS)
            raise SinkError(f"{self.path}: unsupported output extension {suffix or '(none)'!r}; use one of {allowed}")
        fmt = CONTAINERS[suffix]
        if fmt == "webm" and not (has_encoder("libvpx-vp9") and (has_encoder("libopus") or has_encoder("opus"))):
            allowed = ", ".join(s for s, f in CONTAINERS.items() if f != "webm")
            raise SinkError(f"{self.path}: .webm needs VP9 and Opus encoders, missing here; use one of {allowed}")
        if os.path.isdir(self.path):
            raise SinkError(f"{self.path}: is a directory")
        parent = os.path.dirname(os.path.abspath(self.path))
        if not os.path.isdir(parent):
            raise SinkError(f"{self.path}: directory {parent} does not exist")
        if audio_from is not None and os.path.exists(self.path) and os.path.exists(audio_from):
            if os.path.samefile(self.path, audio_from):
                raise SinkError(f"{self.path}: output would overwrite the input")
        existed = os.path.exists(self.path)
        try:
            with open(self.path, "ab"):
                pass
        except OSError as exc:
            raise SinkError(f"{self.path}: cannot write ({reason(exc)})") from exc
        if not existed:
            os.remove(self.path)  # FFmpeg creates it again on the first frame; nothing is left behind on early errors
        return fmt

    def _container_options(self) -> dict[str, str]:
        """Options that keep the file playable after a hard kill and make a failed write fail at once."""
        if not self.kill_safe:  # an ordinary file: MP4/MOV with the index up front
            return {"movflags": "+faststart"} if self.format in ("mp4", "mov") else {}
        options = {"flush_packets": "1"}
        if self.format in ("mp4", "mov"):
            options.update(movflags=_FRAGMENTED_MP4, frag_duration=str(round(_FLUSH_S * 1e6)))
        elif self.format in ("matroska", "webm"):
            options["cluster_time_limit"] = str(round(_FLUSH_S * 1000))
        return options

    def _add_video(self, crf: int, preset: str, video_options: Mapping[str, str] | None) -> None:
        assert self._output is not None
        if self.lossless:
            if self.format not in ("matroska", "mp4", "mov"):
                raise ConfigError(f"lossless output needs .mkv, .mp4 or .mov, not {self.format}")
            stream = self._output.add_stream("libx264rgb", rate=self.fps)
            stream.options = {"qp": "0", "preset": preset}
            stream.width, stream.height, stream.pix_fmt = self.width, self.height, "rgb24"
            stream.time_base = stream.codec_context.time_base = self.time_base
            stream.codec_context.open()
            self._video = stream
            return
        if self.format == "webm":
            # crf on VP9's 0..63 scale, constant quality (b=0); row-mt for speed.
            codec, options = (
                "libvpx-vp9",
                {"crf": str(crf), "b": "0", "deadline": "good", "cpu-used": "4", "row-mt": "1"},
            )
        else:
            codec, options = (
                "libx264",
                dict(video_options) if video_options is not None else {"crf": str(crf), "preset": preset},
            )
            if video_options is None and self.width * self.height > LARGE_FRAME_PIXELS and preset not in _NO_LOOKAHEAD:
                options.update(_LARGE_X264)
        # Opened now, so that bad settings fail before any frame is dreamed.
        self._video = add_video_stream(self._output, codec, width=self.width, height=self.height, fps=self.fps,
                                       time_base=self.time_base, options=options)
        if self.rotation:
            self._video.set_display_rotation(self.rotation)

    def _audio_codec(self) -> str:
        return ("libopus" if has_encoder("libopus") else "opus") if self.format == "webm" else "aac"

    def _add_pushed_audio(self, rate: int, bitrate_kbps: int | None) -> None:
        assert self._output is not None
        if self.format == "webm" and rate != AUDIO_RATE:
            raise SinkError(f"{self.path}: .webm (Opus) takes {AUDIO_RATE} Hz audio, not {rate} Hz")
        kbps = bitrate_kbps or (128 if self.format == "webm" else 192)
        output = add_audio_stream(self._output, self._audio_codec(), rate, kbps * 1000)
        self._pushed = AudioOut(output, rate, self._mux)

    def _add_audio(self, audio_from: str) -> None:
        assert self._output is not None
        try:
            self._audio_source = av.open(audio_from, metadata_errors="replace")
        except (av.FFmpegError, OSError, UnicodeDecodeError) as exc:
            raise SourceError(f"{audio_from}: cannot read its audio ({reason(exc)})") from exc
        routes = []
        for source in self._audio_source.streams.audio:
            name = source.codec_context.name if source.codec_context else "unknown"
            output = None
            if name in COPY_AUDIO[self.format]:
                try:
                    output = self._output.add_stream_from_template(source)
                except ValueError:  # FFmpeg's muxer refuses the codec after all
                    output = None
            copied = output is not None
            if output is None:
                if source.codec_context is None or not has_decoder(name):
                    log.warning("%s: audio stream %d (%s) cannot be decoded; left out", audio_from, source.index, name)
                    continue
                bit_rate = 128000 if self.format == "webm" else 192000
                output = add_audio_stream(self._output, self._audio_codec(), AUDIO_RATE, bit_rate)
            out = None if copied else AudioOut(output, AUDIO_RATE, self._mux)
            self._tracks[source.index] = AudioTrack(source, output, copied, out)
            routes.append(AudioRoute(source.index, name, output.codec_context.name, copied))
            how = "copied" if copied else f"re-encoded to {output.codec_context.name}"
            log.info("%s: audio stream %d (%s) %s", self.path, source.index, name, how)
        self.audio_routes = tuple(routes)
        if not self._tracks:
            self._audio_source.close()
            self._audio_source = None

    # -- writing -----------------------------------------------------------------------------------

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        if exc_type is not None and self.frames_written == 0:
            self._discard()  # nothing to keep; let the original exception speak
            return
        self.close()

    def write(self, image: np.ndarray, pts: int | None = None) -> None:
        """Encode one RGB uint8 (H, W, 3) frame at ``pts`` (input time base; default: one frame after the last)."""
        if self._closed or self._output is None or self.failed:
            raise SinkError(f"{self.path}: writer is closed")
        if image.dtype != np.uint8 or image.shape != (self.source_height, self.source_width, 3):
            raise SinkError(
                f"{self.path}: frame {image.shape} {image.dtype} does not match "
                f"({self.source_height}, {self.source_width}, 3) uint8"
            )
        if self.frames_written == 0:
            self._origin_pts = 0 if pts is None else int(pts)
            self._origin_s = float(self._origin_pts * self.time_base)
            while self._pending_audio:
                self._place_audio(*self._pending_audio.popleft())
        out_pts = self._last_pts + self._frame_ticks if pts is None else int(pts) - self._origin_pts
        if out_pts <= self._last_pts:
            log.warning("%s: pts %s not after %s; using %s", self.path, out_pts, self._last_pts, self._last_pts + 1)
            out_pts = self._last_pts + 1
        image = stored(image, self.rotation)
        if image.shape[:2] != (self.height, self.width):
            pad = ((0, self.height - image.shape[0]), (0, self.width - image.shape[1]), (0, 0))
            image = np.pad(image, pad, mode="edge")
        if self.lossless:
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
        else:
            frame = yuv_frame(image)
        frame.pts, frame.time_base, frame.duration = out_pts, self.time_base, self._frame_ticks
        try:
            if self._pushed is not None:
                self._pushed.keep_up(float(out_pts * self.time_base))
                self._pushed.encode()
            self._mux(self._video.encode(frame))
            self._last_pts = out_pts
            self.frames_written += 1
            self._end_s = float((out_pts + self._frame_ticks) * self.time_base)
            self._pump_audio(self._end_s)
        except (av.FFmpegError, OSError) as exc:
            raise self._write_failed(exc) from exc

    def write_audio(self, samples: np.ndarray, time_s: float) -> None:
        """Add float32 stereo ``(2, N)`` samples (at ``audio_rate``) starting at ``time_s`` on the frames' clock.

        Needs ``audio_rate``. Sound before the first frame is held until it sets time zero.
        """
        if self._closed or self._output is None or self.failed:
            raise SinkError(f"{self.path}: writer is closed")
        if self._pushed is None:
            raise SinkError(f"{self.path}: writer was opened without audio_rate; it takes no sound")
        if self.frames_written == 0:
            self._pending_audio.append((samples, time_s))
            while len(self._pending_audio) > _MAX_PENDING_AUDIO:
                self._pending_audio.popleft()
            return
        self._place_audio(samples, time_s)

    def _place_audio(self, samples: np.ndarray, time_s: float) -> None:
        assert self._pushed is not None
        try:
            self._pushed.place(samples, time_s - self._origin_s)
            self._pushed.encode()
        except (av.FFmpegError, OSError) as exc:
            raise self._write_failed(exc) from exc

    def _write_failed(self, exc: BaseException) -> SinkError:
        """Note a failed write (a full disk): nothing more is written; the file keeps what reached the disk."""
        self.failed = reason(exc)
        kept = "kept what was written before, playable" if self.frames_written else "nothing written"
        return SinkError(
            f"{self.path}: cannot write after {self.frames_written} frames ({self.failed}); stopped, {kept}"
        )

    # -- audio -------------------------------------------------------------------------------------

    def _next_audio_packet(self) -> av.Packet | None:
        """The next non-empty audio packet of the source, or None at its end (or when it breaks)."""
        if self._pending is not None:
            return self._pending
        source = self._audio_source
        if source is None or self._audio_done:
            return None
        if self._audio_packets is None:
            if self._origin_s > 1.0:
                try:  # to a keyframe well before the start; packets before it are dropped below
                    source.seek(int((self._origin_s - 1.0) * av.time_base), backward=True)
                except av.FFmpegError as exc:
                    log.warning("%s: cannot seek its audio (%s); reading from the start", source.name, reason(exc))
            self._audio_packets = source.demux(*(t.source for t in self._tracks.values()))
        while True:
            try:
                packet = next(self._audio_packets)
            except StopIteration:
                packet = None
            except av.FFmpegError as exc:
                log.warning("%s: audio read failed (%s); the sound ends here", source.name, reason(exc))
                packet = None
            if packet is None:
                self._audio_done = True  # the decoders stay usable for their flush in close()
                return None
            if packet.size and (packet.pts is not None or packet.dts is not None):
                self._pending = packet
                return packet

    def _pump_audio(self, until_s: float) -> None:
        """Mux the source's audio up to output time ``until_s`` (seconds)."""
        while (packet := self._next_audio_packet()) is not None:
            stamp = packet.pts if packet.pts is not None else packet.dts
            start_s = float(stamp * packet.time_base) - self._origin_s
            if start_s >= until_s:
                break
            self._pending = None
            track = self._tracks[packet.stream.index]
            if track.copied:
                end_s = start_s + float(packet.duration * packet.time_base)
                if end_s < 0:  # wholly before the first frame
                    continue
                shift = round(Fraction(self._origin_s) / packet.time_base)
                if packet.pts is not None:
                    packet.pts -= shift
                if packet.dts is not None:
                    packet.dts -= shift
                packet.stream = track.output
                self._mux(packet)
            else:
                self._decode_audio(track, packet)
        for track in self._tracks.values():
            if track.out is not None:
                track.out.encode(until_s)

    def _decode_audio(self, track: AudioTrack, packet: av.Packet | None) -> None:
        try:
            for frame in track.source.codec_context.decode(packet):
                self._buffer_audio(track, frame)
            if packet is None:
                self._buffer_audio(track, None)
        except av.FFmpegError as exc:
            log.warning("%s: skipping damaged audio (%s)", track.source.container.name, reason(exc))

    def _buffer_audio(self, track: AudioTrack, frame: av.AudioFrame | None) -> None:
        """Resample a decoded frame (None: the resampler's tail) and place it at its source time."""
        assert track.resampler is not None and track.out is not None
        start_s = frame.time - self._origin_s if frame is not None and frame.time is not None else None
        for out in track.resampler.resample(frame):
            track.out.place(out.to_ndarray().astype(np.float32, copy=False).reshape(2, -1), start_s)
            start_s = None  # what the resampler gives after the first chunk follows on

    # -- closing -----------------------------------------------------------------------------------

    def close(self) -> None:
        """Flush the encoders and finalise the file; SinkError if that fails (the file keeps what was written).

        After a failed write only releases the file (what reached the disk stays); with no frame
        written, removes it (SinkError).
        """
        if self._closed:
            return
        if self.failed:
            self._release()
            return
        if self.frames_written == 0:
            self._discard()
            raise SinkError(f"{self.path}: no frame was written; no output made")
        self._closed = True
        try:
            self._pump_audio(self._end_s)
            for track in self._tracks.values():
                if track.out is not None:
                    self._decode_audio(track, None)  # the decoder's and resampler's tails
                    track.out.finish(self._end_s)
            if self._pushed is not None:
                self._pushed.finish(self._end_s)
            self._mux(self._video.encode(None))
            assert self._output is not None
            self._output.close()
        except (av.FFmpegError, OSError, ValueError) as exc:
            self.failed = reason(exc)
            self._release()
            raise SinkError(f"{self.path}: cannot finalise the output ({self.failed}); kept what was written before, "
                            "playable") from exc
        except BaseException:
            self._discard()
            raise
        finally:
            self._close_audio_source()
        log.info("%s: wrote %d frames (%.3f s)", self.path, self.frames_written, self._end_s)

    def _mux(self, packets: list[av.Packet] | av.Packet) -> None:
        if isinstance(packets, av.Packet) or packets:
            self._touched = True  # FFmpeg (re)creates the file on the first packet
            assert self._output is not None
            self._output.mux(packets)

    def _close_audio_source(self) -> None:
        if self._audio_source is not None:
            self._audio_source.close()
            self._audio_source = None

    def _release(self) -> None:
        """Close without finalising and keep the file (its fragments up to the failure play)."""
        self._closed = True
        self._close_audio_source()
        if self._output is not None:
            try:
                self._output.close()  # tries the trailer; on a full disk that fails too
            except (av.FFmpegError, OSError, ValueError):
                pass
            self._output = None
        log.debug("%s: kept %d frames written before the failure (%s)", self.path, self.frames_written, self.failed)

    def _discard(self) -> None:
        """Close without finalising and delete the file if FFmpeg started writing it."""
        self._closed = True
        self._close_audio_source()
        if self._output is not None:
            try:
                self._output.close()
            except (av.FFmpegError, OSError, ValueError):
                pass
            self._output = None
        if self._touched and os.path.isfile(self.path):
            os.remove(self.path)
