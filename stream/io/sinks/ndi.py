"""The ``ndi:NAME`` output: the dream and its sound as an NDI source (OBS with DistroAV, vMix, Studio Monitor).

Each frame is handed to NDI as RGBX and compressed by the NDI runtime (SpeedHQ) in ``write_video``:
about 1 ms at 640x360 and 4-9 ms at 1280x720 on a 2-core machine (the live pipeline feeds every
output from its own thread). NDI does not pace the frames (``clock_video`` off): the pipeline's
output clock already writes one frame per tick. Frames and sound carry their presentation time as
NDI timecode (100 ns units from the first frame), so a receiver that syncs on timecode lines them up.
"""
from __future__ import annotations

import logging

import cv2
import numpy as np

from engine.errors import SinkError
from stream.io.ndi_lib import load_ndi, output_name
from stream.io.sinks.base import Sink
from stream.settings.encoder import EncoderSettings

log = logging.getLogger(__name__)

_TIMECODE_PER_S = 10_000_000  # NDI times are in 100 ns units


class NdiSink(Sink):
    """An NDI sender named ``ndi_name`` (announced as ``MACHINE (ndi_name)``) at the settings' size and fps."""

    def __init__(self, ndi_name: str, settings: EncoderSettings) -> None:
        super().__init__(f"ndi:{ndi_name}", settings)
        ndi = load_ndi(SinkError, f"output {self.name}")
        self._ndi = ndi
        create = ndi.SendCreate()
        create.ndi_name = ndi_name
        create.clock_video = False
        create.clock_audio = False
        self._sender = ndi.send_create(create)
        if self._sender is None:
            raise SinkError(f"output {self.name}: the NDI runtime could not create a sender")
        source = ndi.send_get_source_name(self._sender)
        self.source_name = str(getattr(source, "ndi_name", None) or ndi_name)
        self._rgbx = np.empty((settings.height, settings.width, 4), np.uint8)  # NDI reads it during the send
        self._video = ndi.VideoFrameV2()
        self._video.FourCC = ndi.FOURCC_VIDEO_TYPE_RGBX
        self._video.frame_rate_N, self._video.frame_rate_D = settings.fps, 1
        self._audio = ndi.AudioFrameV3()
        self._audio.FourCC = ndi.FOURCC_AUDIO_TYPE_FLTP
        self._audio.sample_rate = settings.audio_rate
        self._audio.no_channels = 2
        self._receivers = 0
        log.info("NDI output %s at %dx%d %d fps%s", self.source_name, settings.width, settings.height, settings.fps,
                 " with sound" if settings.audio else "")

    def write_video(self, image: np.ndarray, pts_s: float) -> None:
        self._accept_video(image)
        cv2.cvtColor(image, cv2.COLOR_RGB2RGBA, dst=self._rgbx)
        self._video.data = self._rgbx
        self._video.timecode = round(pts_s * _TIMECODE_PER_S)
        self._ndi.send_send_video_v2(self._sender, self._video)
        self._frames += 1
        if self._frames % (2 * self.settings.fps) == 1:
            self._note_receivers()

    def write_audio(self, samples: np.ndarray, pts_s: float) -> None:
        if not self._accept_audio(samples):
            return
        planar = np.ascontiguousarray(samples, dtype=np.float32)  # (2, N): NDI's planar float layout
        self._audio.no_samples = planar.shape[1]
        self._audio.data = planar
        self._audio.timecode = round(pts_s * _TIMECODE_PER_S)
        self._ndi.send_send_audio_v3(self._sender, self._audio)

    @property
    def receivers(self) -> int:
        """How many NDI receivers are connected now (0 once closed)."""
        return 0 if self._closed else int(self._ndi.send_get_no_connections(self._sender, 0))

    def _note_receivers(self) -> None:
        """Log when receivers come and go (checked every two seconds of frames)."""
        count = self.receivers
        if count != self._receivers:
            log.info("NDI output %s: %d receiver%s", self.source_name, count, "" if count == 1 else "s")
            self._receivers = count

    def _finish(self) -> None:
        self._ndi.send_destroy(self._sender)
        log.info("NDI output %s closed after %d frames", self.source_name, self._frames)


def open_ndi(spec: str, settings: EncoderSettings) -> NdiSink:
    """The sink for ``ndi:NAME`` (SinkError for a bad NAME or a missing binding)."""
    return NdiSink(output_name(spec, SinkError), settings)


__all__ = ["NdiSink", "open_ndi"]
