"""A live dream that builds up over time: one cheap step per frame, cycling over octave scales.

Classic video DeepDream runs the full octave dream on every frame (too slow live) or carries a
dream along the flow and refreshes it with a few fine-scale steps (which makes texture, never
objects: shapes need the coarse octaves). Here the dream *residual* (dream minus frame, at the
internal dream size) is state that persists across frames, and each frame's step is taken at the
next scale of ``octave_scales`` ("straddle scaling", as ofxDeepDream does): the coarse steps
form shapes, the fine ones detail, and together the residual holds hundreds of steps of dream.

Per frame (uint8 RGB ``(H, W, 3)`` in, the same out):

* the residual is carried along the optical flow between the input frames; where the
  forward-backward check finds the flow unreliable it restarts from the plain frame, and a
  scene cut (or a flow failing over most of the frame) restarts it everywhere;
* its coarsest part decays by ``decay`` a frame and its mean by ``MEAN_DECAY`` (no brightness
  or colour drift), all of it by
  ``fade`` while a target change fades out (:meth:`LiveDreamer.set_objective`);
* ``steps_per_frame`` normalised gradient steps at the cycling octave scales are added to it,
  on one frame in ``step_every`` (with a step worker, :mod:`engine.step_worker`, the steps of the
  last such frame, carried along the flow since, while this frame's gradient is found beside it;
  with a colour prior, :mod:`engine.colour`, the first frames of a new class target probe the
  class's colours instead, at the same cost, and the drawn parts then take them);
* it is soft-limited to ``limit`` (:func:`soft_limit`), the brightness of its coarse part to
  ``scene_limit`` (:func:`bound_coarse`: the scene stays), and to the valid pixel range,
  so a still scene grows toward a bounded strength and never saturates.
"""
from __future__ import annotations

import copy
import math
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field

import cv2
import numpy as np
import torch
from torch import Tensor

from engine.colour import ColourProbe, colour_pull, luminance
from engine.dream import Dreamer, DreamSettings
from engine.filters import lowpass, resize, shrink, upsample
from engine.flow import FlowEstimator, cut_score, occlusion_mask, upscale_flow, warp
from engine.frames import to_tensor
from engine.objectives import Objective
from engine.step_worker import StepWorker
from engine.temporal import dream_size

#: Per-frame shrink of the residual's mean per channel: the picture's overall brightness and tint
#: settle within a second instead of drifting for minutes.
MEAN_DECAY = 0.05
#: A frame whose flow is unreliable over more than this fraction of its pixels restarts the dream.
CUT_UNRELIABLE = 0.6
#: The flow is found on the grey dream-size frame shrunk this many times (a quarter of the cost;
#: upscaled, it is exact enough to carry the dream) while its short side stays at least ``FLOW_MIN_SIDE``.
FLOW_SHRINK = 2
FLOW_MIN_SIDE = 96
#: ``decay`` shrinks the residual's part this many times coarser than the dream (brightness and colour casts).
COARSE_DECAY_FACTOR = 48


@dataclass(frozen=True)
class LiveDreamSettings:
    """How a live dream builds up.

    ``dream_scale``: internal size as a fraction of the frame's (``dream_max_side`` caps its long
    side, 0 = no cap). ``octave_scales``: the scales, as fractions of the internal size, that
    steps are taken at. A new dream (first frame, cut, new target) is *built* like an octave
    dream spread over frames: ``build_steps`` steps at each scale from the coarsest to the
    finest; after that the steps cycle over the scales (``octave_scales[n % len]``). ``steps_per_frame`` steps a frame,
    each ``step_scale`` times the dream's step size, on one frame in ``step_every`` (adaptive quality's cheaper levels:
    every frame is still carried and shown, the dream grows more slowly). ``decay``: per-frame shrink of the residual's
    coarsest part (a 48x-shrunk copy: brightness and colour casts, not the shapes). ``limit``: soft bound on the
    residual, in ``[0, 1]`` pixel units. ``fade_frames``: frames over which the old dream gives way after a target
    change (its residual shrinks to a tenth). ``scene_limit``: soft bound on the brightness of the residual's coarse
    part (:func:`bound_coarse`: how far the dream may move the scene a viewer recognises; 1 = off). ``flow``: dis,
    farneback, or none (a still camera: the residual stays where it is). ``cut_threshold``:
    :func:`engine.flow.cut_score` of a new scene.

    The values come from the product's settings (``stream.settings.live.live_temporal``: the ``live`` and ``video``
    sections, where each is defined once with its default and range); only the build sweep's length and
    ``step_every`` (adaptive quality's) are the engine's own.
    """

    flow: str
    flow_preset: str
    dream_scale: float
    dream_max_side: int
    octave_scales: tuple[float, ...]
    steps_per_frame: int
    step_scale: float
    decay: float
    limit: float
    fade_frames: int
    cut_threshold: float
    scene_limit: float
    build_steps: int = 24
    step_every: int = 1

    def scale_at(self, step: int) -> float:
        """The scale of the ``step``-th step of a dream (0 = its first): the build sweep, then the cycle."""
        if step < self.build_steps * len(self.octave_scales):
            return sorted(self.octave_scales)[step // self.build_steps]
        return self.octave_scales[step % len(self.octave_scales)]


def flow_grey(gray: np.ndarray) -> np.ndarray:
    """The grey frame the live flow is found on: ``gray`` shrunk ``FLOW_SHRINK`` times if it stays big enough."""
    h, w = gray.shape
    if min(h, w) // FLOW_SHRINK < FLOW_MIN_SIDE:
        return gray
    return cv2.resize(gray, (w // FLOW_SHRINK, h // FLOW_SHRINK), interpolation=cv2.INTER_AREA)


def soft_limit(x: Tensor, limit: float, knee: float = 0.7) -> Tensor:
    """``x`` below ``knee * limit``, bent smoothly (tanh) toward ``limit`` above it; never beyond ``limit``.

    Applied every frame, so it must leave small values alone: a plain ``limit * tanh(x / limit)``
    would shrink a residual of half the limit by several percent a frame, a decay stronger
    than the dream's steps.
    """
    k = knee * limit
    room = limit - k
    over = (x.abs() - k).clamp_min_(0.0)  # 0 below the knee, where nothing changes
    # tanh(z) for z >= 0 as (1 - e) / (1 + e), e = exp(-2z): a third of torch.tanh's time on the CPU
    e = over.mul_(-2.0 / room).exp_()
    return x.clamp(-k, k).add_(x.sign().mul_(room * (1.0 - e) / (1.0 + e)))


#: The scene's coarse structure: the residual shrunk to this many pixels on its long side (about
#: the 80x45 picture a person recognises a scene by), whatever the dream's size.
SCENE_SIDE = 80


def bound_coarse(residual: Tensor, limit: float) -> Tensor:
    """``residual`` ``(1, 3, H, W)`` with the brightness of its coarse part (:data:`SCENE_SIDE`) soft-limited to
    ``limit``.

    The dream may draw any texture, small shapes and colours, but it may move the brightness
    of the picture's coarse structure (what a viewer recognises the scene by, in colour or in
    grey) only this far. Colour is left to the overall bound: a class's colours fill whole objects.
    """
    h, w = residual.shape[-2:]
    # The luminance of the coarse part, scaled up as one grey channel (luminance is linear: the same as
    # the luminance of the scaled-up colour picture, a third of the work). Bounded at full size: bounded
    # small and then scaled up, the bound is stronger where the coarse part changes (the concave bend
    # of an average is above the average of the bends) and the scene keeps the dream's objects down.
    coarse = upsample(luminance(shrink(residual, max(1, max(h, w) // SCENE_SIDE))), (h, w))
    return residual + (soft_limit(coarse, limit) - coarse)  # the same in R, G and B: brightness only


def add_residual(frame: np.ndarray, residual: Tensor) -> np.ndarray:
    """uint8 RGB ``frame`` ``(H, W, 3)`` plus ``residual`` ``(1, 3, h, w)`` (``[0, 1]`` units) upscaled bilinearly,
    rounded.

    On the CPU through OpenCV (a third of the tensor round trip's time at 640x360).
    """
    h, w = frame.shape[:2]
    res = np.ascontiguousarray(residual.detach()[0].float().cpu().permute(1, 2, 0).numpy())
    if res.shape[:2] != (h, w):
        res = cv2.resize(res, (w, h), interpolation=cv2.INTER_LINEAR)
    out = cv2.scaleAdd(res, 255.0, frame.astype(np.float32))
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


@dataclass(frozen=True)
class InFlight:
    """A frame's steps on the worker: ``drawn(result)`` is what they drew, ``(1, 3, h, w)`` on that frame's grid;
    they join on the next frame that takes steps, carried along ``path`` (each later frame's flow and kept part)."""

    future: Future
    drawn: Callable[[object], Tensor]
    path: list[tuple[np.ndarray, Tensor]] = field(default_factory=list)


class LiveDreamer:
    """Dreams a live frame sequence with a :class:`Dreamer`; the dream builds up across frames.

    ``__call__(frame)`` takes and returns uint8 RGB ``(H, W, 3)``. ``last_kind`` is ``"start"``
    (first frame or a new size), ``"cut"`` (new scene: the dream restarts) or ``"carry"``.
    ``frames`` and ``steps_taken`` count frames dreamed and gradient steps taken since the start.
    ``strength`` is the mean absolute residual of the last frame (``[0, 1]`` units). With ``steps``
    (:class:`engine.step_worker.StepWorker`) a frame's gradient (with more than one step a frame,
    its steps) is found there while this thread finishes the frame, carries the next and takes the
    step (the image priors) when the gradient is back; what it drew joins the dream on the next
    frame that takes steps (``step_every`` frames later), carried along the flow like the rest (the
    step before it is still on its way, so each step sees the dream one step behind; a dream is a
    few hundred small steps).
    """

    def __init__(self, dreamer: Dreamer, settings: LiveDreamSettings, steps: StepWorker | None = None) -> None:
        self.dreamer = dreamer  # owned: its objective and settings change through this class's methods
        self._settings = settings
        self.flow = None if settings.flow == "none" else FlowEstimator(settings.flow, settings.flow_preset)
        self.frames = 0
        self.steps_taken = 0  # gradient steps asked for since the start (colour probes not counted)
        self.last_kind: str | None = None
        self.last_unreliable = 0.0
        self.strength = 0.0
        self.worker = steps
        # The worker's own generator, a copy of the dreamer's: its steps draw their jitter and crops from it while
        # this thread may draw from the dreamer's (a colour probe).
        self._worker_gen = torch.Generator(device="cpu")
        self._worker_gen.set_state(dreamer.gen.get_state())
        self._fade_left = 0  # frames the old dream still fades over after a target change
        self._probe: tuple[str, ColourProbe] | None = None  # colours being probed, by objective name
        self._pending: InFlight | None = None  # the last stepping frame's steps on the worker, on its grid
        self._gray: np.ndarray | None = None  # previous input, grey at flow size (flow_grey), uint8
        self._residual: Tensor | None = None  # dream minus input at dream size, (1, 3, h, w)
        self._size: tuple[int, int] | None = None  # the frames' size (a new one starts a new dream)
        self._phase = 0  # steps since this dream began (the build sweep, then the cycle)
        self._next_step = 0  # the next frame (counting self.frames) that takes steps

    @property
    def settings(self) -> LiveDreamSettings:
        """How the dream builds up now (:meth:`retune` changes it)."""
        return self._settings

    @property
    def residual(self) -> Tensor | None:
        """The dream: dream minus input at the dream's size, ``(1, 3, h, w)`` in ``[0, 1]`` units (None before a
        frame)."""
        return self._residual

    @property
    def phase(self) -> int:
        """Steps since this dream began (the build sweep, then the cycle over ``octave_scales``)."""
        return self._phase

    @property
    def flow_shape(self) -> tuple[int, ...] | None:
        """The shape ``(h, w)`` of the grey frame the flow was last found on (None before a frame)."""
        return None if self._gray is None else self._gray.shape

    @property
    def in_flight(self) -> bool:
        """Whether a frame's steps are on the worker, to join the dream on the next stepping frame."""
        return self._pending is not None

    @property
    def probing(self) -> bool:
        """Whether the current objective's colours are being probed (its frames' steps go to the probe)."""
        return self._probe is not None

    def drawn_in_flight(self) -> Tensor | None:
        """What the steps in flight drew, ``(1, 3, h, w)`` on their frame's grid, once they are done (None: none)."""
        pending = self._pending
        return None if pending is None else pending.drawn(pending.future.result())

    def reset(self) -> None:
        """Forget the dream: the next frame starts from the plain frame."""
        self._drop_pending()
        self._gray = None
        self._residual = None
        self._size = None
        self._phase = 0
        self._next_step = 0

    def close(self) -> None:
        """Wait for the steps in flight (the worker is its owner's to close)."""
        self._drop_pending()

    def _drop_pending(self) -> None:
        """Wait for the steps in flight and forget them, a failure too (a new scene or size: their grid is gone)."""
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.future.exception()  # waits; what they drew, or why they failed, is not needed

    def set_objective(self, objective: Objective, settings: DreamSettings | None = None, fade: bool = True) -> None:
        """Dream ``objective`` (with dream ``settings``, if given) from the next frame on.

        With ``fade`` the current dream gives way over ``fade_frames`` frames while the new one
        builds, instead of changing at once.
        """
        self.dreamer.objective = objective
        if settings is not None:
            self.dreamer.settings = settings
        if fade and self._residual is not None:
            self._fade_left = self.settings.fade_frames
        self._phase = 0  # the new objective's dream is built from the coarsest scale

    def retune(self, settings: LiveDreamSettings, dream: DreamSettings | None = None) -> None:
        """Build up the same dream with ``settings`` (and the dreamer's ``dream`` settings, if given) from the next
        frame on: a new adaptive level, strength or octaves. The flow keeps its method (a new one: a new dreamer)."""
        self._settings = settings
        if dream is not None:
            self.dreamer.settings = dream

    def know_colours(self, name: str, ramp: Tensor) -> None:
        """The colours of objective ``name`` (a colour ramp, :mod:`engine.colour`), known already: no probe."""
        self.dreamer.remember_ramp(name, ramp)

    def dream_size(self, height: int, width: int) -> tuple[int, int]:
        """The internal size ``(h, w)`` for a ``height`` x ``width`` frame (as :func:`engine.temporal.dream_size`)."""
        return dream_size(self.settings, height, width)

    def __call__(self, frame: np.ndarray) -> np.ndarray:
        if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
            raise ValueError(f"expected a uint8 RGB frame (H, W, 3), got {frame.shape} {frame.dtype}")
        h, w = frame.shape[:2]
        if self._size != (h, w):
            self.reset()
            self._size = (h, w)
        dh, dw = self.dream_size(h, w)
        small = frame if (dh, dw) == (h, w) else cv2.resize(frame, (dw, dh), interpolation=cv2.INTER_LINEAR)
        gray = flow_grey(cv2.cvtColor(small, cv2.COLOR_RGB2GRAY))
        base = to_tensor(small, self.dreamer.device)
        if self._residual is not None and self._gray is not None and self._residual.shape[-2:] != (dh, dw):
            # A new dream size (adaptive quality): the dream so far is kept, resized.
            self._residual = resize(self._residual, (dh, dw))
            self._gray = cv2.resize(self._gray, (gray.shape[1], gray.shape[0]), interpolation=cv2.INTER_AREA)
        residual = self._carry(gray, base)
        residual = self._grow(base, residual)
        self._residual, self._gray = residual, gray
        self.frames += 1
        self.strength = float(residual.abs().mean())
        return add_residual(frame, residual)

    def _carry(self, gray: np.ndarray, base: Tensor) -> Tensor:
        """Last frame's residual on this frame's grid: along the flow, restarted where it fails."""
        s = self.settings
        self.last_unreliable = 0.0
        if self._residual is None or self._gray is None:  # only after reset(), which dropped the steps in flight
            self.last_kind = "start"
            return torch.zeros_like(base)
        residual = self._residual
        if self.flow is not None:
            if cut_score(self._gray, gray) >= s.cut_threshold:
                return self._restart(base)
            back = self.flow(gray, self._gray)  # on this frame's grid, into the previous frame
            ahead = self.flow(self._gray, gray)
            unreliable = occlusion_mask(back, ahead)
            self.last_unreliable = float(unreliable.mean())
            if self.last_unreliable > CUT_UNRELIABLE:
                return self._restart(base)
            size = tuple(base.shape[-2:])
            keep = 1.0 - cv2.GaussianBlur(unreliable, (0, 0), 1.0 * size[0] / gray.shape[0])
            keep = torch.from_numpy(cv2.resize(keep, (size[1], size[0]), interpolation=cv2.INTER_LINEAR)).to(
                base.device
            )
            along = (upscale_flow(back, size), keep.view(1, 1, *keep.shape))
            residual = self._carried(residual, [along])
            if self._pending is not None:
                self._pending.path.append(along)  # joins later, carried the same way
        self.last_kind = "carry"
        if s.decay > 0:
            residual = residual - s.decay * lowpass(residual, COARSE_DECAY_FACTOR)
        residual = residual - MEAN_DECAY * residual.mean(dim=(2, 3), keepdim=True)
        if self._fade_left > 0:
            residual = residual * 0.1 ** (1.0 / max(1, s.fade_frames))
            self._fade_left -= 1
        return residual

    def _restart(self, base: Tensor) -> Tensor:
        """A new scene: the dream starts again from the plain frame (and its build sweep from the coarsest scale)."""
        self.last_kind = "cut"
        self._phase = 0
        self._drop_pending()
        return torch.zeros_like(base)

    @staticmethod
    def _carried(t: Tensor, path: list[tuple[np.ndarray, Tensor]]) -> Tensor:
        """``t`` ``(1, 3, h, w)`` moved along ``path``, each frame's flow and kept part in turn (as :meth:`_carry`
        moves the residual), resized first where the dream's size changed on the way."""
        for flow, keep in path:
            if t.shape[-2:] != keep.shape[-2:]:
                t = resize(t, tuple(keep.shape[-2:]))
            t = warp(t, flow, mode="bicubic") * keep
        return t

    def _grow(self, base: Tensor, residual: Tensor) -> Tensor:
        """``steps_per_frame`` steps (on one frame in ``step_every``), each at the next octave scale, added to
        ``residual``, then the bounds.

        With a step worker this frame's steps are handed to it and the last stepping frame's join,
        carried along the flow.
        """
        s, d = self.settings, self.dreamer
        if d.settings.colour > 0 and d.objective.name not in d.ramps:
            pending, self._pending = self._pending, None
            residual = self._join(pending, residual)
            self._probe_colours()  # this frame's steps find the colours; the dream waits
        elif self.frames >= self._next_step:  # a frame that takes steps (one in step_every)
            phase, self._phase = self._phase, self._phase + s.steps_per_frame
            self.steps_taken += s.steps_per_frame
            self._next_step = self.frames + s.step_every
            if self.worker is not None:
                # This frame's steps go first, so the worker finds their gradient while the last ones join here.
                pending, self._pending = self._pending, self._launch(base, residual, phase)
                residual = self._join(pending, residual)
            else:
                residual = residual + take_steps(d, s, base, residual, phase)
            if d.settings.colour > 0:
                x = (base + residual).clamp(d.settings.min_value, d.settings.max_value)
                ramp = d.ramps[d.objective.name]
                residual = residual + colour_pull(x, residual, ramp, d.settings.colour * s.steps_per_frame)
        residual = soft_limit(residual, s.limit)
        if s.scene_limit < s.limit:
            residual = bound_coarse(residual, s.scene_limit)
        return (base + residual).clamp(d.settings.min_value, d.settings.max_value) - base

    def _launch(self, base: Tensor, residual: Tensor, phase: int) -> InFlight:
        """This frame's steps on the worker, with this frame's objective and settings whatever changes next."""
        s, d = self.settings, copy.copy(self.dreamer)  # a shallow copy: the same model, its objective and settings now
        d.gen = self._worker_gen  # ... drawing from the worker's own generator
        if s.steps_per_frame != 1:
            return InFlight(self.worker.submit(take_steps, d, s, base, residual, phase), lambda drawn: drawn)
        h, w = base.shape[-2:]
        x = scaled_input(d, base, residual, s.scale_at(phase))
        step_size = d.settings.step_size * s.step_scale

        def drawn(found: tuple[Tensor, float]) -> Tensor:  # the rest of Dreamer.step, on this thread
            return resize(d.climb(x, found[0], step_size) - x, (h, w))

        return InFlight(self.worker.submit(d.gradient, x), drawn)

    def _join(self, pending: InFlight | None, residual: Tensor) -> Tensor:
        """``residual`` plus what the ``pending`` steps drew (none: ``residual``), carried onto this frame (resized
        where the dream's size changed)."""
        if pending is None:
            return residual
        drawn = self._carried(pending.drawn(pending.future.result()), pending.path)
        if drawn.shape[-2:] != residual.shape[-2:]:
            drawn = resize(drawn, tuple(residual.shape[-2:]))
        return residual + drawn

    def _probe_colours(self) -> None:
        """This frame's steps go to the probe of the new objective's colours (same cost as dreaming)."""
        d = self.dreamer
        name = d.objective.name
        if self._probe is None or self._probe[0] != name:
            self._probe = (name, d.colour_probe())
        probe = self._probe[1]
        for _ in range(max(1, self.settings.steps_per_frame)):
            probe.advance(lambda x: d.step(x)[0])
        if probe.ramp is not None:
            d.remember_ramp(name, probe.ramp)
            self._probe = None


def scaled_input(dreamer: Dreamer, base: Tensor, residual: Tensor, scale: float) -> Tensor:
    """The dreamed image ``base + residual`` ``(1, 3, h, w)`` at ``scale`` (at least 16 pixels a side), clamped."""
    h, w = base.shape[-2:]
    size = (max(16, round(h * scale)), max(16, round(w * scale)))
    return resize(base + residual, size).clamp(
        dreamer.settings.min_value, dreamer.settings.max_value
    )  # one resize: it is linear


def take_steps(dreamer: Dreamer, settings: LiveDreamSettings, base: Tensor, residual: Tensor, phase: int) -> Tensor:
    """What ``settings.steps_per_frame`` steps add to ``residual`` ``(1, 3, h, w)`` over ``base``, the first at
    the scale of step ``phase`` of the dream (:meth:`LiveDreamSettings.scale_at`): ``(1, 3, h, w)``."""
    h, w = base.shape[-2:]
    step_size = dreamer.settings.step_size * settings.step_scale
    delta = torch.zeros_like(residual)
    for i in range(settings.steps_per_frame):
        x = scaled_input(dreamer, base, residual + delta, settings.scale_at(phase + i))
        stepped, _ = dreamer.step(x, step_size)
        delta = delta + resize(stepped - x, (h, w))
    return delta


def settle_frames(settings: LiveDreamSettings) -> int:
    """Frames a still scene takes to reach most of its bounded strength (about ``3 / decay``, at most 600)."""
    return min(600, math.ceil(3.0 / max(settings.decay, 1e-3)))
