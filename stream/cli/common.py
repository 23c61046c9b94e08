"""Options and settings shared by the dream commands."""
from __future__ import annotations

import argparse
from typing import Any, NoReturn

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
    g.add_argument(
        "--target",
        metavar="CLASS",
        help="an ImageNet class to dream (dreamstream targets QUERY); two at once with weights: banana*0.7+dog",
    )
    g.add_argument("--guide", metavar="IMAGE", help="a guide image whose features the dream matches")
    g.add_argument("--octaves", type=int, metavar="N")
    g.add_argument("--octave-scale", type=float, metavar="F")
    g.add_argument("--steps", type=int, metavar="N", help="gradient steps per octave")
    g.add_argument("--step-size", type=float, metavar="F")
    g.add_argument("--jitter", type=int, metavar="PX")
    g.add_argument("--seed", type=int, metavar="N")
    g.add_argument("--precision", choices=("fp32", "bf16", "fp16"))
    g.add_argument("--device", metavar="D", help="auto, cpu, cuda, cuda:N or mps")
    g.add_argument("--threads", type=int, metavar="N", help="torch threads (0 = auto: the cores other processes leave)")


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
    from stream.settings.loader import load_config

    return load_config(args.preset, args.config, overrides_from_args(args, extra))


class OneLineParser(argparse.ArgumentParser):
    """Usage mistakes end as one line (``dreamstream: error: ...``), exit code 2, like every other error."""

    def error(self, message: str) -> NoReturn:
        self.exit(
            2, f"dreamstream: error: {self.prog.removeprefix('dreamstream ')}: {message} (see {self.prog} --help)\n"
        )
