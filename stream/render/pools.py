"""Who dreams the chunks: this process (:class:`LocalPool`) or Ray actors (:class:`RayPool`).

Both call ``on_done(result)`` for each finished chunk and ``on_frames(n)`` as frames are kept
(``n`` < 0 takes back the frames of a chunk whose worker died). Ray is imported only by
:class:`RayPool`; it is the optional extra ``dreamstream[ray]``.
"""
from __future__ import annotations

import logging
import os
from collections import Counter, deque
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from engine.errors import DreamError
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
        raise RenderError('--workers N > 1 and --ray-address need Ray; install it with pip install "dreamstream[ray]"') from exc
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
    ) -> None:
        self.cfg, self.workers, self.address = cfg, workers, address
        self.max_retries, self.on_assign, self.poll_s = max_retries, on_assign, poll_s
        self.ray = import_ray()

    def _connect(self) -> bool:
        """Start or join Ray; True when this pool started it (and shuts it down)."""
        ray = self.ray
        if ray.is_initialized():
            return False
        kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False, "logging_level": logging.ERROR}
        if self.address is None:
            kwargs["num_cpus"] = os.cpu_count() or 1
        else:
            kwargs["address"] = self.address
        try:
            ray.init(**kwargs)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            where = self.address or "a local cluster"
            raise RenderError(f"cannot start Ray on {where}: {' '.join(str(exc).split())[:200]}") from exc
        return True

    def _worker_count(self) -> int:
        """``workers``, or (0) one per GPU of the cluster, else one per machine."""
        if self.workers > 0:
            return self.workers
        gpus = int(self.ray.cluster_resources().get("GPU", 0))
        return gpus or max(1, sum(1 for node in self.ray.nodes() if node.get("Alive")))

    def _actor_options(self) -> dict[str, Any]:
        """Resources per actor: a GPU each where the cluster has them (and the device allows), else a share of the CPUs."""
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
        ray = self.ray
        started = self._connect()
        try:
            self._run(job, chunks, on_done, on_frames)
        finally:
            if started:
                ray.shutdown()

    def _run(self, job: ChunkJob, chunks: Sequence[Chunk], on_done: OnDone, on_frames: OnFrames) -> None:
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
                        raise RenderError(f"{chunk.describe()} failed on a worker: {type(cause).__name__}: {cause}") from None
                    except RayActorError as exc:
                        on_frames(-seen.pop(chunk.index, 0))
                        deaths[chunk.index] += 1
                        why = " ".join(str(exc).split())[:160]
                        if deaths[chunk.index] > self.max_retries:
                            raise RenderError(
                                f"{chunk.describe()}: its worker died {deaths[chunk.index]} times "
                                f"(retry limit {self.max_retries}); last: {why}"
                            ) from None
                        log.warning("%s: worker died (%s); retrying on a new worker (%d of %d)",
                                    chunk.describe(), why, deaths[chunk.index], self.max_retries)
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
