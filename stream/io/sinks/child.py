"""Network outputs in a child process, so FFmpeg's blocking connect can never stop the pipeline.

PyAV opens an output URL (``avio_open``: TCP connect and RTMP handshake) holding the GIL and
with no timeout, so an ingest that accepts the connection but never answers would freeze every
thread of the process for good, the other outputs and the recording included. A
:class:`ChildSink` runs one :class:`~stream.sinks.AvSink` in a child process
(``python -m stream.io.sinks.child``) and feeds it raw frames over a pipe. A child that has not
answered within ``open_timeout_s``, or that stops reading for ``stall_s`` mid-stream (a
receiver that stopped reading), is killed and reported as a :class:`SinkError`, which
:class:`~stream.sinks.ReconnectingSink` retries with backoff. Encoding moves to the child too.

The pipe protocol: one JSON line with the output's description (the stream key travels here,
never in argv or the environment), then messages of :data:`HEADER` (kind ``b"v"`` or ``b"a"``,
pts in seconds, two dimensions) followed by the payload: uint8 RGB ``(H, W, 3)`` for video,
float32 ``(2, N)`` for audio. The child answers JSON lines: ``{"ok": true}`` once open, or
``{"error": "<one redacted line>"}`` before it exits. Closing the pipe finishes the output.
"""
from __future__ import annotations

import dataclasses
import json
import logging
import os
import select
import struct
import subprocess
import sys
import time
from collections.abc import Iterable

import numpy as np

from engine.errors import SinkError
from stream.io.child_env import child_env
from stream.io.sinks.base import Sink
from stream.io.sinks.encode import AvSink
from stream.settings.encoder import EncoderSettings

log = logging.getLogger(__name__)

HEADER = struct.Struct("<cdII")  # kind, pts_s, dim0, dim1


class ChildSink(Sink):
    """An :class:`AvSink` (network output) encoding and connecting in a child process.

    Opening waits for the child's connection (SinkError if refused, or if no answer comes
    within ``open_timeout_s``). Writes raise SinkError when the child failed or stopped
    reading for ``stall_s``; the child is then killed. Wrap in ``ReconnectingSink``.
    """

    def __init__(
        self,
        target: str,
        settings: EncoderSettings,
        *,
        format: str,
        name: str,
        container_options: dict[str, str] | None = None,
        secrets: Iterable[str] = (),
        open_timeout_s: float = 10.0,
        stall_s: float = 10.0,
        close_timeout_s: float = 5.0,
    ) -> None:
        super().__init__(name, settings)
        self._stall_s = stall_s
        self._close_timeout_s = close_timeout_s
        self._failed = False
        secrets = list(secrets)
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "stream.io.sinks.child"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, start_new_session=True,  # Ctrl-C is the parent's
            env=child_env(secrets),  # the key travels in the pipe only, never in /proc/PID/environ
        )
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._in = self._proc.stdin.fileno()
        self._out = self._proc.stdout.fileno()
        os.set_blocking(self._in, False)
        description = {"target": target, "format": format, "name": name, "container_options": container_options or {},
                       "secrets": list(secrets), "settings": dataclasses.asdict(settings)}
        try:
            self._send(json.dumps(description).encode() + b"\n", open_timeout_s)
            answer = self._answer(open_timeout_s)
        except SinkError:
            answer = None
        if answer is None or "ok" not in answer:
            self._kill()
            if answer is not None:
                raise SinkError(answer.get("error", f"cannot open output {name}"))
            raise SinkError(f"cannot open output {name}: no answer within {open_timeout_s:g} s")
        log.info("output %s open (%dx%d %d fps, %d kbps, encoder process %d)", name, settings.width,
                 settings.height, settings.fps, settings.video_bitrate_kbps, self._proc.pid)

    def write_video(self, image: np.ndarray, pts_s: float) -> None:
        self._accept_video(image)
        self._message(b"v", pts_s, np.ascontiguousarray(image, dtype=np.uint8))
        self._frames += 1

    def write_audio(self, samples: np.ndarray, pts_s: float) -> None:
        if self._accept_audio(samples):
            self._message(b"a", pts_s, np.ascontiguousarray(samples, dtype=np.float32))

    def _message(self, kind: bytes, pts_s: float, data: np.ndarray) -> None:
        if self._closed or self._failed:
            raise SinkError(f"output {self.name} is closed")
        self._send(HEADER.pack(kind, pts_s, *data.shape[:2]), self._stall_s)
        self._send(memoryview(data).cast("B"), self._stall_s)

    def _send(self, data: bytes | memoryview, stall_s: float) -> None:
        """Write all of ``data`` to the child; SinkError if it takes no byte for ``stall_s``."""
        view = memoryview(data)
        deadline = time.monotonic() + stall_s
        while view:
            try:
                view = view[os.write(self._in, view):]
                deadline = time.monotonic() + stall_s
            except BlockingIOError:
                left = deadline - time.monotonic()
                if left <= 0:
                    self._fail()
                    raise SinkError(f"output {self.name} stalled: nothing was taken for {stall_s:g} s") from None
                select.select([], [self._in], [], min(left, 0.5))
            except OSError:  # the child ended: it says why on its way out
                answer = self._answer(1.0)
                self._fail()
                reason = answer.get("error") if answer else None
                raise SinkError(reason or f"output {self.name} failed: its encoder process ended") from None

    def _answer(self, timeout_s: float) -> dict | None:
        """The child's next JSON line, or None if none comes within ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        line = b""
        while not line.endswith(b"\n"):
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._out], [], [], left)[0]:
                return None
            chunk = os.read(self._out, 4096)
            if not chunk:
                return None
            line += chunk
        try:
            return json.loads(line.splitlines()[0])
        except ValueError:
            return None

    def _fail(self) -> None:
        self._failed = True
        self._kill()

    def _kill(self) -> None:
        if self._proc.poll() is None:
            self._proc.kill()
        self._proc.wait()
        self._close_pipes()

    def _close_pipes(self) -> None:
        for pipe in (self._proc.stdin, self._proc.stdout):
            try:
                if pipe is not None:
                    pipe.close()
            except OSError:
                pass

    def _finish(self) -> None:
        """Finish the output: the child flushes its encoders and ends (killed after ``close_timeout_s``)."""
        if self._failed:
            return
        try:
            assert self._proc.stdin is not None
            self._proc.stdin.close()
        except OSError:
            pass
        try:
            self._proc.wait(self._close_timeout_s)
        except subprocess.TimeoutExpired:
            log.warning("output %s did not finish within %.1f s; stopping it", self.name, self._close_timeout_s)
            self._proc.kill()
            self._proc.wait()
        self._close_pipes()
        log.info("output %s closed after %d frames", self.name, self._frames)


# --------------------------------------------------------------------------- the child


def _read_exact(stream, size: int) -> bytes | None:  # noqa: ANN001 - a binary file
    data = stream.read(size)
    return data if data is not None and len(data) == size else None


def _report(answer: dict) -> None:
    try:
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()
    except OSError:  # the parent is gone
        pass


def child_main() -> int:
    """Run one output: read its description and then frames from stdin until it closes."""
    logging.basicConfig(level=logging.WARNING, format="dreamstream: %(message)s")
    stdin = sys.stdin.buffer
    description = json.loads(stdin.readline())
    settings = EncoderSettings(**description["settings"])
    try:
        sink = AvSink(description["target"], settings, format=description["format"], name=description["name"],
                      live=True, container_options=description["container_options"], secrets=description["secrets"])
    except SinkError as e:
        _report({"error": str(e)})
        return 1
    _report({"ok": True})
    try:
        while (header := _read_exact(stdin, HEADER.size)) is not None:
            kind, pts_s, dim0, dim1 = HEADER.unpack(header)
            if kind == b"v":
                payload = _read_exact(stdin, dim0 * dim1 * 3)
                if payload is None:
                    break
                sink.write_video(np.frombuffer(payload, np.uint8).reshape(dim0, dim1, 3), pts_s)
            else:
                payload = _read_exact(stdin, dim0 * dim1 * 4)
                if payload is None:
                    break
                sink.write_audio(np.frombuffer(payload, np.float32).reshape(dim0, dim1), pts_s)
    except SinkError as e:
        _report({"error": str(e)})
        return 1
    finally:
        sink.close()
    return 0


if __name__ == "__main__":
    sys.exit(child_main())
