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
  blurred into an activity map: the most drawn part of the picture, never all of it), the
  pixel's chroma moves a fraction toward the ramp's hue at the pixel's own luminance, never
  losing saturation. Luminance, and with it the drawn shape, is untouched; the untouched parts
  of the scene keep their colours.

Images are float RGB ``(1, 3, H, W)`` in ``[0, 1]``; a ramp is ``(L, 3)``, darkest level first.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor

from engine.filters import gaussian_blur, lowpass, resize, shrink, upsample

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


def saturation(chroma: Tensor) -> Tensor:
    """The length of chroma vectors ``(B, 3, H, W)`` as ``(B, 1, H, W)`` (``Tensor.norm`` over channels is slow on
    CPU)."""
    return chroma.square().sum(1, keepdim=True).sqrt()


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


#: Residual detail (``[0, 1]`` pixel units, summed over RGB) at which a pixel counts as fully drawn.
DRAWN = 0.25
#: A pixel stands out as drawn from nothing at the first quantile of the picture's activity to all at the second.
DRAWN_QUANTILES = (0.65, 0.96)


def activity(residual: Tensor, sigma: float = 3.0, drawn: float | None = DRAWN) -> Tensor:
    """Where the dream has drawn something, ``(B, 1, H, W)`` in ``[0, 1]``.

    The residual's detail (minus its 8x-coarse part), its magnitude blurred by ``sigma``
    pixels. With ``drawn``, a pixel is fully active where that magnitude reaches ``drawn`` and only
    where it stands out: from nothing at the picture's 65th percentile to all at its 96th (the most
    drawn third of the picture, never all of it: the sky around a drawn lemon stays blue); with
    None it is divided by its 95th percentile (the probe: all of the static is drawn).
    """
    h, w = residual.shape[-2:]
    detail = (residual - lowpass(residual, 8)).abs().sum(1, keepdim=True)
    # blurred and measured at a quarter of the size (a quarter of the cost), then scaled back up
    small = gaussian_blur(shrink(detail, 4), max(0.5, sigma / 4))
    if drawn is None:
        act = (small / torch.quantile(small.flatten(), 0.95).clamp_min(1e-4)).clamp(0, 1)
    else:
        low, top = torch.quantile(
            small.flatten(), torch.tensor(DRAWN_QUANTILES, dtype=small.dtype, device=small.device)
        )
        act = ((small - low) / (top - low).clamp_min(1e-4)).clamp(0, 1) * (small / drawn).clamp(0, 1)
    return upsample(act, (h, w))


#: The pull's activity map is blurred by this many pixels of the half-resolution picture (12 of a
#: 640-pixel frame): the colour fills the drawn objects, not only their edges.
OBJECT_SIGMA = 6.0
#: Ramp chroma (the length of the chroma vector, ``[0, 1]`` units) from which a class counts as
#: coloured: a greyer ramp pulls proportionally less (a zebra leaves the scene's colours alone).
COLOURED = 0.08


def colour_pull(x: Tensor, residual: Tensor, ramp: Tensor, strength: float) -> Tensor:
    """The chroma change of one step: ``strength`` of the way toward the ramp's hue, where the dream drew.

    ``x`` ``(1, 3, H, W)`` is the dreamed image and ``residual`` (same shape) the dream so far
    (``x`` minus the plain frame), which places the pull (:func:`activity`): the rest of the
    picture keeps its own colours. The target has the ramp's hue at the pixel's luminance and at
    least the saturation of the pixel and of the plain frame there, so the pull turns colours,
    never greys them; a grey ramp pulls little (:data:`COLOURED`). The change has zero luminance;
    it is found at half resolution (colour needs less detail than shading, as in 4:2:0 video;
    averaged 2x2, a twentieth of an antialiased resize's time) and scaled up.
    """
    h, w = x.shape[-2:]
    x, residual = shrink(x, 2), shrink(residual, 2)  # a quarter of the pixels
    y = luminance(x)
    chroma = x - y
    ramp_c = ramp_chroma(y, ramp)
    ramp_c = ramp_c - luminance(ramp_c)  # chroma only, whatever the ramp holds
    ramp_sat = saturation(ramp_c)
    base = x - residual
    own_sat = torch.maximum(saturation(chroma), saturation(base - luminance(base)))
    target = ramp_c * (torch.maximum(ramp_sat, own_sat) / ramp_sat.clamp_min(1e-4))
    coloured = (ramp_sat / COLOURED).clamp(0, 1)
    change = strength * activity(residual, sigma=OBJECT_SIGMA) * coloured * (target - chroma)
    return upsample(change, (h, w))


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
            weight = activity(change, drawn=None).square() * saturation(change - luminance(change))
            self.ramp = PROBE_GAIN * colour_ramp(self.x, weight=weight, colours=change)


def mix_ramps(ramps: Sequence[Tensor], weights: Sequence[float]) -> Tensor:
    """The ramp of a target of several classes: their ramps ``(L, 3)`` averaged with ``weights``."""
    total = float(sum(weights))
    return sum((w / total) * r for r, w in zip(ramps, weights))  # type: ignore[return-value]


def probe_ramp(step: Callable[[Tensor], Tensor], size: int, steps: int, gen: torch.Generator,
               device: torch.device | str = "cpu") -> Tensor:
    """The class's colour ramp ``(L, 3)`` from a :class:`ColourProbe` run to the end at once."""
    probe = ColourProbe(size, max(1, steps), gen, device)
    while not probe.done:
        probe.advance(step)
    assert probe.ramp is not None
    return probe.ramp
