"""Printing results: fixed-width tables whose titles line up with their figures, JSON, progress lines."""
from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

_SPEC = re.compile(r"(?:.?(?P<align>[<>^=]))?[+\- ]?z?#?0?(?P<width>\d*)[_,]?(?:\.\d+)?(?P<type>[a-zA-Z%]?)$")


def title_spec(spec: str) -> str:
    """The alignment and width of a format ``spec`` (``"9.2e"`` -> ``">9"``): where its title goes.

    Without an alignment, numbers (a presentation type other than ``s``) go right, text left, as ``format`` does.
    """
    m = _SPEC.match(spec)
    if m is None:
        raise ValueError(f"{spec!r} is not a format spec")
    align = m["align"] or (">" if m["type"] and m["type"] != "s" else "<")
    return f"{align}{m['width']}"


class Table:
    """Columns of a title and a format spec each (``("runs", "5d")``, ``("mode", "<10")``), one space apart.

    ``header()`` is the titles, ``row(*values)`` one line of figures (fewer values: the first columns
    only; None prints ``-``; a pre-formatted string takes the column's width).
    """

    def __init__(self, *columns: tuple[str, str]) -> None:
        self.columns = columns

    def header(self) -> str:
        return " ".join(format(title, title_spec(spec)) for title, spec in self.columns)

    def row(self, *values: Any) -> str:
        if len(values) > len(self.columns):
            raise ValueError(f"{len(values)} values for {len(self.columns)} columns")
        cells = []
        for value, (_, spec) in zip(values, self.columns):
            if value is None:
                cells.append(format("-", title_spec(spec)))
            elif isinstance(value, str):
                cells.append(format(value, title_spec(spec)))
            else:
                cells.append(format(value, spec))
        return " ".join(cells)


def print_json(obj: Any, indent: int | None = 2) -> None:
    """``obj`` as JSON on stdout."""
    print(json.dumps(obj, indent=indent))


def print_result(result: Any, as_json: bool, report: Callable[[Any], None]) -> None:
    """``result`` as JSON on stdout, or as ``report`` prints it."""
    if as_json:
        print_json(result)
    else:
        report(result)


def write_json(obj: Any, path: Path) -> None:
    """``obj`` as indented JSON in ``path`` (its folder made if missing)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=2) + "\n")


def progress(quiet: bool) -> Callable[..., None]:
    """A ``print`` to stderr for progress lines (flushed), or one that prints nothing when ``quiet``."""
    if quiet:
        return lambda *parts: None
    return lambda *parts: print(*parts, file=sys.stderr, flush=True)
