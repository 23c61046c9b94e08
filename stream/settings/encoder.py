"""What every output encodes."""
from __future__ import annotations

from dataclasses import dataclass

from engine.errors import ConfigError, did_you_mean

#: The sample rate of every decoded input and generated sound (stereo float32), and the default output rate.
AUDIO_RATE = 48000

X264_PRESETS = (
    "ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow",
)


@dataclass(frozen=True)
class EncoderSettings:
    """What every output encodes: H.264 (yuv420p) + AAC stereo.

    ``threads`` is libx264's thread count (1 leaves the cores to the dream; 0 = auto).
    ``audio=False`` writes a video-only output.
    """

    width: int
    height: int
    fps: int
    video_bitrate_kbps: int = 2500
    preset: str = "veryfast"
    keyframe_interval_s: float = 2.0
    audio_bitrate_kbps: int = 128
    audio_rate: int = AUDIO_RATE
    audio: bool = True
    threads: int = 1

    def __post_init__(self) -> None:
        def bad(key: str, allowed: str) -> ConfigError:
            return ConfigError(f"encoder {key}={getattr(self, key)!r} is out of range; allowed: {allowed}")

        for key in ("width", "height"):
            value = getattr(self, key)
            if not isinstance(value, int) or value < 16 or value > 7680 or value % 2:
                raise bad(key, "an even integer from 16 to 7680")
        if not isinstance(self.fps, int) or not 1 <= self.fps <= 240:
            raise bad("fps", "an integer from 1 to 240")
        if not 100 <= self.video_bitrate_kbps <= 100_000:
            raise bad("video_bitrate_kbps", "100 to 100000")
        if self.preset not in X264_PRESETS:
            raise ConfigError(
                f"encoder preset={self.preset!r} is unknown; allowed: {', '.join(X264_PRESETS)}"
                + did_you_mean(self.preset, X264_PRESETS)
            )
        if not 0.1 <= self.keyframe_interval_s <= 20.0:
            raise bad("keyframe_interval_s", "0.1 to 20 seconds")
        if not 32 <= self.audio_bitrate_kbps <= 512:
            raise bad("audio_bitrate_kbps", "32 to 512")
        if self.audio_rate not in (44100, AUDIO_RATE):
            raise bad("audio_rate", "44100 or 48000")
        if not isinstance(self.threads, int) or not 0 <= self.threads <= 64:
            raise bad("threads", "0 (auto) to 64")

    @property
    def keyframe_interval_frames(self) -> int:
        """GOP length in frames (``g`` and ``keyint_min``)."""
        return max(1, round(self.keyframe_interval_s * self.fps))
