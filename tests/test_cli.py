from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from engine.errors import ConfigError
from stream.cli.main import main
from stream.settings.loader import load_config


@pytest.fixture()
def picture(tmp_path, photo):
    path = tmp_path / "in.png"
    cv2.imwrite(str(path), cv2.cvtColor(cv2.resize(photo, (96, 64)), cv2.COLOR_RGB2BGR))
    return path


def run(capsys, *argv):
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


@pytest.mark.slow
def test_image_dreams_and_writes(tmp_path, picture, capsys):
    out = tmp_path / "out.png"
    rc, stdout, _ = run(capsys, "image", str(picture), str(out), "--octaves", "2", "--steps", "3", "--layer", "eyes")
    assert rc == 0 and str(out) in stdout
    a, b = cv2.imread(str(picture)), cv2.imread(str(out))
    assert a.shape == b.shape
    assert np.abs(a.astype(int) - b.astype(int)).mean() > 2


@pytest.mark.slow
def test_image_with_target_and_channel(tmp_path, picture, capsys):
    rc, _, err = run(
        capsys, "image", str(picture), str(tmp_path / "t.jpg"), "--target", "goldfish", "--octaves", "1", "--steps", "1"
    )
    assert rc == 0, err
    rc, _, err = run(
        capsys,
        "image",
        str(picture),
        str(tmp_path / "c.png"),
        "--layer",
        "block9",
        "--channel",
        "3",
        "--steps",
        "1",
        "--octaves",
        "1",
    )
    assert rc == 0, err


@pytest.mark.parametrize(
    "argv, code, words",
    [
        (["image", "MISSING.png", "OUT.png"], 4, ["MISSING.png", "does not exist"]),
        (["image", "PIC", "OUT.png", "--model", "efficientnet"], 3, ["efficientnet_lite0", "did you mean"]),
        (["image", "PIC", "OUT.png", "--layer", "blok9"], 3, ["blok9", "block9"]),
        (["image", "PIC", "OUT.png", "--target", "goldfsh"], 2, ["goldfsh", "goldfish"]),
        (["image", "PIC", "OUT.png", "--octaves", "99"], 2, ["dream.octaves", "99", "1 to 12"]),
        (["image", "PIC", "OUT.png", "--channel", "5000"], 2, ["channel 5000", "allowed 0 to"]),
        (["image", "PIC", "nodir/OUT.png"], 5, ["nodir"]),
        (["image", "NOTIMG", "OUT.png"], 4, ["not a readable picture"]),
        (["image", "PIC", "OUT.png", "--device", "cuda"], 2, ["cuda", "not available"]),
        (["image", "PIC", "OUT.png", "--model", "vgg16", "--weights", "NOPE.pth"], 3, ["NOPE.pth"]),
        (["layers", "resnet5"], 3, ["resnet50"]),
        (["image", "PIC", "OUT.png", "--octaves", "abc"], 2, ["--octaves", "abc"]),
        (["image", "PIC", "bad.xyz"], 5, ["bad.xyz", ".png"]),
        (["image", "PIC", "OUT.png", "--max-side", "-5"], 2, ["--max-side", "-5", "32"]),
        (["image", "PIC", "OUT.png", "--seed", "-1"], 2, ["dream.seed", "9223372036854775807"]),
        (["targets", "zzzqqq"], 2, ["zzzqqq"]),
    ],
)
def test_bad_input_is_one_line(tmp_path, picture, capsys, argv, code, words):
    (tmp_path / "notimg.png").write_text("hello")
    subst = {
        "PIC": str(picture),
        "OUT.png": str(tmp_path / "out.png"),
        "nodir/OUT.png": str(tmp_path / "nodir" / "o.png"),
        "NOTIMG": str(tmp_path / "notimg.png"),
        "NOPE.pth": str(tmp_path / "NOPE.pth"),
    }
    try:
        rc, _, err = run(capsys, *[subst.get(a, a) for a in argv])
    except SystemExit as e:  # argparse usage errors
        rc, err = e.code, capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("dreamstream: error")]
    assert rc == code, err
    assert len(lines) == 1 and "Traceback" not in err
    for w in words:
        assert w in lines[0]


def test_debug_shows_traceback(capsys):
    from engine.errors import SourceError

    with pytest.raises(SourceError):
        main(["--debug", "image", "MISSING.png", "x.png"])


@pytest.mark.parametrize("how", ["same", "dotdot", "symlink", "hardlink"])
def test_image_refuses_to_overwrite_its_input(tmp_path, how, capsys):
    """`image IN IN`, or the input again by another path (``..``, a link): one line, exit 5, the photo untouched."""
    from stream.io.images import write_image

    (tmp_path / "sub").mkdir()
    photo = write_image(tmp_path / "photo.png", np.full((40, 48, 3), 90, np.uint8))
    before = photo.read_bytes()
    out = {"same": photo, "dotdot": tmp_path / "sub" / ".." / "photo.png",
           "symlink": tmp_path / "link.png", "hardlink": tmp_path / "hard.png"}[how]
    if how == "symlink":
        out.symlink_to(photo)
    if how == "hardlink":
        os.link(photo, out)
    rc = main(["image", str(photo), str(out), "--steps", "1", "--octaves", "1"])
    err = capsys.readouterr().err
    assert rc == 5 and "is the input" in err and err.count("\n") == 1, err
    assert photo.read_bytes() == before


def test_models_layers_targets(capsys):
    rc, out, _ = run(capsys, "models")
    assert rc == 0 and "efficientnet_lite0" in out and "googlenet" in out and "embedded" in out
    rc, out, _ = run(capsys, "layers")
    assert rc == 0 and "block10" in out and "eyes" in out
    rc, out, _ = run(capsys, "layers", "googlenet")
    assert "inception4c" in out
    rc, out, _ = run(capsys, "targets", "goldfish")
    assert rc == 0 and out.splitlines()[0].strip().startswith("1")


def test_config_precedence(tmp_path):
    user = tmp_path / "user.yaml"
    user.write_text("dream:\n  octaves: 3\n  steps: 7\nmodel:\n  layers: [block4]\n")
    cfg = load_config("default", user, {"dream.steps": 2})
    assert cfg.dream.octaves == 3 and cfg.dream.steps == 2 and cfg.model.layers == ("block4",)
    assert cfg.class_dream.octaves == 3 and cfg.class_dream.decorrelate is True


@pytest.mark.parametrize(
    "text, words",
    [
        ("dream:\n  octavs: 3\n", ["dream.octavs", "octaves"]),
        ("dream:\n  step_size: -1\n", ["dream.step_size", "-1", "0 to 1"]),
        ("dream:\n  grad_norm: l2\n", ["l2", "laplacian"]),
        ("dream:\n  steps: many\n", ["dream.steps", "many", "whole number"]),
        ("drem:\n  steps: 1\n", ["drem", "dream"]),
        ("dream: [1, 2\n", ["not valid YAML"]),
        ("- 1\n- 2\n", ["mapping"]),
        ("twitch:\n  chanel: x\n", ["twitch.chanel", "channel"]),
    ],
)
def test_config_errors_name_key_and_allowed(tmp_path, text, words):
    user = tmp_path / "bad.yaml"
    user.write_text(text)
    with pytest.raises(ConfigError) as e:
        load_config("default", user)
    msg = str(e.value)
    assert "\n" not in msg
    for w in words:
        assert w in msg


def test_config_cli_error(tmp_path, picture, capsys):
    rc, _, err = run(capsys, "image", str(picture), str(tmp_path / "o.png"), "--config", str(tmp_path / "none.yaml"))
    assert rc == 2 and "none.yaml" in err
    rc, _, err = run(capsys, "image", str(picture), str(tmp_path / "o.png"), "--preset", "wild")
    assert rc == 2 and "unknown preset 'wild'" in err


def test_every_exit_code_means_one_thing_and_the_readme_lists_them() -> None:
    """One table (engine/errors.py): every error's code is in it, and the README's table says the same."""
    import re

    from engine import errors
    from stream.render.errors import RenderError

    def subclasses(cls: type) -> list[type]:
        return [cls] + [s for c in cls.__subclasses__() for s in subclasses(c)]

    classes = subclasses(errors.DreamError)
    assert RenderError in classes
    assert {c.exit_code for c in classes} <= set(errors.EXIT_CODES)
    assert RenderError.exit_code != errors.EXIT_INPUT_ENDED_EARLY  # a failed render is not a short input
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    listed = {int(code): meaning for code, meaning in re.findall(r"^\| (\d+) \| (.+) \|$", readme, re.MULTILINE)}
    assert listed == errors.EXIT_CODES
