"""What every output encodes."""
from __future__ import annotations

from dataclasses import dataclass

from engine.errors import ConfigError
from engine.fields import Rule, check_fields, setting

#: The sample rate of every decoded input and generated sound (stereo float32), and the default output rate.
AUDIO_RATE = 48000

X264_PRESETS = (
    "ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow",
)
#: The rules an encoder and the live section's encoder keys share.
VIDEO_BITRATE = Rule(100, 100_000)
AUDIO_BITRATE = Rule(32, 512)
KEYFRAME_INTERVAL = Rule(0.1, 20.0)
PRESET = Rule(choices=X264_PRESETS)


@dataclass(frozen=True)
class EncoderSettings:
    """What every output encodes: H.264 (yuv420p) + AAC stereo.

    ``threads`` is libx264's thread count (1 leaves the cores to the dream; 0 = auto).
    ``audio=False`` writes a video-only output.
    """

    width: int = setting(rule=Rule(16, 7680, even=True), help="frame width (a video file's may be up to 7680)")
    height: int = setting(rule=Rule(16, 7680, even=True), help="frame height")
    fps: int = setting(rule=Rule(1, 240), help="frames a second")
    video_bitrate_kbps: int = setting(2500, VIDEO_BITRATE, "H.264 bitrate")
    preset: str = setting("veryfast", PRESET, "x264 speed preset")
    keyframe_interval_s: float = setting(2.0, KEYFRAME_INTERVAL, "seconds between keyframes")
    audio_bitrate_kbps: int = setting(128, AUDIO_BITRATE, "AAC bitrate")
    audio_rate: int = setting(AUDIO_RATE, Rule(choices=(44100, AUDIO_RATE)), "audio sample rate")
    audio: bool = setting(True, help="false: a video-only output")
    threads: int = setting(1, Rule(0, 64), "libx264 threads (1 leaves the cores to the dream; 0 = auto)")

    def __post_init__(self) -> None:
        for key in ("width", "height", "fps", "threads"):
            if not isinstance(getattr(self, key), int) or isinstance(getattr(self, key), bool):
                raise ConfigError(f"encoder {key}: {getattr(self, key)!r} is not a whole number")
        check_fields(self, "encoder ")

    @property
    def keyframe_interval_frames(self) -> int:
        """GOP length in frames (``g`` and ``keyint_min``)."""
        return max(1, round(self.keyframe_interval_s * self.fps))
