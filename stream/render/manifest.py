"""The work folder's manifest: what a chunked render is, and which chunks are done.

``OUT.parts/manifest.json`` records the hash of the settings that shape the dream, the input's
size and SHA-256, the frames' timestamps, the chunk plan and the chunks already written. A run
whose settings and input match reuses the done chunks; otherwise it starts over. The file is
replaced atomically (written beside, flushed, renamed), so a kill leaves the old one or the new one.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

from engine.errors import SinkError
from stream.io.video.errors import reason
from stream.render.chunks import Chunk
from stream.render.scan import Scan

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
VERSION = 1


def settings_hash(doc: Mapping[str, Any]) -> str:
    """SHA-256 of ``doc`` (plain JSON values) written canonically."""
    text = json.dumps(doc, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def file_hash(path: str | os.PathLike[str], block: int = 1 << 20) -> tuple[int, str]:
    """The size in bytes and SHA-256 of the file at ``path``."""
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as f:
        while data := f.read(block):
            digest.update(data)
            size += len(data)
    return size, digest.hexdigest()


@dataclass
class Manifest:
    """A chunked render: its identity (``settings_hash``, input size and hash), plan and progress."""

    settings_hash: str
    input_size: int
    input_hash: str
    scan: Scan
    chunks: list[Chunk]
    done: dict[int, int] = field(default_factory=dict)  # chunk index -> frames in its file

    def matches(self, other: Manifest) -> str | None:
        """None when ``other`` is the same job; else what differs ("settings" or "input")."""
        if (self.input_size, self.input_hash) != (other.input_size, other.input_hash):
            return "input"
        if self.settings_hash != other.settings_hash:
            return "settings"
        return None

    def to_json(self) -> dict[str, Any]:
        s = self.scan
        return {
            "version": VERSION,
            "settings_hash": self.settings_hash,
            "input": {"size": self.input_size, "sha256": self.input_hash},
            "frames": {"pts": list(s.pts), "cuts": list(s.cuts), "origin": s.origin, "time_base": str(s.time_base),
                       "truncated": s.truncated},
            "chunks": [[c.start, c.stop, c.lead_in] for c in self.chunks],
            "done": {str(k): v for k, v in sorted(self.done.items())},
        }

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> Manifest:
        if doc.get("version") != VERSION:
            raise ValueError(f"manifest version {doc.get('version')!r}, expected {VERSION}")
        f = doc["frames"]
        scan = Scan(tuple(int(p) for p in f["pts"]), tuple(int(c) for c in f["cuts"]), int(f["origin"]),
                    Fraction(f["time_base"]), bool(f["truncated"]))
        chunks = [Chunk(i, int(a), int(b), int(lead)) for i, (a, b, lead) in enumerate(doc["chunks"])]
        done = {int(k): int(v) for k, v in doc["done"].items()}
        return cls(
            str(doc["settings_hash"]), int(doc["input"]["size"]), str(doc["input"]["sha256"]), scan, chunks, done
        )


def read_manifest(folder: Path) -> Manifest | None:
    """The manifest in ``folder``, or None when there is none or it cannot be read (logged)."""
    path = folder / MANIFEST
    if not path.is_file():
        return None
    try:
        return Manifest.from_json(json.loads(path.read_text()))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.warning("%s: unreadable (%s); starting over", path, exc)
        return None


def write_manifest(folder: Path, manifest: Manifest) -> None:
    """Replace ``folder``'s manifest atomically; SinkError if it cannot be written (the old one stays)."""
    path = folder / MANIFEST
    tmp = folder / (MANIFEST + ".tmp")
    try:
        with open(tmp, "w") as f:
            json.dump(manifest.to_json(), f, separators=(",", ":"))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise SinkError(f"{path}: cannot write it ({reason(exc)})") from exc
