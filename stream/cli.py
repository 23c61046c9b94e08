"""The ``dreamstream`` command line.

Every failure the user can cause ends as one line on stderr and a non-zero exit code;
``--debug`` shows the traceback.
"""
from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Sequence
from typing import Any, NoReturn

from engine.errors import DreamError

log = logging.getLogger("dreamstream")

# CLI flag -> dream setting; applied to both `dream` and `class_dream`.
DREAM_FLAGS = {
    "octaves": "octaves",
    "octave_scale": "octave_scale",
    "steps": "steps",
    "step_size": "step_size",
    "jitter": "jitter",
    "seed": "seed",
    "precision": "precision",
}
MODEL_FLAGS = {
    "model": "name",
    "weights": "weights",
    "device": "device",
    "threads": "threads",
    "layer": "layers",
    "channel": "channels",
    "target": "target",
    "guide": "guide",
}


def add_config_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("settings")
    g.add_argument("--config", metavar="FILE", help="a YAML file overriding config/default.yaml")
    g.add_argument("--preset", default="default", help="a preset from config/ (default: %(default)s)")


def add_dream_arguments(p: argparse.ArgumentParser) -> None:
    """The dream options shared by ``image``, ``video`` and ``live``."""
    add_config_arguments(p)
    g = p.add_argument_group("dream")
    g.add_argument("--model", help="model name (dreamstream models)")
    g.add_argument("--weights", metavar="PATH", help="a state dict for the model (instead of the download cache)")
    g.add_argument("--layer", action="append", metavar="L", help="layer or alias to amplify; repeat for several")
    g.add_argument("--channel", action="append", type=int, metavar="N", help="channel of the first layer; repeatable")
    g.add_argument("--target", metavar="CLASS", help="an ImageNet class to dream (dreamstream targets QUERY)")
    g.add_argument("--guide", metavar="IMAGE", help="a guide image whose features the dream matches")
    g.add_argument("--octaves", type=int, metavar="N")
    g.add_argument("--octave-scale", type=float, metavar="F")
    g.add_argument("--steps", type=int, metavar="N", help="gradient steps per octave")
    g.add_argument("--step-size", type=float, metavar="F")
    g.add_argument("--jitter", type=int, metavar="PX")
    g.add_argument("--seed", type=int, metavar="N")
    g.add_argument("--precision", choices=("fp32", "bf16", "fp16"))
    g.add_argument("--device", metavar="D", help="auto, cpu, cuda, cuda:N or mps")
    g.add_argument("--threads", type=int, metavar="N", help="torch threads (0 = default)")


def overrides_from_args(args: argparse.Namespace, extra: dict[str, str] | None = None) -> dict[str, Any]:
    """Dotted config overrides for every dream flag that was given."""
    out: dict[str, Any] = {}
    for flag, key in DREAM_FLAGS.items():
        value = getattr(args, flag, None)
        if value is not None:
            out[f"dream.{key}"] = value
            out[f"class_dream.{key}"] = value
    for flag, key in MODEL_FLAGS.items():
        value = getattr(args, flag, None)
        if value is not None:
            out[f"model.{key}"] = value
    for flag, dotted in (extra or {}).items():
        value = getattr(args, flag, None)
        if value is not None:
            out[dotted] = value
    return out


def config_from_args(args: argparse.Namespace, extra: dict[str, str] | None = None):  # -> Config
    from stream.config import load_config

    return load_config(args.preset, args.config, overrides_from_args(args, extra))


def cmd_image(args: argparse.Namespace) -> int:
    from engine.frames import to_image, to_tensor
    from stream.dreaming import setup_dream
    from stream.images import read_image, write_image
    from stream.progress import Progress

    from stream.images import check_output

    cfg = config_from_args(args)
    if args.max_side != 0 and args.max_side < 32:
        from engine.errors import ConfigError

        raise ConfigError(f"--max-side {args.max_side} is out of range; allowed 32 or more (0 = no limit)")
    check_output(args.output)  # before the slow part
    image = read_image(args.input, max_side=args.max_side or None)
    setup = setup_dream(cfg)
    from engine.dream import Dreamer

    dreamer = Dreamer(setup.model, setup.objective, setup.settings)
    log.info("dreaming %s (%dx%d) with %s: %s", args.input, image.shape[1], image.shape[0], setup.spec.name, setup.label)
    bar = Progress(None, "steps")
    start = time.monotonic()
    out = dreamer.octaves(to_tensor(image, setup.device), progress=lambda d, t: (setattr(bar, "total", t), bar.update(d)))
    bar.close()
    path = write_image(args.output, to_image(out))
    log.info("wrote %s in %.1f s", path, time.monotonic() - start)
    print(path)
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    from engine.models.registry import list_models
    from stream.weights import cache_path

    for spec in list_models():
        if spec.weights.package:
            where = "embedded (package)"
        else:
            where = "cached" if cache_path(spec).is_file() else "download on first use"
        print(f"{spec.name:<20} default layer {spec.default_layer:<12} {where:<22} {spec.description}")
    return 0


def cmd_layers(args: argparse.Namespace) -> int:
    from engine.models.registry import get_spec

    spec = get_spec(args.model)
    print(f"{spec.name}: default {spec.default_layer}")
    for info in spec.layers:
        aliases = [a for a, n in spec.aliases.items() if n == info.name]
        extra = f"  ({', '.join(aliases)})" if aliases else ""
        print(f"  {info.name:<14} {info.channels:>5} ch  stride {info.stride:<3} {info.note}{extra}")
    return 0


def cmd_targets(args: argparse.Namespace) -> int:
    from engine.imagenet import class_names, search

    query = " ".join(args.query)
    found = search(query, limit=args.limit)
    if not found:
        from engine.errors import TargetError

        raise TargetError(f"no ImageNet class matches {query[:40]!r}; try a shorter word, e.g. 'dreamstream targets fish'")
    for index, name in found:
        others = [n for n in class_names(index) if n.lower() != name.lower()]
        print(f"{index:>4}  {name}" + (f"  ({', '.join(others)})" if others else ""))
    return 0


class OneLineParser(argparse.ArgumentParser):
    """Usage mistakes end as one line (``dreamstream: error: ...``), exit code 2, like every other error."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"dreamstream: error: {self.prog.removeprefix('dreamstream ')}: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="dreamstream", description="DeepDream for images, video files and live streams.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks and debug logs")
    parser.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("image", help="dream a still image")
    p.add_argument("input", help="an image file (PNG, JPEG, ...)")
    p.add_argument("output", help="where to write the dream (.png, .jpg, ...)")
    p.add_argument("--max-side", type=int, default=1280, metavar="PX",
                   help="shrink larger inputs to this long side, at least 32; 0 = no limit (default %(default)s)")
    add_dream_arguments(p)
    p.set_defaults(handler=cmd_image)

    p = sub.add_parser("models", help="list the models")
    p.set_defaults(handler=cmd_models)

    p = sub.add_parser("layers", help="list a model's dreamable layers")
    p.add_argument("model", nargs="?", default="efficientnet_lite0")
    p.set_defaults(handler=cmd_layers)

    p = sub.add_parser("targets", help="search the ImageNet classes a dream can target")
    p.add_argument("query", nargs="*", default=[])
    p.add_argument("--limit", type=int, default=30)
    p.set_defaults(handler=cmd_targets)

    for register in _extra_commands():
        register(sub)
    return parser


def _extra_commands() -> list:
    """``register(subparsers)`` functions of the commands that live beside their code."""
    from stream import live

    registers = [live.register]
    try:
        from stream import video
    except ImportError:  # the video command is being written beside this
        return registers
    return [video.register, *registers]


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    level = logging.DEBUG if args.debug else logging.WARNING if args.quiet else logging.INFO
    logging.basicConfig(level=level, format="%(message)s" if not args.debug else "%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    for noisy in ("PIL", "matplotlib", "asyncio", "twitchio", "aiohttp", "libav"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))
    try:
        return int(args.handler(args) or 0)
    except DreamError as e:
        if args.debug:
            raise
        print(f"dreamstream: error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("dreamstream: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
