"""The stdin console (stream/chat/console.py): chat commands typed on stdin, whatever bytes arrive."""
from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

from stream.chat.console import StdinControl

ROOT = Path(__file__).resolve().parents[1]


class _Center:
    """Stands in for the command layer: records the lines, fails on a marker."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def handle(self, msg, now):
        if "boom" in msg.text:
            raise RuntimeError("boom")
        self.seen.append(msg.text)
        return [f"ok {msg.text}"]

    def drain_announcements(self):
        return []


def test_console_survives_invalid_utf8_under_a_strict_locale(caplog):
    """An invalid byte under a strict UTF-8 stdin is read as U+FFFD, and a failing line is logged once: the console
    thread goes on reading (one byte killed it with UnicodeDecodeError)."""
    raw = io.BytesIO(b"!status\n!dream \xff\xfe fish\n!boom\n!help\n")
    stream = io.TextIOWrapper(raw, encoding="utf-8", errors="strict")
    center = _Center()
    got: list[str] = []
    ctl = StdinControl(center, stream, reply=got.append)  # type: ignore[arg-type]
    ctl.run()
    assert center.seen == ["!status", "!dream \ufffd\ufffd fish", "!help"]
    failed = [r.getMessage() for r in caplog.records if "stdin console" in r.getMessage()]
    assert len(failed) == 1 and "still reading" in failed[0] and "\n" not in failed[0]


def test_console_with_a_strict_stdin_in_a_real_process():
    code = ("import sys, logging; from stream.chat.console import StdinControl\n"
            "class C:\n"
            "    def handle(self, m, now): print('got', ascii(m.text)); return []\n"
            "    def drain_announcements(self): return []\n"
            "StdinControl(C(), sys.stdin, reply=print).run()\n")
    env = {**os.environ, "PYTHONIOENCODING": "utf-8:strict"}
    out = subprocess.run([sys.executable, "-c", code], input=b"!a\n!b \xff\n!c\n", cwd=ROOT, env=env,
                         capture_output=True, timeout=120, check=False)
    assert out.returncode == 0, out.stderr
    assert [line for line in out.stdout.decode().split("\n") if line.startswith("got")] == [
        "got '!a'", "got '!b \\ufffd'", "got '!c'"]

