"""FFmpeg and OS errors in one line, as the reader, the prober and the writer report them."""
from __future__ import annotations


def reason(exc: BaseException) -> str:
    """One line out of an FFmpeg or OS error."""
    text = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return " ".join(str(text).split())
