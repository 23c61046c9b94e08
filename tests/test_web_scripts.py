"""The panel's and the overlay's JavaScript parses: one syntax error blanks the whole page in every browser.

Fast (Node's parser, no browser); the Chromium test in test_web_browser.py drives the same scripts.
"""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

STATIC = Path(__file__).resolve().parent.parent / "stream" / "web" / "static"
NODE = shutil.which("node") or shutil.which("nodejs")
pytestmark = pytest.mark.skipif(NODE is None, reason="no node on PATH (apt-get install nodejs)")


def scripts() -> list[tuple[str, str]]:
    """(name, source) of every script the pages load: the .js files and the inline <script> blocks."""
    found = [(path.name, path.read_text()) for path in sorted(STATIC.glob("*.js"))]
    for page in sorted(STATIC.glob("*.html")):
        for i, block in enumerate(re.findall(r"<script>(.*?)</script>", page.read_text(), re.S)):
            found.append((f"{page.name} inline script {i + 1}", block))
    return found


def syntax_error(source: str, tmp_path: Path) -> str:
    """Node's complaint about ``source`` as a script, or "" when it parses."""
    path = tmp_path / "script.js"
    path.write_text(source)
    done = subprocess.run([NODE, "--check", str(path)], capture_output=True, text=True, timeout=60)
    return "" if done.returncode == 0 else done.stderr


def test_every_page_script_parses(tmp_path):
    found = scripts()
    assert {name for name, _ in found} >= {"panel.js", "overlay.html inline script 1"}
    for name, source in found:
        assert syntax_error(source, tmp_path) == "", name


def test_the_check_catches_a_redeclared_name(tmp_path):
    # the bug it was written for: render() declared `q` twice, and the panel stayed blank
    assert "already been declared" in syntax_error("function f() { const q = 1; const q = 2; }", tmp_path)
