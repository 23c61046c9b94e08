"""The error of a chunked render whose workers keep failing."""
from __future__ import annotations

from engine.errors import DreamError


class RenderError(DreamError):
    """A chunk could not be dreamed: its workers died more often than allowed, or Ray is missing or did not start."""

    exit_code = 7
