"""A live frame's steps on a worker thread (live.overlap): the thread, its snapshot of the dreamer, one step behind,
and steps on one frame in a few (adaptive quality), carried along every frame's flow until they join."""
from __future__ import annotations

import dataclasses
import threading

import numpy as np
import pytest
import torch
from live_settings import live_dream_settings
from media import clip_frame
from torch import Tensor

from engine.dream import Dreamer, DreamSettings
from engine.frames import to_tensor
from engine.live_dream import LiveDreamer, LiveDreamSettings, take_steps
from engine.objectives import FULL, Objective, layer
from engine.step_worker import ThreadSteps

SETTINGS = DreamSettings(octaves=1, steps=2, jitter=2, step_size=0.02)
LIVE = live_dream_settings(scene_limit=1.0, dream_scale=1.0, build_steps=2, step_scale=2.0, fade_frames=10, limit=0.2)


def pan(n: int) -> list[np.ndarray]:
    wide = np.concatenate([clip_frame(0, 96, 48, "moving")] * 2, axis=1)
    return [np.ascontiguousarray(wide[:, i:i + 64]) for i in range(n)]


def where() -> tuple[str, int]:
    return threading.current_thread().name, torch.get_num_threads()


def test_work_runs_on_the_worker_thread_with_the_askers_thread_count() -> None:
    before = torch.get_num_threads()
    worker = ThreadSteps()
    try:
        torch.set_num_threads(1)
        thread, threads = worker.submit(where).result()
    finally:
        torch.set_num_threads(before)
        worker.close()
    assert thread.startswith("dream-steps") and threads == 1
    assert worker._pool is None  # closed; a later request would start it again


def test_a_step_in_flight_keeps_the_objective_it_was_asked_with(lite0: torch.nn.Module) -> None:
    frame = clip_frame(0, 64, 48)
    worker = ThreadSteps()
    ld = LiveDreamer(Dreamer(lite0, layer("block4"), SETTINGS), LIVE, worker)
    try:
        ld(frame)
        ld.set_objective(layer("block10"), fade=False)  # the stage changes target while the step runs
        drawn = ld.drawn_in_flight()
        assert drawn is not None
    finally:
        ld.close()
        worker.close()
    base = to_tensor(frame)
    expected = take_steps(Dreamer(lite0, layer("block4"), SETTINGS), LIVE, base, torch.zeros_like(base), 0)
    assert torch.equal(drawn, expected)  # the gradient there and the step here are Dreamer.step's, bit for bit


def run(lite0: torch.nn.Module, frames: list[np.ndarray], overlap: bool,
        settings: LiveDreamSettings = LIVE) -> tuple[list[np.ndarray], list[float]]:
    worker = ThreadSteps() if overlap else None
    ld = LiveDreamer(Dreamer(lite0, layer(lite0.spec.default_layer), SETTINGS), settings, worker)
    outs, strength = [], []
    try:
        for f in frames:
            outs.append(ld(f))
            strength.append(ld.strength)
            assert float(ld.residual.abs().max()) <= settings.limit + 1e-6
    finally:
        ld.close()
        if worker is not None:
            worker.close()
    return outs, strength


def test_the_overlapped_dream_is_a_frame_behind_deterministic_and_as_strong(lite0: torch.nn.Module) -> None:
    frames = pan(24)
    outs, strength = run(lite0, frames, overlap=True)
    again, _ = run(lite0, frames, overlap=True)
    plain, plain_strength = run(lite0, frames, overlap=False)
    assert all(np.array_equal(a, b) for a, b in zip(outs, again))  # whatever the threads' timing
    assert np.array_equal(outs[0], frames[0]) and not np.array_equal(
        plain[0], frames[0]
    )  # the first steps join at frame 1
    assert strength[1] > 0 and strength[-1] > 2 * strength[3]  # and the dream builds up as it goes
    assert strength[-1] == pytest.approx(plain_strength[-1], rel=0.25)  # about as strong as one in turn


def test_two_steps_a_frame_run_whole_on_the_worker(lite0: torch.nn.Module) -> None:
    frames = pan(6)
    outs, strength = run(lite0, frames, overlap=True, settings=dataclasses.replace(LIVE, steps_per_frame=2))
    assert np.array_equal(outs[0], frames[0]) and 0 < strength[1] < strength[-1]


def test_a_cut_drops_the_steps_in_flight(lite0: torch.nn.Module) -> None:
    worker = ThreadSteps()
    ld = LiveDreamer(Dreamer(lite0, layer(lite0.spec.default_layer), SETTINGS), LIVE, worker)
    try:
        for i in range(9):
            ld(clip_frame(i, pattern="cut"))
            if i == 7:
                assert ld.strength > 0 and ld.in_flight
    finally:
        ld.close()
        worker.close()
    assert ld.last_kind == "cut" and ld.strength == 0  # the old scene's steps were not added to the new one


def test_a_failed_step_is_raised_on_the_next_frame_and_close_drops_the_next(lite0: torch.nn.Module) -> None:
    def broken(acts: object) -> torch.Tensor:
        raise ValueError("no such layer here")

    worker = ThreadSteps()
    dreamer = Dreamer(lite0, layer("block4"), SETTINGS)
    dreamer.objective = Objective(broken, {FULL: frozenset(["block4"])}, "broken")
    ld = LiveDreamer(dreamer, LIVE, worker)
    try:
        ld(clip_frame(0))  # handed over; its failure is not known yet
        with pytest.raises(ValueError, match="no such layer"):
            ld(clip_frame(1))
        assert ld.in_flight  # frame 1 handed over a step too, which fails as well
        ld.close()  # and is dropped quietly: a run that stops on the first error is not hidden by the second
        assert not ld.in_flight
    finally:
        worker.close()


def test_steps_on_one_frame_in_three_join_carried_along_every_frame_since(lite0: torch.nn.Module) -> None:
    wide = np.concatenate([clip_frame(0, 96, 48, "moving")] * 2, axis=1)
    frames = [np.ascontiguousarray(wide[:, 4 * i:4 * i + 64]) for i in range(4)]  # 4 px a frame
    settings = dataclasses.replace(LIVE, decay=0.0, limit=1.0)

    def residuals(step_every: int, worker: ThreadSteps | None) -> tuple[list[Tensor], list[int]]:
        ld = LiveDreamer(Dreamer(lite0, layer(lite0.spec.default_layer), SETTINGS),
                         dataclasses.replace(settings, step_every=step_every), worker)
        out, phases = [], []
        try:
            for f in frames:
                ld(f)
                out.append(ld.residual.clone())
                phases.append(ld.phase)
        finally:
            ld.close()
        return out, phases

    worker = ThreadSteps()
    try:
        overlapped, phases = residuals(3, worker)
    finally:
        worker.close()
    in_turn, in_turn_phases = residuals(4, None)  # the same first step, added at once and carried frame by frame
    assert phases == [1, 1, 1, 2] and in_turn_phases == [1, 1, 1, 1]  # steps on frames 0 and 3 only
    assert all(float(r.abs().max()) == 0 for r in overlapped[:3])  # frame 0's step is on its way until frame 3

    def corr(a: Tensor, b: Tensor) -> float:
        return float(torch.nn.functional.cosine_similarity(a.flatten(), b.flatten(), dim=0))

    assert corr(overlapped[3], in_turn[3]) > 0.99  # frame 0's step, carried along frames 1, 2 and 3
    assert max(corr(overlapped[3], in_turn[1]), corr(overlapped[3], in_turn[2])) < 0.8  # ... not along fewer
