"""Audio routing of the writer: which codecs are copied into which container, and a source track's route."""
from __future__ import annotations

from dataclasses import dataclass

import av

from stream.io.encoding import AUDIO_LAYOUT, AudioOut
from stream.settings.encoder import AUDIO_RATE

#: Audio codecs copied packet by packet into each container (ones that players broadly accept there).
#: Anything else is decoded and re-encoded (AAC, or Opus for WebM).
COPY_AUDIO: dict[str, frozenset[str]] = {
    "mp4": frozenset({"aac", "mp3", "ac3", "eac3", "alac", "opus", "flac"}),
    "mov": frozenset({"aac", "mp3", "ac3", "eac3", "alac", "pcm_s16le", "pcm_s16be", "pcm_s24le", "pcm_s24be"}),
    "matroska": frozenset(
        {"aac", "mp3", "ac3", "eac3", "dts", "truehd", "opus", "vorbis", "flac", "alac", "pcm_s16le", "pcm_s24le",
         "pcm_s32le", "pcm_f32le"}
    ),
    "webm": frozenset({"opus", "vorbis"}),
    "flv": frozenset({"aac", "mp3"}),
    "mpegts": frozenset({"aac", "mp3", "mp2", "ac3", "eac3"}),
}


@dataclass(frozen=True)
class AudioRoute:
    """How one audio stream of ``audio_from`` reaches the output."""

    source_index: int
    source_codec: str
    output_codec: str
    copied: bool  # packets copied as they are (no decode, no re-encode)


class AudioTrack:
    """One source audio stream and its output stream; copies packets or decodes, resamples and places them."""

    def __init__(self, source: av.audio.stream.AudioStream, output: av.audio.stream.AudioStream, copied: bool,
                 out: AudioOut | None) -> None:
        self.source = source
        self.output = output
        self.copied = copied
        self.resampler = None if copied else av.AudioResampler(format="fltp", layout=AUDIO_LAYOUT, rate=AUDIO_RATE)
        self.out = out  # the placement on the output clock (re-encoded tracks)
