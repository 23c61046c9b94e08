"""A colour prior for class dreams: what the dream draws takes the class's own colours.

A class dream on a photo keeps the photo's palette (a blue lemon on a blue sky): ImageNet
networks read shape and texture first, and the normalised gradient barely moves the colours.
The prior has two parts:

* :func:`probe_ramp`: the class's colours *from the classifier's own gradient*. A small image
  of grey TV static is dreamed toward the target for a few steps (cycling octave scales); the
  network paints it in the colours it expects. :func:`colour_ramp` reads those colours as a
  ramp, the mean chroma at each of a few luminance levels (dark to light), so shading and
  colour stay paired (a banana: brown-green shadows, yellow body, pale highlights).
* :func:`colour_pull`: each step, where the dream has drawn something (the residual's detail,
  blurred into an activity map), the pixel's chroma moves a fraction toward the ramp's chroma
  at the pixel's own luminance. Luminance, and with it the drawn shape, is untouched; the
  untouched parts of the scene keep their colours.

Images are float RGB ``(1, 3, H, W)`` in ``[0, 1]``; a ramp is ``(L, 3)``, darkest level first.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor

from engine.filters import gaussian_blur, resize

_LUMA = (0.299, 0.587, 0.114)


def luminance(x: Tensor) -> Tensor:
    """Rec. 601 luma of ``x`` ``(B, 3, H, W)`` as ``(B, 1, H, W)``."""
    w = torch.tensor(_LUMA, device=x.device, dtype=x.dtype).view(1, 3, 1, 1)
    return (x * w).sum(1, keepdim=True)


def tv_static(height: int, width: int, gen: torch.Generator, grain: int = 2, contrast: float = 0.7) -> Tensor:
    """Television static: grey-ish uniform noise in ``grain``-pixel cells, ``(1, 3, height, width)``.

    Mostly luminance noise (``contrast`` its range) with a little colour noise, mid-grey on
    average, like an analogue TV with no signal.
    """
    h, w = max(1, -(-height // grain)), max(1, -(-width // grain))
    luma = torch.rand(1, 1, h, w, generator=gen)
    chroma = (torch.rand(1, 3, h, w, generator=gen) - 0.5) * (0.43 * contrast)
    x = (0.5 + contrast * (luma - 0.5) + chroma).clamp(0, 1)
    return torch.nn.functional.interpolate(x, size=(height, width), mode="nearest")


def colour_ramp(image: Tensor, levels: int = 5, weight: Tensor | None = None, colours: Tensor | None = None) -> Tensor:
    """Mean chroma (colour minus luma) of ``image`` at ``levels`` luminance levels, as ``(levels, 3)``.

    Pixels are soft-assigned to evenly spaced levels between the image's 2nd and 98th luminance
    percentile; ``weight`` ``(1, 1, H, W)`` weighs pixels (default all 1). A level with no pixels
    takes its neighbours' chroma. With ``colours`` (same shape as ``image``) the chroma is
    ``colours``' instead, placed by ``image``'s luminance.
    """
    x = image.detach().float()
    y = luminance(x)
    c = x if colours is None else colours.detach().float()
    chroma = (c - luminance(c)).flatten(2)[0]  # (3, N)
    yf = y.flatten()
    wf = torch.ones_like(yf) if weight is None else weight.detach().float().flatten()
    lo, hi = torch.quantile(yf, 0.02), torch.quantile(yf, 0.98)
    centres = torch.linspace(0, 1, levels, device=x.device) * (hi - lo).clamp_min(1e-3) + lo
    spacing = (hi - lo).clamp_min(1e-3) / max(1, levels - 1)
    assign = torch.exp(-0.5 * ((yf[None] - centres[:, None]) / spacing).square()) * wf[None]  # (L, N)
    mass = assign.sum(1, keepdim=True)
    ramp = (assign @ chroma.t()) / mass.clamp_min(1e-6)  # (L, 3)
    empty = mass[:, 0] < 1e-3 * mass.sum()
    if bool(empty.any()) and not bool(empty.all()):
        filled = (~empty).nonzero()[:, 0]
        for i in empty.nonzero()[:, 0].tolist():
            ramp[i] = ramp[filled[(filled - i).abs().argmin()]]
    return ramp


def ramp_chroma(y: Tensor, ramp: Tensor) -> Tensor:
    """The ramp's chroma at luminance ``y`` ``(B, 1, H, W)`` in ``[0, 1]``: ``(B, 3, H, W)``, linearly interpolated."""
    levels = ramp.shape[0]
    pos = (y.clamp(0, 1) * (levels - 1)).squeeze(1)  # (B, H, W)
    i0 = pos.floor().long().clamp(0, levels - 1)
    i1 = (i0 + 1).clamp(max=levels - 1)
    f = (pos - i0.float()).unsqueeze(1)
    r = ramp.to(y.device, y.dtype)
    c0, c1 = r[i0].permute(0, 3, 1, 2), r[i1].permute(0, 3, 1, 2)
    return c0 + (c1 - c0) * f


def activity(residual: Tensor, sigma: float = 3.0) -> Tensor:
    """Where the dream has drawn something, ``(B, 1, H, W)`` in ``[0, 1]``.

    The residual's detail (minus its 8x-coarse part), its magnitude blurred by ``sigma``
    pixels, divided by its 95th percentile and clipped at 1.
    """
    h, w = residual.shape[-2:]
    coarse = resize(resize(residual, (max(1, h // 8), max(1, w // 8))), (h, w))
    energy = gaussian_blur((residual - coarse).abs().sum(1, keepdim=True), sigma)
    top = torch.quantile(energy.flatten(), 0.95).clamp_min(1e-4)
    return (energy / top).clamp(0, 1)


def colour_pull(x: Tensor, residual: Tensor, ramp: Tensor, strength: float) -> Tensor:
    """The chroma change of one step: ``strength`` of the way from ``x``'s chroma to the ramp's.

    ``x`` ``(1, 3, H, W)`` is the dreamed image and ``residual`` (same shape) the dream so far
    (``x`` minus the plain frame), which places the pull. The change has zero luminance.
    """
    y = luminance(x)
    target = ramp_chroma(y, ramp)
    # ramp levels span the probe's luminance range; map the pixel's luminance onto it
    return strength * activity(residual) * (target - (x - y))


#: The probe's colours are faint (a few dozen steps on static); what it finds is the hue, and
#: the pull aims at this many times its saturation. Grey classes (a zebra) stay grey.
PROBE_GAIN = 2.5


class ColourProbe:
    """Finds a class's colour ramp a step at a time (so a live dream can spread it over frames).

    Dreams ``size`` x ``size`` TV static toward the objective with ``step(x) -> x`` (one
    gradient step, e.g. ``Dreamer.step``), cycling over ``scales`` of ``size`` as the live dream
    does; after ``steps`` steps :attr:`ramp` is the :func:`colour_ramp` of what the dream
    changed (the static's own colour noise left out), weighted by where it drew and by how
    colourful the change is, times :data:`PROBE_GAIN`.
    """

    def __init__(self, size: int, steps: int, gen: torch.Generator, device: torch.device | str = "cpu",
                 scales: Sequence[float] = (1.0, 0.7, 0.5, 0.35, 0.25)) -> None:
        self.size, self.steps, self.scales = size, steps, tuple(scales)
        self.base = tv_static(size, size, gen, grain=4, contrast=0.25).to(device)  # faint: the dream's colours show
        self.x = self.base
        self.done_steps = 0
        self.ramp: Tensor | None = None

    @property
    def done(self) -> bool:
        return self.ramp is not None

    def advance(self, step: Callable[[Tensor], Tensor]) -> None:
        """One probe step; the last one sets :attr:`ramp`."""
        if self.done:
            return
        f = self.scales[self.done_steps % len(self.scales)]
        s = max(16, round(self.size * f))
        small = resize(self.x, (s, s))
        self.x = (self.x + resize(step(small) - small, (self.size, self.size))).clamp(0, 1)
        self.done_steps += 1
        if self.done_steps >= self.steps:
            change = self.x - self.base
            saturation = (change - luminance(change)).square().sum(1, keepdim=True).sqrt()
            weight = activity(change).square() * saturation
            self.ramp = PROBE_GAIN * colour_ramp(self.x, weight=weight, colours=change)


def probe_ramp(step: Callable[[Tensor], Tensor], size: int, steps: int, gen: torch.Generator,
               device: torch.device | str = "cpu") -> Tensor:
    """The class's colour ramp ``(L, 3)`` from a :class:`ColourProbe` run to the end at once."""
    probe = ColourProbe(size, max(1, steps), gen, device)
    while not probe.done:
        probe.advance(step)
    assert probe.ramp is not None
    return probe.ramp
