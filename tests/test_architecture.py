"""The layers of stream/ are a checked contract (import-linter, configured in pyproject.toml)."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT = Path(sys.executable).with_name("lint-imports")


def _lint(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(LINT), "--config", str(root / "pyproject.toml"), "--no-cache"], cwd=root,
                          capture_output=True, text=True, env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"},
                          timeout=120, check=False)


def test_imports_follow_the_layers():
    result = _lint(ROOT)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "BROKEN" not in result.stdout


@pytest.mark.slow
def test_a_wrong_way_import_breaks_the_contract(tmp_path):
    for name in ("engine", "stream"):
        shutil.copytree(ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    names = tmp_path / "stream" / "settings" / "names.py"
    names.write_text(names.read_text() + "\nfrom stream.io import images  # noqa: E402 - the wrong way\n")
    result = _lint(tmp_path)
    assert result.returncode != 0
    assert "stream.settings is not allowed to import stream.io" in result.stdout


@pytest.mark.slow
def test_sibling_cycles_break_the_contract(tmp_path):
    for name in ("engine", "stream"):
        shutil.copytree(ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    base = tmp_path / "stream" / "io" / "sinks" / "base.py"
    base.write_text(base.read_text() + "\nfrom stream.io.sinks import open as _open  # noqa: E402 - a cycle\n")
    result = _lint(tmp_path)
    assert result.returncode != 0
