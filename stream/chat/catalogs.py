"""What chat looks names up in: ImageNet classes and a model's layers, loaded on first use."""
from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Protocol

from engine.errors import DreamError
from engine.targets import Target, TargetSyntaxError, compact_target, format_target, parse_target
from stream.chat.parse import clean_reply, echo, suggestions
from stream.settings.names import NUM_CLASSES


class TargetProblem(ValueError):
    """A ``!dream`` text that names no target; ``str()`` is the reply's problem, echo-safe."""


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

    def target(self, query: str, max_terms: int) -> tuple[int | Target, str]:
        """``!dream`` text -> (class index, or weighted classes for ``banana*0.7+dog``; echo-safe label).

        Raises :class:`TargetProblem` saying what is wrong: the syntax, or an unknown class with
        suggestions.
        """
        classes = self.classes
        try:
            terms = parse_target(query, lambda q: int(classes.find_class(q)), max_terms)
        except TargetSyntaxError as e:
            raise TargetProblem(clean_reply(str(e), 200)) from None
        except DreamError as e:
            raise TargetProblem(f"no class '{echo(query)}'{suggestions(e)}") from None
        if not all(0 <= t.index < NUM_CLASSES for t in terms):
            raise TargetProblem(f"no class '{echo(query)}'")
        return compact_target(terms), echo(format_target(terms, classes.display_name), 60)
