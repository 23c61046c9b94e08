"""Temporally stable dreams of a frame sequence: the dream is carried along the optical flow.

Per frame (uint8 RGB ``(H, W, 3)`` in, the same out): the previous dream *residual* (dream minus
frame) is warped along the flow between the two input frames onto the new frame, dropped where
the forward-backward check finds the flow unreliable (occluded or newly revealed pixels start
from the plain frame), shrunk by ``flow_blend`` (its coarse part, which holds brightness and
colour casts, by ``decay`` more), and a few gradient steps refresh it. The first frame, every
scene cut and every ``key_every``-th frame start afresh instead: with ``settle_frames`` > 0 the
carried update runs that many times on the frame itself (no motion), so the first frame is as
strong as the carried ones that follow it rather than a full octave dream that then fades;
with 0 (or ``flow: none``) they get the full octave dream. With
``dream_scale`` < 1 the residual lives at a lower resolution and is upscaled onto the frame.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import cv2
import numpy as np
import torch
from torch import Tensor

from engine.dream import Dreamer
from engine.fields import Rule, check_fields, setting
from engine.filters import resize
from engine.flow import DIS_PRESETS, FLOW_METHODS, FlowEstimator, cut_score, occlusion_mask, upscale_flow, warp
from engine.frames import to_image, to_tensor
from engine.objectives import Objective

TEMPORAL_FLOWS = (*FLOW_METHODS, "none")
KINDS = ("full", "warm", "cut")
#: A frame whose flow is unreliable over more than this fraction of its pixels counts as a cut.
CUT_UNRELIABLE = 0.6
#: Longest side, in pixels, of the grey frames the flow (and the forward-backward check) is found on.
#: A larger dream finds it on its frames shrunk to this and upscales it, so the flow's cost stops
#: growing with the frame: at 3840x2160 the two flows and the check took about 2.4 s and 550 MB a
#: frame, at 1920x1080 a tenth of that. Every dream up to this size (all with the default
#: ``dream_max_side``) finds its flow at its own size, as before.
FLOW_MAX_SIDE = 1920


@dataclass(frozen=True)
class TemporalSettings:
    """How a frame sequence is dreamed.

    ``flow``: dis, farneback, or none (no carrying: the full octave dream on every frame).
    ``flow_blend``: fraction of the warped residual carried onto the next frame (per frame).
    ``decay``: extra per-frame shrink of the carried residual's coarse part (brightness, colour cast).
    ``steps_per_frame``: gradient steps on the warm start. ``step_scale``: their step size as a
    multiple of the dream's. ``dream_scale``: internal resolution as a fraction of the frame's;
    ``dream_max_side`` caps its longer side in pixels (0 = no cap) so large frames cost no more.
    ``cut_threshold``: :func:`engine.flow.cut_score` at which a new scene starts (1 = never).
    ``key_every``: a full octave dream every N frames (0 = only at the start and at cuts).
    ``settle_frames``: how the first frame, cuts and key frames start (see the module docstring).
    """

    flow: str = setting("dis", Rule(choices=TEMPORAL_FLOWS),
        "dis, farneback, or none (full octave dream on every frame: flickers)")
    flow_preset: str = setting("fast", Rule(choices=tuple(DIS_PRESETS)),
        "DIS preset: ultrafast, fast, medium (slower, more exact)")
    flow_blend: float = setting(0.9, Rule(0.0, 1.0), "fraction of the previous dream carried along the flow each frame")
    decay: float = setting(0.1, Rule(0.0, 1.0),
        "extra per-frame fade of the carried dream's coarse part (no brightening)")
    steps_per_frame: int = setting(3, Rule(0, 100),
        "gradient steps on each carried frame (first frame and cuts: full octaves)")
    step_scale: float = setting(1.0, Rule(0.0, 10.0), "the step size of those steps as a multiple of dream.step_size")
    dream_scale: float = setting(0.75, Rule(0.05, 1.0),
        "internal resolution as a fraction of the frame's (lower is faster)")
    dream_max_side: int = setting(640, Rule(0, 16384), "the internal long side at most, in pixels; 0 = no cap")
    cut_threshold: float = setting(0.25, Rule(0.0, 1.0), "histogram distance (0-1) that starts a new scene; 1 = never")
    key_every: int = setting(0, Rule(0, 1_000_000),
        "a full octave dream every N frames; 0 = only at the start and cuts")
    settle_frames: int = setting(6, Rule(0, 1000),
        "the first frame and cuts: the carried update run N times on the still frame (as strong as the frames after "
        "it); 0 = the full octave dream")

    def __post_init__(self) -> None:
        check_fields(self)  # the fields' own rules, as the config loader checks them


class DreamSizing(Protocol):
    """Settings that size a dream: :class:`TemporalSettings`, or the live dream's."""

    @property
    def dream_scale(self) -> float: ...

    @property
    def dream_max_side(self) -> int: ...


def dream_size(settings: DreamSizing, height: int, width: int) -> tuple[int, int]:
    """The internal size ``(h, w)`` at which a ``height`` x ``width`` frame is dreamed."""
    s, cap = settings.dream_scale, settings.dream_max_side
    if cap and max(height, width) * s > cap:
        s = cap / max(height, width)
    return max(8, round(height * s)), max(8, round(width * s))


def flow_size(height: int, width: int) -> tuple[int, int]:
    """The size ``(h, w)`` at which the flow of a ``height`` x ``width`` dream is found (:data:`FLOW_MAX_SIDE`)."""
    longest = max(height, width)
    if longest <= FLOW_MAX_SIDE:
        return height, width
    s = FLOW_MAX_SIDE / longest
    return max(8, round(height * s)), max(8, round(width * s))


def scene_gray(frame: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``frame`` RGB uint8 ``(H, W, 3)`` as grey uint8 at ``size`` ``(h, w)``: what cut detection compares."""
    small = frame if frame.shape[:2] == size else cv2.resize(frame, (size[1], size[0]), interpolation=cv2.INTER_AREA)
    return cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)


def frame_seed(seed: int, index: int) -> int:
    """The dream's random seed for frame ``index`` of a run seeded ``seed``.

    Seeding each frame by its index makes a frame's dream independent of which process dreamed
    the frames before it, so a video split into chunks matches a single pass.
    """
    return (seed * 0x9E3779B97F4A7C15 + index * 0xBF58476D1CE4E5B9 + 1) % (1 << 63)


def _lowpass(x: Tensor, factor: int = 16) -> Tensor:
    """The coarse part of ``x`` ``(1, C, H, W)``: shrunk ``factor`` times (area) and upscaled again."""
    h, w = x.shape[-2:]
    small = (max(1, h // factor), max(1, w // factor))
    return resize(resize(x, small), (h, w))


class TemporalDreamer:
    """Dreams a sequence of frames with a :class:`Dreamer`, carrying the dream along the optical flow.

    ``__call__(frame)`` takes and returns uint8 RGB ``(H, W, 3)``; ``last_kind`` tells what the
    last frame got: ``"full"`` (first frame, key frame, or ``flow: none``), ``"cut"`` (new scene,
    full dream) or ``"warm"`` (carried residual plus ``steps_per_frame`` steps). ``reset()``
    forgets the previous frame; a frame of another size resets by itself.
    """

    def __init__(self, dreamer: Dreamer, settings: TemporalSettings) -> None:
        self.dreamer = dreamer
        self.settings = settings
        self.flow = None if settings.flow == "none" else FlowEstimator(settings.flow, settings.flow_preset)
        self.last_kind: str | None = None
        self.last_cut_score = 0.0
        self.last_unreliable = 0.0  # fraction of pixels whose flow failed the check
        self.frames = 0
        self.reset()

    def reset(self) -> None:
        """Forget the previous frame: the next frame gets the full octave dream."""
        self._gray: np.ndarray | None = None  # previous input, grey at flow size (flow_size), uint8
        self._residual: Tensor | None = None  # previous dream minus input at dream size, (1, 3, h, w)
        self._size: tuple[int, int] | None = None  # frame size (H, W)
        self._since_key = 0

    def reseed(self, index: int) -> None:
        """Seed the dream's random jitter and crops for frame ``index`` (:func:`frame_seed`)."""
        self.dreamer.gen.manual_seed(frame_seed(self.dreamer.settings.seed, index))

    def set_objective(self, objective: Objective) -> None:
        """Dream another objective from the next frame on, keeping the carried dream and the flow state."""
        self.dreamer.objective = objective

    def dream_size(self, height: int, width: int) -> tuple[int, int]:
        """The internal size ``(h, w)`` for a ``height`` x ``width`` frame."""
        return dream_size(self.settings, height, width)

    def __call__(self, frame: np.ndarray) -> np.ndarray:
        if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
            raise ValueError(f"expected a uint8 RGB frame (H, W, 3), got {frame.shape} {frame.dtype}")
        d = self.dreamer
        h, w = frame.shape[:2]
        if self._size != (h, w):
            self.reset()
            self._size = (h, w)
        dh, dw = self.dream_size(h, w)
        small = frame if (dh, dw) == (h, w) else cv2.resize(frame, (dw, dh), interpolation=cv2.INTER_AREA)
        gray = scene_gray(small, flow_size(dh, dw))
        kind = self._kind(gray)
        dreamed = self._warm(small, gray) if kind == "warm" else None
        if dreamed is None:
            kind = "cut" if kind == "warm" else kind
            self._residual = None  # not carried: let go before the dream
            settle = self.flow is not None and self.settings.settle_frames
            dreamed = self._settle(small) if settle else d.octaves(to_tensor(small, d.device))
            self._since_key = 0
        self._since_key += 1
        self.frames += 1
        self.last_kind = kind
        residual = dreamed.sub_(to_tensor(small, d.device))  # the dream is a new tensor: the residual, in place
        del dreamed
        self._residual = residual if self.flow is not None else None
        self._gray = gray
        out = to_tensor(frame, d.device).add_(residual if (dh, dw) == (h, w) else resize(residual, (h, w)))
        return to_image(out.clamp_(0.0, 1.0))

    def _kind(self, gray: np.ndarray) -> str:
        s = self.settings
        self.last_cut_score = self.last_unreliable = 0.0
        if self.flow is None or self._gray is None or self._residual is None:
            return "full"
        self.last_cut_score = cut_score(self._gray, gray)
        if self.last_cut_score >= s.cut_threshold:
            return "cut"
        if s.key_every and self._since_key >= s.key_every:
            return "full"
        return "warm"

    def _settle(self, small: np.ndarray) -> Tensor:
        """The carried update run ``settle_frames`` times on the still frame ``small``, from the plain frame."""
        s, d = self.settings, self.dreamer
        tint = self._tint_base(small)
        x = to_tensor(small, d.device)
        for _ in range(s.settle_frames):
            base = to_tensor(small, d.device)
            x = self._start(base, x.sub_(base))
            del base
            for _ in range(s.steps_per_frame):  # one at a time: each x is let go once stepped
                x = d.ascend(x, 1, d.settings.step_size * s.step_scale, base=tint)
        return x

    def _tint_base(self, small: np.ndarray) -> Tensor | None:
        """The plain picture the colour prior pulls against during the steps; None without the prior.

        Without it the steps need no plain picture, so none is held while they run (100 MB at 4K).
        """
        return to_tensor(small, self.dreamer.device) if self.dreamer.settings.colour > 0 else None

    def _start(self, base: Tensor, carried: Tensor, reliable: Tensor | None = None) -> Tensor:
        """Where a carried frame's steps start: ``base`` plus ``flow_blend`` of ``carried`` (its coarse part
        faded by ``decay``), times ``reliable`` ``(h, w)`` where given; clamped. ``carried`` is spent (changed in
        place)."""
        s, d = self.settings, self.dreamer
        if s.decay > 0:
            carried = carried.sub_(s.decay * _lowpass(carried))
        carried = carried.mul_(s.flow_blend)
        if reliable is not None:
            carried = carried.mul_(reliable.view(1, 1, *reliable.shape))
        return carried.add_(base).clamp_(d.settings.min_value, d.settings.max_value)

    def _warm(self, small: np.ndarray, gray: np.ndarray) -> Tensor | None:
        """The carried dream on ``small`` plus ``steps_per_frame`` steps; None when the flow failed (a cut).

        The flow is found on ``gray`` (at :func:`flow_size`) and upscaled to the dream's size. The
        previous residual, the flows and the masks are let go before the steps, which need the memory.
        """
        s, d = self.settings, self.dreamer
        assert self.flow is not None and self._gray is not None and self._residual is not None
        back = self.flow(gray, self._gray)  # on this frame's grid, into the previous frame
        unreliable = occlusion_mask(back, self.flow(self._gray, gray))
        self.last_unreliable = float(unreliable.mean())
        if self.last_unreliable > CUT_UNRELIABLE:
            return None
        size = small.shape[:2]
        reliable = 1.0 - cv2.GaussianBlur(unreliable, (0, 0), 1.0)
        if reliable.shape != size:
            reliable = cv2.resize(reliable, (size[1], size[0]), interpolation=cv2.INTER_LINEAR)
        carried = warp(
            self._residual, upscale_flow(back, size), mode="bicubic"
        )  # bilinear blurs the dream frame after frame
        self._residual = None
        del back, unreliable
        x = self._start(to_tensor(small, d.device), carried, torch.from_numpy(reliable).to(d.device))
        del carried, reliable
        tint = self._tint_base(small)
        for _ in range(s.steps_per_frame):  # one at a time: each x is let go once stepped
            x = d.ascend(x, 1, d.settings.step_size * s.step_scale, base=tint)
        return x
