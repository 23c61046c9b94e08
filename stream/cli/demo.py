"""``scripts/demo``: dream a real photograph (or PHOTO) with the embedded default model: the layer dream, two class
dreams and a short clip panning and zooming over it, dreamed as a video.

The default photo is scikit-learn's ``china.jpg`` (a pagoda over a lake; CC BY 2.0, danielbuechele on
Flickr; ``scripts/setup`` installs scikit-learn with the dev extra). Writes into ``out/`` and prints the
paths it wrote.
"""
from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from stream.cli.main import main as cli_main

#: The class dreams the demo makes besides the layer dream.
DEMO_CLASSES = ("goldfish", "strawberry")


def default_photo(out: Path) -> Path:
    """scikit-learn's ``china.jpg``, copied into ``out`` (the input beside its dreams)."""
    try:
        from sklearn.datasets import load_sample_image
    except ImportError:
        raise SystemExit("scripts/demo: the default photo ships with scikit-learn (pip install scikit-learn); "
                         "or give a photo: scripts/demo PHOTO") from None
    from stream.io.images import write_image

    return write_image(out / "china.png", load_sample_image("china.jpg"))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/demo", description=__doc__)
    parser.add_argument("input", nargs="?", help="a photo to dream (default: scikit-learn's china.jpg)")
    parser.add_argument("--out", default="out", help="output folder (default: %(default)s)")
    parser.add_argument("--no-video", action="store_true", help="skip the video clip")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    source = Path(args.input) if args.input else default_photo(out)
    written: list[Path] = [] if args.input else [source]

    dreams = [([], out / f"{source.stem}_dream.png")]
    dreams += [(["--target", name], out / f"{source.stem}_{name}.png") for name in DEMO_CLASSES]
    for options, target in dreams:
        rc = cli_main(["image", str(source), str(target), "--max-side", "640", *options])
        if rc:
            return rc
        written.append(target)

    if not args.no_video:
        from stream.io.clips import write_pan_clip
        from stream.io.images import read_image

        clip = out / f"{source.stem}.mp4"
        write_pan_clip(clip, read_image(str(source), max_side=640), frames=48, width=640, height=360, fps=24)
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
