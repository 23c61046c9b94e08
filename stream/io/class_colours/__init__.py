"""The colours of the 1000 ImageNet classes, probed once per model (``scripts/build_class_colours.py``).

A file ``MODEL.npy`` here holds ``(1000, L, 3)`` float16 colour ramps (:mod:`engine.colour`): the
class's chroma at L luminance levels, as :class:`engine.colour.ColourProbe` finds it. The live
dream takes a class's colours from here at once instead of probing them over its first frames;
a model without a table probes as before.
"""
from __future__ import annotations

import logging
from functools import lru_cache
from importlib import resources

import numpy as np
import torch
from torch import Tensor

from stream.settings.names import NUM_CLASSES

log = logging.getLogger(__name__)


def table_name(model: str) -> str:
    return f"{model}.npy"


@lru_cache(maxsize=4)
def class_colours(model: str) -> Tensor | None:
    """The ramps of ``model``'s classes ``(1000, L, 3)`` float32, or None when none were built for it."""
    path = resources.files(__name__).joinpath(table_name(model))
    if not path.is_file():
        return None
    with path.open("rb") as f:
        table = np.load(f)
    if table.ndim != 3 or table.shape[0] != NUM_CLASSES or table.shape[2] != 3:
        log.warning("class colour table %s has shape %s; ignored", table_name(model), table.shape)
        return None
    return torch.from_numpy(table.astype(np.float32))
