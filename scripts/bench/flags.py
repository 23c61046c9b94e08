"""Command-line values the benchmarks share: ``WIDTHxHEIGHT`` sizes, ``section.key=value`` config overrides,
and the flags that read them (with one spelling and one help text everywhere)."""
from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch


def size(text: str, minimum: int = 1) -> tuple[int, int]:
    """``"640x360"`` -> ``(640, 360)`` (width, height); both sides at least ``minimum`` pixels.

    Raises :class:`argparse.ArgumentTypeError` (argparse prints its message) for anything else.
    """
    try:
        w, h = (int(v) for v in text.strip().lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"size {text!r} is not WIDTHxHEIGHT, e.g. 640x360") from None
    if w < minimum or h < minimum:
        raise argparse.ArgumentTypeError(f"size {text!r} is too small; both sides must be at least {minimum}")
    return w, h


def sizes(text: str, minimum: int = 1) -> list[tuple[int, int]]:
    """``"640x360,1280x720"`` -> ``[(640, 360), (1280, 720)]``, each checked as :func:`size` does."""
    return [size(part, minimum) for part in text.split(",")]


def size_name(wh: tuple[int, int]) -> str:
    """``(640, 360)`` -> ``"640x360"``."""
    return f"{wh[0]}x{wh[1]}"


def device(text: str) -> torch.device:
    """``cpu``, ``cuda``, ``cuda:N``, ``mps`` or ``auto`` -> the device, checked usable here."""
    from engine.dream import resolve_device
    from engine.errors import DreamError

    try:
        return resolve_device(text)
    except DreamError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def names(allowed: Sequence[str]) -> Callable[[str], list[str]]:
    """An argparse type: a comma-separated list of ``allowed`` names (``"fp32,bf16"`` -> ``["fp32", "bf16"]``)."""

    def parse(text: str) -> list[str]:
        out = [v.strip() for v in text.split(",")]
        bad = [v for v in out if v not in allowed]
        if bad:
            raise argparse.ArgumentTypeError(f"{bad[0]!r} is not one of {', '.join(allowed)}")
        return out

    return parse


def setting(text: str) -> tuple[str, Any]:
    """``section.key=value`` -> ``("section.key", value)``, the value read as YAML (2, 0.5, true, dis)."""
    import yaml

    key, sep, value = text.partition("=")
    if not sep or "." not in key:
        raise argparse.ArgumentTypeError(f"{text!r}: expected section.key=value")
    return key.strip(), yaml.safe_load(value)


def parser(doc: str | None, prog: str | None = None) -> argparse.ArgumentParser:
    """An argument parser whose ``--help`` shows the script's docstring ``doc`` as written."""
    return argparse.ArgumentParser(prog=prog, description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)


def add_model(p: argparse.ArgumentParser) -> None:
    """``--model NAME``: a model of the registry (``dreamstream models``)."""
    p.add_argument("--model", default="efficientnet_lite0", help="the model (default efficientnet_lite0)")


def add_device(p: argparse.ArgumentParser, default: str) -> None:
    """``--device NAME`` (parsed to a usable :class:`torch.device`)."""
    p.add_argument("--device", type=device, default=default, help=f"cpu, cuda, cuda:N, mps or auto (default {default})")


def add_size(p: argparse.ArgumentParser, default: str, flag: str = "--size", what: str = "") -> None:
    """``--size WxH`` (parsed to ``(width, height)``)."""
    p.add_argument(flag, type=size, default=default, metavar="WxH",
                   help=f"{what or 'frame size'}, WIDTHxHEIGHT (default {default})")


def add_set(p: argparse.ArgumentParser) -> None:
    """``--set section.key=value``, repeatable; ``args.set`` is a list of ``(key, value)`` (``dict()`` it)."""
    p.add_argument("--set", type=setting, action="append", default=[], metavar="KEY=VALUE",
                   help="a config override, e.g. video.dream_max_side=384; repeatable")


def add_threads(p: argparse.ArgumentParser, default: int | None) -> None:
    """``--threads N``: torch's intra-op threads (None: torch's choice)."""
    choice = default if default is not None else "torch's choice"
    p.add_argument("--threads", type=int, default=default, help=f"torch intra-op threads (default {choice})")


def add_photo(p: argparse.ArgumentParser, default: str = "coffee") -> None:
    """``--photo NAME``: one of :data:`bench.media.PHOTOS`."""
    from bench.media import PHOTOS

    p.add_argument("--photo", choices=PHOTOS, default=default, help=f"scikit-image's sample photo (default {default})")


def add_keep(p: argparse.ArgumentParser) -> None:
    """``--keep FOLDER``: keep the clips and outputs there (default: a temporary folder)."""
    p.add_argument("--keep", type=Path, help="keep the clips and outputs in this folder")


def add_json(p: argparse.ArgumentParser) -> None:
    """``--json``: print one JSON object instead of the table."""
    p.add_argument("--json", action="store_true", help="print JSON only")
