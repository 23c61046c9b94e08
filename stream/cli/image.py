"""The image, models, layers and targets commands."""
from __future__ import annotations

import argparse
import logging
import time

from stream.cli.common import config_from_args

log = logging.getLogger(__name__)


def cmd_image(args: argparse.Namespace) -> int:
    from engine.frames import to_image, to_tensor
    from stream.io.dreaming import setup_dream
    from stream.io.images import check_not_input, check_output, read_image, write_image
    from stream.io.progress import progress_bar

    cfg = config_from_args(args)
    if args.max_side != 0 and args.max_side < 32:
        from engine.errors import ConfigError

        raise ConfigError(f"--max-side {args.max_side} is out of range; allowed 32 or more (0 = no limit)")
    check_output(args.output)  # before the slow part
    check_not_input(args.input, args.output)
    image = read_image(args.input, max_side=args.max_side or None, seed=cfg.dream.seed)
    setup = setup_dream(cfg)
    from engine.dream import Dreamer

    dreamer = Dreamer(setup.model, setup.objective, setup.settings)
    log.info(
        "dreaming %s (%dx%d) with %s: %s", args.input, image.shape[1], image.shape[0], setup.spec.name, setup.label
    )
    start = time.monotonic()
    with progress_bar(None, "steps") as bar:

        def step(done: int, total: int) -> None:
            bar.total = total
            bar.update(done - bar.n)

        out = dreamer.octaves(to_tensor(image, setup.device), progress=step)
    path = write_image(args.output, to_image(out))
    log.info("wrote %s in %.1f s", path, time.monotonic() - start)
    print(path)
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    from engine.models.registry import list_models
    from stream.io.weights import cache_path

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

        raise TargetError(
            f"no ImageNet class matches {query[:40]!r}; try a shorter word, e.g. 'dreamstream targets fish'"
        )
    for index, name in found:
        others = [n for n in class_names(index) if n.lower() != name.lower()]
        print(f"{index:>4}  {name}" + (f"  ({', '.join(others)})" if others else ""))
    return 0
