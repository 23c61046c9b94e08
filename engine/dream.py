"""Octave gradient ascent: the DeepDream loop.

Images are float RGB tensors in ``[0, 1]`` shaped ``(1, 3, H, W)`` on the model's device.
"""
from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import torch
from torch import Tensor

from engine.colour import ColourProbe, colour_pull, probe_ramp
from engine.errors import ConfigError
from engine.fields import Rule, check_fields, setting
from engine.filters import (
    MAX_OCTAVES,
    decorrelate_color,
    gaussian_blur,
    laplacian_normalize,
    mean_abs_normalize,
    octave_sizes,
    resize,
    roll,
)
from engine.models.registry import DreamModel
from engine.objectives import CROPS, FULL, Objective
from engine.tiles import TILE_MARGIN, needs_tiles, tiled_grad

GRAD_NORMS = ("laplacian", "mean")
#: Colour ramps a dreamer keeps, the newest (a probe costs a few seconds; the table's are looked up again at once).
MAX_RAMPS = 64
PRECISIONS = ("fp32", "bf16", "fp16")


@dataclass(frozen=True)
class DreamSettings:
    """How one image is dreamed.

    ``step_size`` is in ``[0, 1]`` pixel units per step of the normalised gradient;
    ``jitter`` is the largest random shift in pixels (undone exactly after each step);
    ``band_falloff`` weights each finer Laplacian band of the gradient by that fraction of the
    next coarser one (1 = all bands equal; below 1 favours large shapes, as class dreams need);
    ``smooth`` is the Gaussian sigma in pixels applied to the gradient (0 = off);
    ``crops`` random crops of ``crop_min``..1 of the short side feed class objectives, resized
    to ``crop_size`` pixels (0 = the model's classifier size; smaller is cheaper).
    ``colour`` is the colour prior's pull per step (0 = off; see :mod:`engine.colour`): what the
    dream draws moves that fraction toward the objective's own colours, found by dreaming
    ``colour_probe_size``-pixel TV static ``colour_probe_steps`` steps.
    ``tile_size``: images of more than two tiles' pixels (``2 * tile_size ** 2``) get their gradient
    in tiles of at most this many pixels a side (:mod:`engine.tiles`), so memory stays bounded at
    any size (0 = never). 768: 1280x720 and smaller are dreamed whole (tiles cost time: each window
    reads a margin of context), 1920x1080 and 4K in tiles, which is faster there than tiles of 1024
    and takes less memory (a 4K step in about 1.6 GB; ``scripts/bench_tiles.py``).
    """

    octaves: int = setting(4, Rule(1, MAX_OCTAVES), "octaves: the image is dreamed at this many sizes, smallest first")
    octave_scale: float = setting(1.4, Rule(1.05, 4.0), "each octave this many times the size of the one before")
    steps: int = setting(10, Rule(0, 500), "gradient steps per octave")
    step_size: float = setting(0.008, Rule(0.0, 1.0), "per step, in [0, 1] pixel units of the normalised gradient")
    jitter: int = setting(16, Rule(0, 256), "random shift in pixels, undone exactly after each step")
    grad_norm: str = setting("laplacian", Rule(choices=GRAD_NORMS),
        "laplacian (per-band RMS) or mean (classic mean |g|)")
    pyramid_levels: int = setting(4, Rule(1, 8),
        "bands of the Laplacian pyramid the gradient is normalised in (laplacian)")
    band_falloff: float = setting(1.0, Rule(0.05, 1.0),
        "weight of each finer gradient band relative to the next coarser (laplacian)")
    smooth: float = setting(0.0, Rule(0.0, 20.0), "Gaussian sigma (px) applied to the gradient")
    decorrelate: bool = setting(False, help="take steps in a decorrelated colour space")
    crops: int = setting(4, Rule(1, 64), "random crops per step for class targets")
    crop_min: float = setting(0.35, Rule(0.05, 1.0), "the smallest class crop, a fraction of the image's short side")
    crop_size: int = setting(0, Rule(0, 1024), "side the class crops are resized to; 0 = the model's classifier size")
    colour: float = setting(0.0, Rule(0.0, 1.0),
        "colour prior for class targets: pull toward the class's own colours (0 = off)")
    colour_probe_steps: int = setting(
        30, Rule(1, 500), "steps of the colour probe (TV static dreamed to find a class's colours)"
    )
    colour_probe_size: int = setting(96, Rule(16, 512), "side of the TV static the colour probe dreams")
    min_value: float = setting(0.0, Rule(-1.0, 1.0), "lowest pixel value the dream may reach (0-1 units)")
    max_value: float = setting(1.0, Rule(0.0, 2.0), "highest pixel value the dream may reach (0-1 units)")
    seed: int = setting(0, Rule(0, 2**63 - 1),
        "random seed of the jitter, crops and TV static: the same seed, the same dream")
    precision: str = setting("fp32", Rule(choices=PRECISIONS), "fp32, bf16 (CPU, CUDA), fp16 (CUDA, MPS)")
    tile_size: int = setting(768, Rule(128, 16384, off=0),
        "frames over 2 x 768 x 768 pixels are dreamed in tiles this big (bounded memory); 0 = never")

    def __post_init__(self) -> None:
        check_fields(self)  # the fields' own rules, as the config loader checks them
        if self.min_value >= self.max_value:
            raise ConfigError(f"min_value {self.min_value} must be below max_value {self.max_value}")


def autocast(device: torch.device, precision: str) -> contextlib.AbstractContextManager[None]:
    """Autocast context for ``precision`` on ``device`` (``fp32`` = none).

    fp16 is only offered on CUDA and MPS; bf16 on CPU and CUDA.
    """
    if precision == "fp32":
        return contextlib.nullcontext()
    dtype = torch.bfloat16 if precision == "bf16" else torch.float16
    if precision == "fp16" and device.type == "cpu":
        raise ConfigError("precision 'fp16' is not supported on the CPU; use 'bf16' or 'fp32'")
    return torch.autocast(device_type=device.type, dtype=dtype)


def random_crops(x: Tensor, n: int, size: int, min_frac: float, gen: torch.Generator) -> Tensor:
    """``n`` random square crops of ``x`` ``(1, 3, H, W)``, each resized to ``(n, 3, size, size)``."""
    h, w = x.shape[-2:]
    short = min(h, w)
    crops = []
    for _ in range(n):
        frac = min_frac + (1 - min_frac) * torch.rand((), generator=gen).item()
        side = max(8, int(short * frac))
        top = int(torch.randint(0, h - side + 1, (), generator=gen))
        left = int(torch.randint(0, w - side + 1, (), generator=gen))
        crops.append(resize(x[:, :, top:top + side, left:left + side], (size, size)))
    return torch.cat(crops)


class Dreamer:
    """Runs gradient ascent of an :class:`Objective` through a :class:`DreamModel`.

    Holds the model, the settings and a seeded generator; deterministic on the CPU for a
    fixed seed.
    """

    def __init__(self, model: DreamModel, objective: Objective, settings: DreamSettings) -> None:
        self.model = model
        self.objective = objective
        self.settings = settings
        self.device = next(model.parameters()).device
        self.channels_last = (
            next(model.parameters()).is_contiguous(memory_format=torch.channels_last) and self.device.type != "mps"
        )
        self.gen = torch.Generator(device="cpu").manual_seed(settings.seed)
        self.ramps: dict[str, Tensor] = {}  # colour ramps (engine.colour) by objective name (remember_ramp)
        autocast(self.device, settings.precision)  # validates precision for the device

    def _acts(self, x: Tensor) -> dict[str, dict[str, Tensor]]:
        s, needs = self.settings, self.objective.needs
        acts: dict[str, dict[str, Tensor]] = {}
        if FULL in needs:
            xf = x.contiguous(memory_format=torch.channels_last) if self.channels_last else x
            acts[FULL] = self.model.features(xf, sorted(needs[FULL]))
        if CROPS in needs:
            crops = random_crops(x, s.crops, s.crop_size or self.model.spec.class_size, s.crop_min, self.gen)
            if self.channels_last:
                crops = crops.contiguous(memory_format=torch.channels_last)
            acts[CROPS] = self.model.features(crops, sorted(needs[CROPS]))
        return acts

    def step(self, x: Tensor, step_size: float | None = None) -> tuple[Tensor, float]:
        """One jittered, normalised gradient step on ``x`` ``(1, 3, H, W)``; returns it and the objective."""
        grad, loss = self.gradient(x)
        return self.climb(x, grad, step_size), loss

    def gradient(self, x: Tensor) -> tuple[Tensor, float]:
        """The raw gradient at ``x`` ``(1, 3, H, W)``, jittered (and tiled, if large): float32 NCHW, and the objective.

        The network's part of :meth:`step` (a live dream takes it on another thread: :mod:`engine.step_worker`).
        """
        s = self.settings
        dy = dx = 0
        if s.jitter > 0:
            dy, dx = (int(v) for v in torch.randint(-s.jitter, s.jitter + 1, (2,), generator=self.gen))
        if needs_tiles(x.shape[-2], x.shape[-1], s.tile_size):
            # The windows are gathered from x as rolled: no rolled copies of a large image (100 MB at 4K).
            grad, loss = tiled_grad(self._grad, x.detach(), s.tile_size, TILE_MARGIN, self.gen, shift=(dy, dx))
        else:
            grad, loss = self._grad(roll(x.detach(), dy, dx))
            grad = roll(grad.float(), -dy, -dx)
        # The gradient comes back channels_last from the model; the 3-channel filters of :meth:`climb`
        # (Laplacian pyramid: pooling, bilinear upsampling) are several times faster on NCHW.
        return grad.float().contiguous(), loss

    def climb(self, x: Tensor, grad: Tensor, step_size: float | None = None) -> Tensor:
        """``x`` moved ``step_size`` along ``grad`` (:meth:`gradient`) after the image priors: smoothed,
        decorrelated and normalised (``grad`` is used up)."""
        s = self.settings
        if s.smooth > 0:
            grad = gaussian_blur(grad, s.smooth)
        if s.decorrelate:
            grad = decorrelate_color(grad)
        if s.grad_norm == "laplacian":
            grad = laplacian_normalize(grad, s.pyramid_levels, s.band_falloff)
        else:
            grad = mean_abs_normalize(grad)
        size = s.step_size if step_size is None else step_size
        return grad.mul_(size).add_(x.detach()).clamp_(s.min_value, s.max_value)  # x + size * grad

    def _grad(self, x: Tensor) -> tuple[Tensor, float]:
        """The raw gradient of the objective at ``x`` ``(1, 3, h, w)`` and the objective's value."""
        x = x.detach().requires_grad_(True)
        with autocast(self.device, self.settings.precision):
            loss = self.objective(self._acts(x))
        (grad,) = torch.autograd.grad(loss, x)
        return grad, float(loss.detach())

    def ascend(self, x: Tensor, steps: int, step_size: float | None = None, base: Tensor | None = None) -> Tensor:
        """``steps`` gradient steps at the current size of ``x`` ``(1, 3, H, W)``.

        With ``base`` (the plain picture under ``x``) and the colour prior on, each step also
        turns what the dream drew toward the objective's colours (:meth:`tint`).
        """
        ramp = self.colour_ramp() if base is not None else None
        for _ in range(steps):
            x, _ = self.step(x, step_size)
            x = self.tint(x, base, ramp)
        return x

    def tint(self, x: Tensor, base: Tensor | None, ramp: Tensor | None) -> Tensor:
        """``x`` with the colour prior's pull of one step (:func:`engine.colour.colour_pull`); as is without a ramp."""
        if ramp is None or base is None:
            return x
        s = self.settings
        return (x + colour_pull(x, x - base, ramp, s.colour)).clamp_(s.min_value, s.max_value)

    def colour_probe(self) -> ColourProbe:
        """A probe of the current objective's colours (advance it with ``lambda x: self.step(x)[0]``)."""
        s = self.settings
        return ColourProbe(s.colour_probe_size, s.colour_probe_steps, self.gen, self.device)

    def colour_ramp(self) -> Tensor | None:
        """The objective's colour ramp ``(L, 3)``, probed now unless cached; None when ``colour`` is 0."""
        if self.settings.colour <= 0:
            return None
        name = self.objective.name
        if name not in self.ramps:
            s = self.settings
            state = self.gen.get_state()  # the probe leaves the dream's random sequence as it was
            self.remember_ramp(name, probe_ramp(lambda x: self.step(x)[0], s.colour_probe_size,
                                                s.colour_probe_steps, self.gen, self.device))
            self.gen.set_state(state)
        return self.ramps[name]

    def remember_ramp(self, name: str, ramp: Tensor) -> None:
        """Keep objective ``name``'s colour ramp ``(L, 3)``; past :data:`MAX_RAMPS` the oldest is forgotten (a
        stream that dreams a new mix of classes every minute for hours keeps a few KiB, not one ramp each)."""
        self.ramps.pop(name, None)
        self.ramps[name] = ramp
        while len(self.ramps) > MAX_RAMPS:
            del self.ramps[next(iter(self.ramps))]

    def octaves(self, image: Tensor, progress: Callable[[int, int], None] | None = None) -> Tensor:
        """The full octave dream of ``image`` ``(1, 3, H, W)`` in ``[0, 1]``; returns the same shape.

        The dream detail (dreamed minus base) found at each coarse octave is upscaled and
        added to the next finer base image.
        """
        s = self.settings
        h, w = image.shape[-2:]
        sizes = octave_sizes(h, w, s.octaves, s.octave_scale)
        ramp = self.colour_ramp()
        total, done = len(sizes) * s.steps, 0
        detail = torch.zeros_like(resize(image, sizes[0]))
        for size in sizes:
            base = resize(image, size)
            x = (base + resize(detail, size)).clamp(s.min_value, s.max_value)
            for _ in range(s.steps):
                x, _ = self.step(x)
                x = self.tint(x, base, ramp)
                done += 1
                if progress is not None:
                    progress(done, total)
            detail = x - base
        return (image + resize(detail, (h, w))).clamp(s.min_value, s.max_value)


def prepare_model(model: DreamModel, device: str | torch.device = "cpu", channels_last: bool = True) -> DreamModel:
    """Move ``model`` to ``device`` (``channels_last`` on CPU/CUDA, where it is faster)."""
    device = torch.device(device)
    model = model.to(device)
    if channels_last and device.type in ("cpu", "cuda"):
        model = model.to(memory_format=torch.channels_last)
    return model


def resolve_device(name: str) -> torch.device:
    """``"auto"`` picks CUDA, then MPS, then the CPU; otherwise checks that ``name`` is usable."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except RuntimeError as e:
        raise ConfigError(f"device {name!r} is not valid; use auto, cpu, cuda, cuda:N or mps") from e
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device {name!r} is not available here (no CUDA); use auto or cpu")
    if device.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ConfigError(f"device {name!r} is not available here (no MPS); use auto or cpu")
    if device.type not in ("cpu", "cuda", "mps"):
        raise ConfigError(f"device {name!r} is not supported; use auto, cpu, cuda, cuda:N or mps")
    return device


@contextlib.contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """Temporarily set torch's intra-op thread count (``None`` leaves it)."""
    if n is None:
        yield
        return
    old = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)
