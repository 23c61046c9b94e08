"""Each setting is defined once, on its field: the YAML defaults, the README's table and every check follow from it."""
from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import pytest

from engine.dream import DreamSettings
from engine.errors import ConfigError
from engine.fields import rule_of
from engine.temporal import TemporalSettings
from stream.settings.document import CLASS_DREAM, default_yaml, settings_table
from stream.settings.live import LiveSettings, live_temporal
from stream.settings.loader import LAZY_SECTIONS, SCHEMA, SECTIONS, load_config

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
from build_settings import readme_with_table  # noqa: E402

#: The settings the issue named, each with the dataclass that defines it.
NAMED = {"live.dream_max_side": LiveSettings, "live.limit": LiveSettings, "video.decay": TemporalSettings}


def test_the_defaults_file_and_the_readme_are_what_the_fields_say() -> None:
    assert (ROOT / "config" / "default.yaml").read_text() == default_yaml(), "run scripts/build_settings.py"
    readme = (ROOT / "README.md").read_text()
    assert readme == readme_with_table(readme), "run scripts/build_settings.py"


def test_every_section_loads_as_its_dataclass_defaults() -> None:
    cfg = load_config()
    for name, cls in SECTIONS.items():
        if name not in LAZY_SECTIONS and name != "class_dream":
            assert cfg.section(name) == cls(), name
    assert cfg.class_dream == dataclasses.replace(cfg.dream, **{k: v for k, (v, _) in CLASS_DREAM.items()})


@pytest.mark.parametrize("dotted", sorted(NAMED))
def test_a_setting_changed_in_its_field_shows_in_the_yaml_the_readme_and_the_checks(
        dotted: str, monkeypatch: pytest.MonkeyPatch) -> None:
    _section, key = dotted.split(".")
    field = {f.name: f for f in dataclasses.fields(NAMED[dotted])}[key]
    yaml_before, table_before = default_yaml(), settings_table()
    line = next(line for line in table_before.splitlines() if line.startswith(f"| `{dotted}` |"))
    assert f"`{field.default}`" in line and rule_of(field).range_text() in line and field.metadata["help"] in line
    assert SCHEMA[dotted] is rule_of(field)  # the loader checks with the field's own rule
    monkeypatch.setattr(field, "default", 0.5 if isinstance(field.default, float) else 500)
    changed_yaml = set(default_yaml().splitlines()) - set(yaml_before.splitlines())
    changed_rows = set(settings_table().splitlines()) - set(table_before.splitlines())
    assert len(changed_yaml) == 1 and next(iter(changed_yaml)).startswith(f"  {key}: ")
    assert len(changed_rows) == 1 and next(iter(changed_rows)).startswith(f"| `{dotted}` |")
    lo, hi = rule_of(field).lo, rule_of(field).hi
    with pytest.raises(ConfigError, match=rf"{dotted}: .* is out of range; allowed {lo:g} to {hi:g}"):
        load_config(overrides={dotted: hi * 2 + 1})


def test_the_engine_checks_with_the_same_rules_and_keeps_no_defaults_of_its_own() -> None:
    with pytest.raises(ConfigError, match="^steps: 501 is out of range; allowed 0 to 500$"):
        DreamSettings(steps=501)
    with pytest.raises(ConfigError, match="^dream.steps: 501 is out of range; allowed 0 to 500$"):
        load_config(overrides={"dream.steps": 501})
    with pytest.raises(ConfigError, match="flow_preset: 'slow' is not allowed"):
        TemporalSettings(flow_preset="slow")
    cfg = load_config()
    live, video = cfg.section("live"), cfg.section("video")
    built = live_temporal(video, live)
    assert (built.dream_max_side, built.limit, built.decay, built.scene_limit) == (
        live.dream_max_side, live.limit, live.decay, live.scene_limit)
    from engine.live_dream import LiveDreamSettings
    with pytest.raises(TypeError):
        LiveDreamSettings()  # type: ignore[call-arg]  # the product's settings give every value
