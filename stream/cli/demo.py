"""``scripts/demo``: dream an image (or generated clouds) and a short clip with the embedded default model.

Writes into ``out/`` and prints the paths it wrote.
"""
from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from stream.cli.main import main as cli_main


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/demo", description=__doc__)
    parser.add_argument("input", nargs="?", help="an image to dream (default: generated clouds)")
    parser.add_argument("--out", default="out", help="output folder (default: %(default)s)")
    parser.add_argument("--no-video", action="store_true", help="skip the video clip")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []

    if args.input:
        source = Path(args.input)
        target = out / f"{source.stem}_dream.png"
    else:
        from engine.synth import clouds
        from stream.io.images import write_image

        source = write_image(out / "clouds.png", clouds(360, 640, seed=7))
        written.append(source)
        target = out / "clouds_dream.png"
    rc = cli_main(["image", str(source), str(target)])
    if rc:
        return rc
    written.append(target)

    if not args.no_video:
        try:
            from stream.io.clips import write_pan_clip
        except ImportError:
            write_pan_clip = None
        if write_pan_clip is not None:
            clip = out / "clouds.mp4"
            write_pan_clip(clip, None, frames=48, width=640, height=360, fps=24)
            rc = cli_main(["video", str(clip), str(out / "demo.mp4")])
            if rc:
                return rc
            written += [clip, out / "demo.mp4"]

    print("\nwrote:", file=sys.stderr)
    for p in written:
        print(p)
    return 0


if __name__ == "__main__":
    sys.exit(main())
