"""Who dreams the chunks: this process (:class:`LocalPool`) or Ray actors (:class:`RayPool`).

Both are started (:meth:`start`), run the chunks (:meth:`run`) and are stopped (:meth:`stop`). ``run``
calls ``on_done(result)`` for each finished chunk and ``on_frames(n)`` as frames are kept (``n`` < 0
takes back the frames of a chunk whose worker died). Ray is imported only by :class:`RayPool`; it is
the optional extra ``dreamstream[ray]``.

Ray's start forks this process several times (its GCS, raylet, monitor and agents). A fork while
another thread of this process runs can leave the child deadlocked before it execs: the child
clears the other threads' frames, and what they held (an FFmpeg scaler with worker threads, a
lock) cannot be freed there. So a render starts its pool before any thread of its own (the join
thread, a progress bar's monitor), and :meth:`RayPool.start` collects garbage first and gives up
with one line when Ray has not started within ``start_timeout_s``.
"""
from __future__ import annotations

import contextlib
import gc
import logging
import os
import signal
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from engine.errors import DreamError
from stream.io.signals import handling
from stream.render.chunks import Chunk
from stream.render.errors import RenderError
from stream.render.worker import ChunkDreamer, ChunkJob, ChunkResult
from stream.settings.loader import Config

log = logging.getLogger(__name__)

OnDone = Callable[[ChunkResult], None]
OnFrames = Callable[[int], None]
#: Called with each chunk handed to a Ray worker and that worker's process id (tests kill it).
OnAssign = Callable[[Chunk, int], None]


class LocalPool:
    """Dreams the chunks one after another in this process (``--workers 1``; no Ray)."""

    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg

    def start(self) -> None:
        """Nothing to start: the chunks are dreamed in :meth:`run`."""

    def stop(self) -> None:
        """Nothing to stop."""

    def run(self, job: ChunkJob, chunks: Sequence[Chunk], on_done: OnDone, on_frames: OnFrames) -> None:
        dreamer = ChunkDreamer(self.cfg)
        log.info("dreaming with %s", dreamer.label)
        for chunk in chunks:
            on_done(dreamer.dream(job, chunk, on_frame=lambda: on_frames(1)))


class _RemoteDreamer:
    """The Ray actor: a :class:`ChunkDreamer`, or the DreamError that building it raised (re-raised per chunk)."""

    def __init__(self, cfg: Config, threads: int) -> None:
        self.error: DreamError | None = None
        try:
            self.dreamer: ChunkDreamer | None = ChunkDreamer(cfg, threads)
        except DreamError as exc:
            self.dreamer, self.error = None, exc

    def pid(self) -> int:
        return os.getpid()

    def progress(self) -> tuple[int, int]:
        return self.dreamer.progress() if self.dreamer is not None else (-1, 0)

    def dream(self, job: ChunkJob, chunk: Chunk) -> ChunkResult:
        if self.dreamer is None:
            assert self.error is not None
            raise self.error
        return self.dreamer.dream(job, chunk)


def import_ray() -> Any:
    try:
        import ray
    except ImportError as exc:
        raise RenderError(
            '--workers N > 1 and --ray-address need Ray; install it with pip install "dreamstream[ray]"'
        ) from exc
    return ray


class RayPool:
    """Dreams the chunks on ``workers`` Ray actors (0: one per GPU, else per machine), each loading the model once.

    ``address``: an existing cluster ("auto" or host:port); None starts a local one, unless this
    process already called ``ray.init``. A worker that dies has its chunk retried on a fresh actor,
    up to ``max_retries`` times per chunk; then :class:`RenderError`. A DreamError raised in a worker
    (bad weights on that machine, an unreadable input) ends the render with that error.
    """

    def __init__(
        self,
        cfg: Config,
        workers: int,
        address: str | None = None,
        max_retries: int = 2,
        on_assign: OnAssign | None = None,
        poll_s: float = 0.5,
        start_timeout_s: float = 60.0,
    ) -> None:
        self.cfg, self.workers, self.address = cfg, workers, address
        self.max_retries, self.on_assign, self.poll_s = max_retries, on_assign, poll_s
        self.start_timeout_s = start_timeout_s
        self.ray = import_ray()
        self._started = False  # this pool started Ray (and stops it)
        self._children_before: set[int] = set()  # processes of ours before Ray's start

    def start(self) -> None:
        """Start or join Ray, unless this process already has (then :meth:`stop` leaves it running).

        Call it before starting any thread (see the module). Raises :class:`RenderError` with one line
        when Ray refuses or has not started within ``start_timeout_s`` (then what it started is ended).
        """
        import psutil  # a dependency of Ray

        ray = self.ray
        if ray.is_initialized():
            return
        kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False, "logging_level": logging.ERROR}
        if self.address is None:
            kwargs["num_cpus"] = os.cpu_count() or 1
        else:
            kwargs["address"] = self.address
        where = self.address or "a local cluster"
        others = [t.name for t in threading.enumerate() if t is not threading.current_thread() and t.is_alive()]
        if others:  # a bug of ours: say so, since the start may hang
            log.warning("starting Ray beside other threads (%s); its start may deadlock", ", ".join(others))
        log.info("starting Ray (%s)", where)
        gc.collect()  # nothing left for a child to free before it execs
        self._children_before = {p.pid for p in psutil.Process().children(recursive=True)}
        began = time.monotonic()
        try:
            with _deadline(self.start_timeout_s):
                ray.init(**kwargs)
        except _StartTimeout:
            self._end_start()
            raise RenderError(
                f"Ray did not start on {where} within {self.start_timeout_s:g} s; nothing was dreamed and the finished "
                "chunks are kept: run the same command again (`ray stop` ends a Ray left behind)"
            ) from None
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise RenderError(f"cannot start Ray on {where}: {' '.join(str(exc).split())[:200]}") from exc
        self._started = True
        log.info("Ray started in %.1f s", time.monotonic() - began)

    def stop(self) -> None:
        """Shut down the Ray that :meth:`start` started (a cluster joined or found running stays up)."""
        if self._started:
            self._started = False
            self.ray.shutdown()

    def _end_start(self) -> None:
        """After a start that timed out: shut Ray down and end the processes it started and left (a child stuck
        before its exec is not Ray's yet)."""
        import psutil

        with contextlib.suppress(Exception):  # Ray half started: whatever it can end
            self.ray.shutdown()
        for child in psutil.Process().children(recursive=True):
            if child.pid not in self._children_before:
                with contextlib.suppress(psutil.Error):
                    child.kill()

    def _worker_count(self) -> int:
        """``workers``, or (0) one per GPU of the cluster, else one per machine."""
        if self.workers > 0:
            return self.workers
        gpus = int(self.ray.cluster_resources().get("GPU", 0))
        return gpus or max(1, sum(1 for node in self.ray.nodes() if node.get("Alive")))

    def _actor_options(self) -> dict[str, Any]:
        """Resources per actor: a GPU each where the cluster has them (and the device allows), else a share of the
        CPUs."""
        resources = self.ray.cluster_resources()
        gpus, cpus = resources.get("GPU", 0), resources.get("CPU", 1)
        device = self.cfg.model.device
        root = str(Path(__file__).resolve().parents[2])  # the code this process runs, first on the workers' path
        path = os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH", "")) if p)
        options: dict[str, Any] = {"max_concurrency": 2, "runtime_env": {"env_vars": {"PYTHONPATH": path}}}
        if gpus >= 1 and (device == "auto" or device.startswith("cuda")):
            options.update(num_gpus=1, num_cpus=1)
            self.threads = self.cfg.model.threads
        else:
            share = max(1, int(cpus // self.workers))
            options.update(num_cpus=share)
            self.threads = self.cfg.model.threads or share
        return options

    def run(self, job: ChunkJob, chunks: Sequence[Chunk], on_done: OnDone, on_frames: OnFrames) -> None:
        """Dream ``chunks`` on the actors (after :meth:`start`)."""
        ray = self.ray
        from ray.exceptions import GetTimeoutError, RayActorError, RayTaskError

        self.workers = self._worker_count()
        remote = ray.remote(_RemoteDreamer).options(**self._actor_options())
        spawn = lambda: remote.remote(self.cfg, self.threads)
        idle = [spawn() for _ in range(min(self.workers, len(chunks)))]
        queue = deque(chunks)
        running: dict[Any, tuple[Any, Chunk]] = {}  # object ref -> (actor, chunk)
        seen: dict[int, int] = {}  # chunk index -> kept frames reported so far
        deaths: Counter[int] = Counter()
        log.info("dreaming %d chunks on %d Ray workers (%s)", len(chunks), len(idle), self.address or "local")
        try:
            while queue or running:
                while idle and queue:
                    actor, chunk = idle.pop(), queue.popleft()
                    running[actor.dream.remote(job, chunk)] = (actor, chunk)
                    seen[chunk.index] = 0
                    if self.on_assign is not None:
                        self.on_assign(chunk, ray.get(actor.pid.remote()))
                ready, _ = ray.wait(list(running), num_returns=1, timeout=self.poll_s)
                for ref in ready:
                    actor, chunk = running.pop(ref)
                    try:
                        result = ray.get(ref)
                    except RayTaskError as exc:
                        cause = exc.cause
                        if isinstance(cause, DreamError):
                            raise cause from None
                        raise RenderError(
                            f"{chunk.describe()} failed on a worker: {type(cause).__name__}: {cause}"
                        ) from None
                    except RayActorError as exc:
                        on_frames(-seen.pop(chunk.index, 0))
                        deaths[chunk.index] += 1
                        why = " ".join(str(exc).split())[:160]
                        if deaths[chunk.index] > self.max_retries:
                            raise RenderError(
                                f"{chunk.describe()}: its worker died {deaths[chunk.index]} times "
                                f"(retry limit {self.max_retries}); last: {why}"
                            ) from None
                        log.warning(
                            "%s: worker died (%s); retrying on a new worker (%d of %d)",
                            chunk.describe(),
                            why,
                            deaths[chunk.index],
                            self.max_retries,
                        )
                        queue.appendleft(chunk)
                        idle.append(spawn())
                        continue
                    on_frames(result.frames - seen.pop(chunk.index, 0))
                    on_done(result)
                    idle.append(actor)
                self._poll(running, seen, on_frames, GetTimeoutError, RayActorError)
        finally:
            for actor in idle + [a for a, _ in running.values()]:
                ray.kill(actor)

    def _poll(self, running: dict[Any, tuple[Any, Chunk]], seen: dict[int, int], on_frames: OnFrames,
              *errors: type[BaseException]) -> None:
        """Move the progress bar by the frames each running worker has kept since the last poll."""
        for actor, chunk in list(running.values()):
            try:
                index, kept = self.ray.get(actor.progress.remote(), timeout=self.poll_s)
            except errors:
                continue
            if index == chunk.index and kept > seen.get(chunk.index, kept):
                on_frames(kept - seen[chunk.index])
                seen[chunk.index] = kept


class _StartTimeout(BaseException):
    """Raised by :func:`_deadline`'s alarm (a BaseException, so that no ``except Exception`` in Ray swallows it)."""


@contextlib.contextmanager
def _deadline(seconds: float) -> Iterator[None]:
    """Raise :class:`_StartTimeout` in the block after ``seconds`` (SIGALRM: main thread only; elsewhere no limit).

    A signal, not a watchdog thread: no thread may run beside Ray's start (see the module).
    """

    def expire(signum: int, frame: object) -> None:
        raise _StartTimeout()

    with handling(expire, signal.SIGALRM) as installed:
        if not installed or seconds <= 0:
            yield
            return
        signal.setitimer(signal.ITIMER_REAL, seconds)
        try:
            yield
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)

