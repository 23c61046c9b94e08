"""What chat looks names up in: ImageNet classes and a model's layers, loaded on first use."""
from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Protocol


class ClassCatalog(Protocol):
    """What the command layer needs from ``engine.imagenet``."""

    def find_class(self, query: str) -> int: ...

    def search(self, query: str, limit: int) -> list[tuple[int, str]]: ...

    def display_name(self, index: int) -> str: ...


class LayerCatalog(Protocol):
    """What the command layer needs from ``engine.models.registry.get_spec(model)``.

    Chat lists and labels layers with it; it resolves them through the board
    (:meth:`~stream.settings.controls.ControlBoard.resolve_layer`).
    """

    default_layer: str
    aliases: dict[str, str]

    @property
    def layer_names(self) -> tuple[str, ...]: ...


class Catalogs:
    """``classes`` defaults to ``engine.imagenet``, ``spec(model)`` to the registry's ``get_spec``."""

    def __init__(self, classes: ClassCatalog | None = None,
                 model_spec: Callable[[str], LayerCatalog] | None = None) -> None:
        self._classes = classes
        self._model_spec = model_spec

    @property
    def classes(self) -> ClassCatalog:
        if self._classes is None:
            self._classes = importlib.import_module("engine.imagenet")  # type: ignore[assignment]
        return self._classes  # type: ignore[return-value]

    def spec(self, model: str) -> LayerCatalog:
        if self._model_spec is None:
            from engine.models.registry import get_spec

            self._model_spec = get_spec
        return self._model_spec(model)
