"""The panel in a real headless Chromium (Debian's package, driven by Playwright): set a target with
the page's own controls and see the stream take it; screenshots of the panel and the OBS overlay.

Set ``DREAMSTREAM_SHOTS_DIR`` to also copy the screenshots there.
"""
from __future__ import annotations

import os
import re
import shutil
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from panel_rig import start_rig

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
playwright = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed (pip install playwright)")
expect = playwright.expect
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(CHROMIUM is None, reason="no chromium on PATH (apt-get install chromium)"),
]


def composite(overlay_png: Path, frame_jpeg: bytes, out: Path) -> None:
    """The transparent overlay screenshot laid over a stream frame, as OBS would show it."""
    top = cv2.imread(str(overlay_png), cv2.IMREAD_UNCHANGED)
    frame = cv2.imdecode(np.frombuffer(frame_jpeg, np.uint8), cv2.IMREAD_COLOR)
    frame = cv2.resize(frame, (top.shape[1], top.shape[0]), interpolation=cv2.INTER_LINEAR)
    alpha = top[..., 3:4].astype(np.float32) / 255
    cv2.imwrite(str(out), (top[..., :3] * alpha + frame * (1 - alpha)).astype(np.uint8))


def test_panel_sets_a_target_in_chromium_and_the_stream_takes_it(tmp_path):
    rig = start_rig(size=(640, 360))
    try:
        assert rig.outputs_advance(60)
        with playwright.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1440, "height": 960})
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(rig.server.url)
            page.wait_for_load_state("load")
            assert errors == [], errors  # a script that does not run leaves every tile at "–"
            expect(page.locator("#now-what")).to_have_text(re.compile(r"^layer "))

            page.fill("#target", "goldf")
            page.wait_for_selector("#suggestions.open li")
            first = page.locator("#suggestions li").first
            assert first.inner_text().startswith("goldfish")
            first.click()
            assert page.input_value("#target") == "goldfish"
            page.click("#btn-dream")
            clicked = time.monotonic()
            seen = None
            while time.monotonic() - clicked < 5:
                _, state = rig.http("GET", "/api/state")
                if state["controls"]["target"] == 1 and state["stats"].get("dreaming") == "class goldfish (1)":
                    seen = time.monotonic() - clicked
                    break
                time.sleep(0.02)
            assert seen is not None and seen < 1.0, seen
            print(f"panel click -> /api/state and the dream stage show goldfish: {seen * 1000:.0f} ms")
            assert state["controls"]["requested_by"] == ["streamer"]
            expect(page.locator("#now-what")).to_have_text("goldfish", timeout=2000)
            expect(page.locator("#s-dreaming")).to_have_text("class goldfish (1)", timeout=2000)
            assert "now: goldfish" in page.inner_text("#replies")

            # another control: octaves through the segmented buttons, then a queued viewer request
            page.click("#octaves button:text-is('2')")
            expect(page.locator("#octaves button.on")).to_have_text("2")
            assert rig.board.get().octaves == 2
            rig.center.handle(_viewer("11", "pixel_pirate", "!layer eyes"), time.monotonic())
            rig.center.handle(_viewer("12", "jellyfan", "!dream jellyfish"), time.monotonic())
            rig.center.redeem("r-1", "13", "volcano_vera", "dream", "volcano", time.monotonic(), first=True)
            expect(page.locator("#queue li")).to_have_count(3)
            expect(page.locator("#queue li").first).to_contain_text("volcano")
            expect(page.locator("#queue li .paid")).to_have_count(1)
            page.wait_for_timeout(600)  # a few preview frames of the new target
            panel_png = tmp_path / "panel.png"
            page.screenshot(path=str(panel_png), full_page=True)

            overlay = browser.new_page(viewport={"width": 1280, "height": 720})
            overlay.goto(rig.server.overlay_url)
            expect(overlay.locator("#what")).to_have_text("goldfish")
            overlay.wait_for_timeout(500)
            overlay_png = tmp_path / "overlay.png"
            overlay.screenshot(path=str(overlay_png), omit_background=True)
            background = overlay.evaluate("getComputedStyle(document.body).backgroundColor")
            assert background == "rgba(0, 0, 0, 0)"
            assert "3 waiting" in overlay.inner_text("#meta")
            browser.close()
        assert not errors, errors
        _, jpeg = rig.http("GET", "/api/preview.jpg")
        composite(overlay_png, jpeg, tmp_path / "overlay-over-stream.png")
        assert rig.running()
    finally:
        rig.stop()
    shots = os.environ.get("DREAMSTREAM_SHOTS_DIR")
    if shots:
        Path(shots).mkdir(parents=True, exist_ok=True)
        for name in ("panel.png", "overlay.png", "overlay-over-stream.png"):
            shutil.copy(tmp_path / name, Path(shots) / name)


def _viewer(uid: str, name: str, text: str):
    from stream.chat.message import ChatMessage

    return ChatMessage(uid, name, text)
