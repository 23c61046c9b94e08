"""The config loader on hostile files: each is refused with one bounded line naming the key or the line."""
from __future__ import annotations

import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import pytest

from engine.errors import ConfigError
from stream.settings.loader import load_config
from stream.settings.yaml_files import MAX_CONFIG_BYTES

ROOT = Path(__file__).resolve().parents[1]


def _laughs(levels: int = 9) -> str:
    lines = ["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for i in range(1, levels + 1):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]")
    return "\n".join(lines) + f"\nmodel: {{layers: *a{levels}}}\n"


HOSTILE = {
    "roles_list": ("chat: {roles: [dream]}\n", "chat.roles: expected a mapping"),
    "huge_int": ("model:\n  threads: " + "7" * 5000 + "\n", "model.threads: expected a whole number"),
    "huge_int_float": ("dream:\n  step_size: " + "7" * 5000 + "\n", "dream.step_size"),
    "deep_lists": ("model:\n  layers: " + "[" * 20000 + "]" * 20000 + "\n", "line 2"),
    "deep_blocks": ("model:\n  layers:\n" + "".join("    " + "  " * i + "-\n" for i in range(40)), "deep"),
    "billion_laughs": (_laughs(), "aliases are expanded"),
    "self_alias": ("model: &m {layers: *m}\n", "refers to the value it is part of"),
    "many_layers": ("model:\n  layers: [" + ",".join(["b"] * 25000) + "]\n", "values"),
    "some_layers": ("model:\n  layers: [" + ",".join(["b"] * 5000) + "]\n",
                    "model.layers: 5000 items; allowed: at most 16"),
    "unknown_keys": ("model:\n" + "".join(f"  k{i}: {i}\n" for i in range(8000)), "larger than"),
    "max_octaves": ("chat: {max_octaves: 1000000000}\n",
                    "chat.max_octaves: 1000000000 is out of range; allowed 1 to 12"),
    "capture_queue": ("live: {capture_queue: 1000000000}\n", "live.capture_queue: 1000000000 is out of range"),
    "stats_interval": ("live: {stats_interval_s: -1}\n", "live.stats_interval_s: -1.0 is out of range"),
    "odd_width": ("live: {width: 641}\n", "live.width: 641 is out of range; allowed even numbers"),
    "bad_date": ("model: {name: 2001-13-45}\n", "cannot be read"),
    "binary_junk": ("model: {name: !!binary 'AAAA'}\n", "model.name: expected text"),
    "overlay_word": ("live: {overlay: maybe}\n", "live.overlay: 'maybe' is not allowed; choose one of burned"),
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_config_is_one_bounded_line(tmp_path, name):
    """Each gives one ConfigError line naming the key or line, in bounded memory and time."""
    text, words = HOSTILE[name]
    path = tmp_path / "hostile.yaml"
    path.write_text(text)
    tracemalloc.start()
    start = time.monotonic()
    try:
        with pytest.raises(ConfigError) as info:
            load_config(user_file=path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    msg = str(info.value)
    assert words in msg and "\n" not in msg and len(msg) < 600, msg
    assert peak < 300e6
    assert time.monotonic() - start < 30  # generous (shared, traced); before: 60 s for the alias bomb, 113 s for 50 MB


@pytest.mark.parametrize(("word", "mode"), [("true", "burned"), ("no", "off"), ("Browser", "browser"), ("1", "burned")])
def test_overlay_spellings_go_through_the_one_loader(tmp_path, word, mode):
    path = tmp_path / "c.yaml"
    path.write_text(f"live: {{overlay: {word}}}\n")
    assert load_config(user_file=path).section("live").overlay == mode


def test_config_from_dev_zero_is_refused_unread():
    tracemalloc.start()
    try:
        with pytest.raises(ConfigError, match=f"larger than {MAX_CONFIG_BYTES // 1024} KiB"):
            load_config(user_file="/dev/zero")
        assert tracemalloc.get_traced_memory()[1] < 10 * MAX_CONFIG_BYTES
    finally:
        tracemalloc.stop()


def test_hostile_config_through_the_cli_is_one_line(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("chat: {roles: [dream]}\n")
    code = "import sys; from stream.cli import main; sys.exit(main())"
    argv = ["image", "in.png", str(tmp_path / "o.png"), "--config", str(path)]
    out = subprocess.run([sys.executable, "-c", code, *argv], cwd=ROOT, capture_output=True, text=True, timeout=300,
                         check=False)
    assert out.returncode == 2 and out.stderr.strip().count("\n") == 0 and "chat.roles" in out.stderr, out.stderr
