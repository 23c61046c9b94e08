"""``dreamstream live --panel``: the panel beside a real stream started from the command line,
``live.overlay: browser`` (no burned-in overlay) and ``--output vcam``."""
from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request

import av
import numpy as np
import pytest
from rtmp_receiver import free_port
from test_live import FAST

from stream.cli.main import main

TOKEN = "cli-panel-token-0123456789"


def request(port: int, path: str, body: dict | None = None, token: str | None = TOKEN) -> tuple[int, dict]:
    headers = {"Content-Type": "application/json"} if body is not None else {}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=json.dumps(body).encode() if body else None,
                                 headers=headers, method="POST" if body is not None else "GET")
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())
    except (urllib.error.URLError, ConnectionError):
        return 0, {}


def corner(path, index: int = 45) -> float:
    """Median brightness of frame ``index``'s bottom-left corner, where the burned-in overlay's box goes
    (the box keeps 40% of the picture's light; the median skips its sparse white text)."""
    with av.open(str(path)) as c:
        for i, frame in enumerate(c.decode(video=0)):
            if i == index:
                image = frame.to_ndarray(format="rgb24").astype(np.float64)
                h, w = image.shape[:2]
                return float(np.median(image[h - 28:, : w // 3]))
    raise AssertionError(f"{path} has fewer than {index + 1} frames")


def run_live(args: list[str], out: dict) -> threading.Thread:
    t = threading.Thread(target=lambda: out.setdefault("rc", main(args)), daemon=True)
    t.start()
    return t


@pytest.mark.slow
def test_live_with_the_panel_from_the_command_line(tmp_path, monkeypatch, capfd):
    monkeypatch.setenv("DREAMSTREAM_PANEL_TOKEN", TOKEN)
    port = free_port()
    cfg = tmp_path / "browser.yaml"
    cfg.write_text("live:\n  overlay: browser\n")
    out: dict = {}
    video = tmp_path / "out.mkv"
    t = run_live(["live", "--input", "testsrc", "--output", str(video), "--panel", str(port), "--duration", "8",
                  "--config", str(cfg), *FAST], out)
    deadline = time.monotonic() + 60
    while request(port, "/api/state")[0] != 200:
        assert time.monotonic() < deadline and t.is_alive(), "the panel did not come up"
        time.sleep(0.1)
    assert request(port, "/api/state", token=None)[0] == 401
    status, answer = request(port, "/api/command", {"text": "!dream goldfish"})
    assert status == 200 and answer["reply"] == "now: goldfish for 45s"
    assert answer["state"]["controls"]["target"] == 1
    (output,) = answer["state"]["outputs"]
    assert output["name"] == str(video) and output["connected"] and output["failed"] is None
    while request(port, "/api/state")[1]["outputs"][0]["frames_written"] == 0:
        assert t.is_alive(), "the stream ended without writing a frame"
        time.sleep(0.05)
    assert request(port, "/api/state")[1]["outputs"][0]["frames_dropped"] == 0
    t.join(60)
    assert out["rc"] == 0 and request(port, "/api/state")[0] == 0  # the panel stops with the stream
    err = capfd.readouterr().err
    assert err.count(f"panel http://127.0.0.1:{port}/?token={TOKEN}") == 1
    assert f"OBS overlay http://127.0.0.1:{port}/overlay?token={TOKEN}" in err

    # the same short stream with the overlay burned in, and in browser mode: only the first darkens the corner
    corners = {}
    for mode in ("burned", "browser"):
        (tmp_path / f"{mode}.yaml").write_text(f"live:\n  overlay: {mode}\n")
        path = tmp_path / f"{mode}.mkv"
        assert main(["live", "--input", "testsrc", "--output", str(path), "--panel", "127.0.0.1:0", "--duration", "2",
                     "--config", str(tmp_path / f"{mode}.yaml"), *FAST]) == 0
        corners[mode] = corner(path)
    assert corners["burned"] < 0.6 * corners["browser"], corners


def test_panel_flag_errors_are_one_line(capfd, monkeypatch):
    assert main(["live", "--input", "testsrc", "--output", "null", "--panel", "localhost:http"]) == 2
    assert "--panel 'localhost:http' is not [HOST:]PORT" in capfd.readouterr().err
    monkeypatch.setenv("DREAMSTREAM_PANEL_TOKEN", "short")
    assert main(["live", "--input", "testsrc", "--output", "null", "--panel", "0"]) == 2
    assert "DREAMSTREAM_PANEL_TOKEN must be at least 12 characters" in capfd.readouterr().err


def test_vcam_without_a_device_from_the_command_line(capfd):
    pytest.importorskip("pyvirtualcam")
    assert main(["live", "--input", "testsrc", "--output", "vcam:/dev/video9", "--duration", "1"]) != 0
    err = capfd.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no virtual camera at /dev/video9" in err[0] and "modprobe v4l2loopback" in err[0]
