"""A chunked, resumable render of a video file: ``dreamstream video IN OUT --workers N | --resume``.

1. Check everything the user gave (settings, input, output) before any worker starts.
2. One pass over the input finds every frame's timestamp and the scene cuts (:mod:`.scan`);
   the frames are planned into chunks (:mod:`.chunks`) and recorded in ``OUT.parts/manifest.json``.
   A manifest with the same settings and input is reused: its finished chunks are not dreamed again.
3. Workers (this process, or Ray actors) dream the remaining chunks into ``OUT.parts/``.
4. Meanwhile a thread joins the chunks into OUT with the input's timestamps and sound, each as soon
   as it and every chunk before it are done, so only the last chunks' join is left when the dreaming
   ends. The work folder is removed unless ``keep_parts``.

Ctrl-C or SIGTERM stop the workers; the chunks finished from the start on are joined into OUT
(a playable file) and the work folder is kept for the next run. An error (a full disk, a worker
that keeps dying) keeps the work folder too, and OUT with what was joined so far.
"""
from __future__ import annotations

import contextlib
import dataclasses
import logging
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.errors import EXIT_INTERRUPTED, EXIT_TERMINATED, SinkError
from stream.io.progress import progress_bar
from stream.io.video.info import VideoSpec
from stream.io.video.probing import probe
from stream.io.video.writer import VideoWriter
from stream.render.chunks import Chunk, chunk_frames, plan_chunks
from stream.render.join import JoinThread
from stream.render.manifest import Manifest, file_hash, read_manifest, settings_hash, write_manifest
from stream.render.pools import LocalPool, OnAssign, RayPool
from stream.render.scan import Window, scan_input
from stream.render.video import Terminated, signals_ignored, sigterm_raises
from stream.render.worker import ChunkJob, ChunkResult
from stream.settings.loader import Config

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RenderOptions:
    """How a chunked render runs (not what it dreams: that is the config)."""

    workers: int = 1
    ray_address: str | None = None  # "auto" or host:port; None = local (Ray only when workers > 1)
    keep_parts: bool = False
    crf: int = 18
    max_retries: int = 2
    on_assign: OnAssign | None = None  # Ray workers only: (chunk, worker pid) as each chunk starts

    @property
    def uses_ray(self) -> bool:
        return self.workers > 1 or self.ray_address is not None


@dataclass
class RenderRun:
    """What :func:`render_chunked` did."""

    frames: int = 0  # frames in the output
    chunks: int = 0
    reused: int = 0  # chunks taken from an earlier run
    results: list[ChunkResult] = field(default_factory=list)  # chunks dreamed by this run
    scan_seconds: float = 0.0
    dream_seconds: float = 0.0
    join_seconds: float = 0.0  # joining left after the dreaming ended (the rest ran beside it)
    join_total_seconds: float = 0.0  # all the joining, beside the dreaming and after it
    interrupted: int | None = None  # 130 (Ctrl-C) or 143 (SIGTERM)
    parts: Path | None = None
    truncated: bool = False  # the input ended (or broke) before its header said it would


class _NothingToJoin(Exception):
    """Leaves the output writer's block with no frame written, so that it removes the file."""


def parts_folder(output: str | Path) -> Path:
    """The work folder beside ``output``: ``OUT.parts``."""
    return Path(str(output) + ".parts")


def job_identity(cfg: Config, window: Window) -> dict[str, Any]:
    """Everything that shapes the dreamed frames and the chunks (not threads, device, workers or the output's crf)."""
    model = {k: v for k, v in dataclasses.asdict(cfg.model).items() if k not in ("threads", "device")}
    return {
        "model": model,
        "dream": dataclasses.asdict(cfg.dream),
        "class_dream": dataclasses.asdict(cfg.class_dream),
        "video": dataclasses.asdict(cfg.section("video")),
        "window": dataclasses.asdict(window),
    }


def _bar(total: int, initial: int, desc: str) -> Any:
    return progress_bar(total, "frame", initial=initial, desc=desc, smoothing=0.1)


def _plan(cfg: Config, source: str, window: Window, parts: Path, run: RenderRun) -> Manifest:
    """The manifest to work from: the earlier run's when it matches (``run.reused`` its done chunks)."""
    settings = cfg.section("video")
    size, digest = file_hash(source)
    key = settings_hash(job_identity(cfg, window))
    old = read_manifest(parts)
    if old is not None and (old.input_size, old.input_hash, old.settings_hash) == (size, digest, key):
        missing = [i for i in old.done if not (parts / old.chunks[i].name).is_file()]
        for i in missing:
            del old.done[i]
        run.reused = len(old.done)
        return old
    if old is not None:
        what = "the input" if (old.input_size, old.input_hash) != (size, digest) else "the settings"
        log.warning("%s: %s changed since the last run; starting over", parts, what)
    if parts.is_dir():
        shutil.rmtree(parts)
    bar = _bar(0, 0, "scanning")
    began = time.monotonic()
    try:
        info, scan = scan_input(source, window, settings, progress=lambda n: bar.update(n - bar.n))
    finally:
        bar.close()
    run.scan_seconds = time.monotonic() - began
    overlap = settings.chunk_overlap if settings.flow != "none" else 0  # nothing is carried without flow
    chunks = plan_chunks(scan.frames, scan.cuts, chunk_frames(settings.chunk_s, float(info.fps)), overlap)
    manifest = Manifest(key, size, digest, scan, chunks)
    parts.mkdir(parents=True, exist_ok=True)
    write_manifest(parts, manifest)
    log.info(
        "%s: %d frames, %d scene cuts, %d chunks (%d lead-in frames)",
        source, scan.frames, len(scan.cuts), len(chunks), sum(c.lead_in for c in chunks),
    )
    return manifest


def render_chunked(cfg: Config, source: str, output: str, window: Window, options: RenderOptions) -> RenderRun:
    """Dream ``source`` into ``output`` in chunks (see the module); returns what was done."""
    from stream.io.dreaming import check_objective

    run = RenderRun()
    check_objective(cfg.model)  # typos in layers, targets, devices: before anything is read
    info = probe(source)
    parts = parts_folder(output)
    if parts.exists() and not parts.is_dir():
        raise SinkError(f"{parts}: exists and is not a folder; the render needs it for its chunks")
    pool = (
        RayPool(cfg, options.workers, options.ray_address, options.max_retries, options.on_assign)
        if options.uses_ray
        else LocalPool(cfg)
    )
    run.parts = parts
    try:
        with sigterm_raises(), _output(output, info, options.crf, source) as writer:
            manifest = _plan(cfg, source, window, parts, run)
            run.truncated = manifest.scan.truncated
            if run.reused:
                frames = sum(manifest.done.values())
                log.info(
                    "%s: reusing %d of %d finished chunks (%d frames)", parts, run.reused, len(manifest.chunks), frames
                )
            run.chunks = len(manifest.chunks)
            # Chunks hold upright frames (a rotated input's display rotation undone); the output is tagged as the input.
            spec = VideoSpec(info.display_width, info.display_height, info.fps, info.time_base)
            job = ChunkJob(source, str(parts), manifest.scan, spec)
            joining = JoinThread(job, manifest.chunks, writer)  # its thread starts with the first chunk offered
            try:
                try:
                    _dream(pool, job, manifest, parts, run, joining)
                finally:  # what stopped workers left is of no use, and its room may be needed (a full disk)
                    for partial in parts.glob("*.partial.mkv"):
                        partial.unlink(missing_ok=True)
                joining.offer(manifest.done)  # with nothing to dream: the reused chunks
                _finish_join(joining, manifest, run)
            except SinkError as exc:  # a full disk: say what is kept
                joining.drain()
                raise SinkError(
                    f"{exc}; {len(manifest.done)} of {len(manifest.chunks)} chunks done and kept in {parts}: "
                    "run the same command again to go on"
                ) from exc
            except BaseException:
                joining.drain()
                raise
            if not run.frames:
                raise _NothingToJoin()
    except _NothingToJoin:
        return run
    if run.interrupted is None and not options.keep_parts:
        shutil.rmtree(parts, ignore_errors=True)
    return run


@contextlib.contextmanager
def _output(path: str, info: Any, crf: int, source: str) -> Iterator[VideoWriter]:
    """The output writer, finalised on the way out, also by an exception (with no frame written: removed).

    When an exception ends the block, an error while finalising (the same full disk) is only logged:
    the first error says what went wrong.
    """
    writer = VideoWriter(path, info, crf=crf, audio_from=source)
    try:
        yield writer
    except BaseException as exc:
        try:
            writer.__exit__(type(exc), exc, exc.__traceback__)
        except SinkError as late:
            log.debug("%s", late)
        raise
    writer.close()


def _dream(pool: LocalPool | RayPool, job: ChunkJob, manifest: Manifest, parts: Path, run: RenderRun,
           joining: JoinThread) -> None:
    """Dream the chunks not done yet, recording each in the manifest as it finishes and offering it to the join.

    The pool starts before anything else runs beside this thread: Ray's start forks, and a fork beside the join
    thread deadlocked the child (see :mod:`.pools`). The reused chunks join once it has started.
    """
    todo = [c for c in manifest.chunks if c.index not in manifest.done]
    if not todo:
        return
    from tqdm.contrib.logging import logging_redirect_tqdm

    def count() -> str:
        return f"chunks {len(manifest.done)}/{len(manifest.chunks)}, joined {joining.joiner.joined}"

    bar = _bar(manifest.scan.frames, sum(manifest.done.values()), "dreaming")  # a bar starts no thread

    def on_done(result: ChunkResult) -> None:
        manifest.done[result.index] = result.frames
        write_manifest(parts, manifest)
        run.results.append(result)
        joining.check()  # a failed join stops the dreaming
        joining.offer(manifest.done)
        bar.set_postfix_str(count())

    began = time.monotonic()
    try:
        with logging_redirect_tqdm():  # log lines above the bar, not through it
            pool.start()
            joining.offer(manifest.done)  # the reused chunks join while the others dream
            bar.set_postfix_str(count())
            pool.run(job, todo, on_done, bar.update)
    except KeyboardInterrupt:
        run.interrupted = EXIT_INTERRUPTED
    except Terminated:
        run.interrupted = EXIT_TERMINATED
    finally:
        pool.stop()
        bar.close()
        run.dream_seconds = time.monotonic() - began


def _finish_join(joining: JoinThread, manifest: Manifest, run: RenderRun) -> None:
    """Wait for the join of the done prefix (the part left after the dreaming: ``run.join_seconds``).

    Ctrl-C or SIGTERM meanwhile stop it where it is, as during the dreaming: the output keeps what was written.
    """
    began = time.monotonic()
    left = sum(c.frames for c in _done_prefix(manifest)) - joining.joiner.written
    bar = _bar(left + joining.joiner.written, joining.joiner.written, "joining") if left > 0 else None
    if bar is not None:
        joining.on_frame = lambda: bar.update(1)
    try:
        with signals_ignored() if run.interrupted else contextlib.nullcontext():
            run.frames = joining.close()
    except (KeyboardInterrupt, Terminated) as exc:
        run.interrupted = EXIT_INTERRUPTED if isinstance(exc, KeyboardInterrupt) else EXIT_TERMINATED
        with signals_ignored():
            joining.abort()
        run.frames = joining.joiner.written
    finally:
        if bar is not None:
            bar.close()
        run.join_seconds = time.monotonic() - began
        run.join_total_seconds = joining.seconds


def _done_prefix(manifest: Manifest) -> list[Chunk]:
    """The finished chunks from the first on, up to the first unfinished one."""
    done: list[Chunk] = []
    for chunk in manifest.chunks:
        if chunk.index not in manifest.done:
            break
        done.append(chunk)
    return done
