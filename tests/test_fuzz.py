"""Property-based fuzzing (Hypothesis): the config loader and the chat command layer.

Seeded (``derandomize``) and without an example database, so every run tries the same cases.
"""
from __future__ import annotations

import dataclasses
import time
import tracemalloc
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.errors import ConfigError
from stream.chat import ChatMessage, CommandCenter, OutgoingQueue
from stream.settings.chat import ChatLimits
from stream.settings.controls import ControlBoard, LiveControls, check_controls
from stream.settings.loader import SECTIONS, load_config

FUZZ = settings(derandomize=True, database=None, deadline=None, max_examples=150,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

# --------------------------------------------------------------------------------------- config

_SECTIONS = SECTIONS
_FIELDS = {name: sorted(f.name for f in dataclasses.fields(cls)) for name, cls in _SECTIONS.items()}
_KEYS = sorted({key for keys in _FIELDS.values() for key in keys})

_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-3, max_value=100)  # mostly plausible: reaches the ranges and relations
    | st.floats(min_value=-1, max_value=10)
    | st.integers()
    | st.integers(min_value=-(10**60), max_value=10**60)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=40)
    | st.sampled_from(["dis", "none", "block10", "eyes", "goldfish", "fp32", "auto", "cpu", "veryfast", "default",
                      "moderator", "off", "rtmp://127.0.0.1/app/x", "-1", "1e309", "0x10", "~", "yes", "2001-13-45"])
)
_values = st.recursive(_scalars, lambda inner: st.lists(inner, max_size=5)
                       | st.dictionaries(st.sampled_from(_KEYS) | st.text(max_size=10), inner, max_size=5),
                       max_leaves=30)


def _section(name: str) -> st.SearchStrategy[tuple[str, Any]]:
    """``name`` with a mapping of its own keys (a junk key now and then), or now and then not a mapping."""
    keys = st.sampled_from(_FIELDS[name]) | st.sampled_from(_KEYS) | st.text(max_size=12)
    own = st.dictionaries(st.sampled_from(_FIELDS[name]), _values, max_size=4)
    body = st.one_of(own, own, own, own, st.dictionaries(keys, _values, max_size=4), _values)
    return st.tuples(st.just(name), body)


_good = st.sampled_from(sorted(_SECTIONS)).flatmap(_section)
_sections_doc = st.lists(st.one_of(_good, _good, _good, _good, _good, st.tuples(st.text(max_size=12), _values)),
                         max_size=4).map(dict)
#: YAML's own syntax, shuffled: anchors, aliases, tags, flow and block collections, odd scalars.
_yaml_junk = st.lists(st.sampled_from(
    ["model:", "dream:", "live:", "chat:", "video:", "twitch:", " ", "  ", "\n", "- ", "[", "]", "{", "}", ",",
     ": ", "&a ", "*a", "&b ", "*b", "!!binary ", "!!python/object:os.system ", "!!set ", "!!omap ", "? ",
     "|", ">", "'", '"', "#", "%YAML 1.1\n", "---\n", "...\n", "<<: *a", "steps", "octaves: ", "1e999",
     "99999999999999999999999999999999999", "-.inf", ".nan", "null", "\t", "\x00", "\ufeff", "é"]
), max_size=60).map("".join)


def _check_one_config(path: Path, data: bytes) -> None:
    path.write_bytes(data)
    start = time.monotonic()
    try:
        cfg = load_config(user_file=path)
        for name in _SECTIONS:
            cfg.section(name)
    except ConfigError as e:  # the only error allowed out: one short line
        text = str(e)
        assert text and "\n" not in text and len(text) < 600, text
    assert time.monotonic() - start < 10  # generous: the bound is about 2 s on a loaded machine


@pytest.fixture()
def bounded_memory():
    tracemalloc.start()
    yield
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 300e6


@pytest.mark.slow
@FUZZ
@given(doc=_sections_doc)
def test_config_loader_on_random_nested_documents(tmp_path, bounded_memory, doc: dict[str, Any]):
    """Random nested YAML documents, real section and key names mixed with junk: only ConfigError comes out."""
    _check_one_config(tmp_path / "fuzz.yaml", yaml.safe_dump(doc, allow_unicode=True).encode())


@pytest.mark.slow
@FUZZ
@given(text=_yaml_junk)
def test_config_loader_on_random_yaml_syntax(tmp_path, bounded_memory, text: str):
    _check_one_config(tmp_path / "fuzz.yaml", text.encode("utf-8", "surrogatepass"))


@pytest.mark.slow
@FUZZ
@given(data=st.binary(max_size=300))
def test_config_loader_on_random_bytes(tmp_path, bounded_memory, data: bytes):
    _check_one_config(tmp_path / "fuzz.yaml", data)


# ----------------------------------------------------------------------------------------- chat

_COMMANDS = ["dream", "layer", "layers", "targets", "strength", "status", "help", "model", "preset", "octaves",
             "flow", "lock", "unlock", "skip", "reset", "clear", "DREAM", "ban", ""]
_ARGS = ["goldfish", "zebra", "eyes", "dogs", "block4", "efficientnet_lite0", "dis", "none", "default", "fast",
         "999", "-1", "1e309", "nan", "-inf", "0.25", "4", "#285", "٣", "\u202e", "\x00", "🐟", "x" * 500]
_chat_text = st.one_of(
    st.tuples(st.sampled_from(["!", "!", " !", "!!", ""]), st.sampled_from(_COMMANDS),
              st.lists(st.sampled_from(_ARGS) | st.text(max_size=12), max_size=3))
    .map(lambda t: f"{t[0]}{t[1]} {' '.join(t[2])}"),
    st.text(max_size=80),
)
_USERS = [ChatMessage(f"v{i}", f"viewer{i}", "") for i in range(6)] + [
    ChatMessage("m1", "mod1", "", is_mod=True), ChatMessage("b1", "boss", "", is_broadcaster=True)]
_events = st.lists(st.tuples(st.integers(0, len(_USERS) - 1), _chat_text,
                             st.sampled_from([0.0, 0.05, 0.5, 3.0, 60.0]), st.booleans()), min_size=1, max_size=40)


@pytest.mark.slow
@FUZZ
@given(events=_events)
def test_chat_command_layer_on_random_conversations(events):
    """Beside the seeded 10,000-message fuzz: whatever chat says, replies are short and printable and the
    controls stay within the chat limits."""
    lim = ChatLimits(min_octaves=1, max_octaves=4, min_strength=0.25, max_strength=1.5,
                     allowed_models=("efficientnet_lite0",), allowed_presets=("default", "fast"), hold_s=20.0,
                     queue_size=3, user_cooldown_s=4.0, global_cooldown_s=0.5, info_cooldown_s=2.0)
    board = ControlBoard(LiveControls(), lim)
    center = CommandCenter(board, lim)
    out = OutgoingQueue()
    now = 1000.0
    for who, text, dt, tick in events:
        now += dt
        for reply in center.handle(dataclasses.replace(_USERS[who], text=text), now):
            assert 0 < len(reply) <= 400 and reply.isprintable(), reply
            out.put(reply)
        if tick:
            center.tick(now)
        controls = board.get()
        assert check_controls(controls, lim) == controls
        assert center.queue_length() <= lim.queue_size
        assert all(len(sent) <= 400 for sent in out.pop_ready(now))
