"""Class targets, one or two at once with weights: ``banana``, ``banana+goldfish``, ``banana*0.7+dog``.

The one parser for the CLI's ``--target``, the config's ``model.target`` and chat's ``!dream``.
A target is a tuple of :class:`TargetTerm` (class index, weight); :func:`target_objective`
turns it into the weighted sum of class objectives.
"""
from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from engine.errors import TargetError
from engine.objectives import Objective, klass

#: Most classes one target may name (chat limits may allow fewer).
MAX_TERMS = 2
MIN_WEIGHT, MAX_WEIGHT = 0.1, 1.0
_WEIGHT = re.compile(r"^\s*(?:(?P<pre>\d*\.?\d+)\s*\*\s*)?(?P<name>.*?)(?:\s*\*\s*(?P<post>\d*\.?\d+))?\s*$")


class TargetSyntaxError(TargetError):
    """A target text that is not ``name[*weight][+name[*weight]]`` (unknown names raise the lookup's error)."""


@dataclass(frozen=True)
class TargetTerm:
    """One class of a target: ImageNet ``index`` and its ``weight`` (``MIN_WEIGHT`` to ``MAX_WEIGHT``)."""

    index: int
    weight: float = 1.0


Target = tuple[TargetTerm, ...]


def parse_target(text: str, find_class: Callable[[str], int], max_terms: int = MAX_TERMS) -> Target:
    """Parse ``"banana*0.7+dog"`` into terms, looking each name up with ``find_class``.

    ``+`` joins classes (at most ``max_terms``); ``*W`` after or ``W*`` before a name weighs it
    (default 1, allowed ``MIN_WEIGHT`` to ``MAX_WEIGHT``). A class named twice is one term.
    Raises :class:`TargetSyntaxError` naming the bad part; lookup errors from ``find_class`` pass through.
    """
    parts = [p for p in (text or "").split("+")]
    if not text or not text.strip() or any(not p.strip() for p in parts):
        raise TargetSyntaxError(f"target {text!r} is empty or has an empty part; e.g. banana or banana*0.7+dog")
    if len(parts) > max_terms:
        raise TargetSyntaxError(f"target {text!r} names {len(parts)} classes; at most {max_terms} at once")
    terms: dict[int, float] = {}
    for part in parts:
        m = _WEIGHT.match(part)
        assert m is not None  # the pattern matches any text
        if m["pre"] and m["post"]:
            raise TargetSyntaxError(f"target part {part.strip()!r} has two weights; write name*0.5")
        weight = float(m["pre"] or m["post"] or 1.0)
        if not (math.isfinite(weight) and MIN_WEIGHT <= weight <= MAX_WEIGHT):
            raise TargetSyntaxError(
                f"weight {weight:g} in {part.strip()!r} is out of range; allowed {MIN_WEIGHT:g} to {MAX_WEIGHT:g}"
            )
        name = m["name"].strip()
        if not name or "*" in name:
            raise TargetSyntaxError(
                f"target part {part.strip()!r} is not a class with an optional weight, e.g. dog*0.5"
            )
        index = find_class(name)
        terms[index] = max(weight, terms.get(index, 0.0))
    return tuple(TargetTerm(i, w) for i, w in terms.items())


def target_terms(target: int | Sequence[TargetTerm]) -> Target:
    """A target as terms: a bare class index is one term of weight 1."""
    if isinstance(target, int):
        return (TargetTerm(target),)
    return tuple(target)


def compact_target(target: Sequence[TargetTerm]) -> int | Target:
    """A one-class, full-weight target as its bare class index; otherwise the terms (inverse of
    :func:`target_terms`)."""
    if len(target) == 1 and target[0].weight == 1:
        return target[0].index
    return tuple(target)


def format_target(target: Sequence[TargetTerm], display_name: Callable[[int], str]) -> str:
    """``"banana (0.7) + golden retriever"``-style text: names, with weights below 1 in brackets."""
    return " + ".join(display_name(t.index) + (f" ({t.weight:g})" if t.weight < 1 else "") for t in target)


def target_objective(target: Sequence[TargetTerm]) -> Objective:
    """The weighted sum of the terms' class objectives (weights normalised to sum 1)."""
    if not target:
        raise TargetSyntaxError("a target needs at least one class")
    if len(target) == 1:
        return klass(target[0].index)
    total = sum(t.weight for t in target)
    objective = (target[0].weight / total) * klass(target[0].index)
    for t in target[1:]:
        objective = objective + (t.weight / total) * klass(t.index)
    return objective
