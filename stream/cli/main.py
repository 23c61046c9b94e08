"""The ``dreamstream`` command line.

Every failure the user can cause ends as one line on stderr and a non-zero exit code;
``--debug`` shows the traceback.
"""
from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from engine.errors import EXIT_INTERRUPTED, DreamError
from stream.cli import live, login, video
from stream.cli.common import OneLineParser, add_dream_arguments
from stream.cli.image import cmd_image, cmd_layers, cmd_models, cmd_targets

log = logging.getLogger("dreamstream")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="dreamstream", description="DeepDream for images, video files and live streams.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks and debug logs")
    parser.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("image", help="dream a still image")
    p.add_argument("input", help="an image file (PNG, JPEG, ...), or noise / noise:WxH (TV static, for class dreams)")
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

    video.register(sub)
    live.register(sub)
    login.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    level = logging.DEBUG if args.debug else logging.WARNING if args.quiet else logging.INFO
    logging.basicConfig(
        level=level,
        format="%(message)s" if not args.debug else "%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
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
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
