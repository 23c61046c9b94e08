"""A model with its packaged weights, importing no more than that needs (child processes that measure
their memory import this alone)."""
from __future__ import annotations

import torch

from engine.dream import prepare_model
from engine.models.registry import DreamModel, build_model, get_spec
from stream.io.weights import load_state_dict


def dream_model(name: str, device: str | torch.device = "cpu", channels_last: bool = True) -> DreamModel:
    """Model ``name`` with its packaged weights on ``device`` (:func:`engine.dream.prepare_model`)."""
    return prepare_model(build_model(name, load_state_dict(get_spec(name))), device, channels_last)
