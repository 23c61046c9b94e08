"""The environment a child process of ours starts with: only what Python, FFmpeg and a window need.

A sink child gets its stream key through its pipe; it must not also find it (or an OAuth token,
or any other secret the user exported) in ``/proc/PID/environ``. :func:`child_env` keeps an
allow-list of variable names and drops any variable whose value holds a known secret.
"""
from __future__ import annotations

import os
from collections.abc import Iterable, Mapping

#: Variables a child may inherit, by exact name.
KEEP = frozenset({
    "PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "LANGUAGE", "TZ", "TMPDIR", "TEMP", "TMP",
    "PYTHONPATH", "PYTHONHOME", "PYTHONIOENCODING", "PYTHONUTF8", "PYTHONDONTWRITEBYTECODE", "VIRTUAL_ENV",
    "LD_LIBRARY_PATH", "DYLD_LIBRARY_PATH", "DISPLAY", "WAYLAND_DISPLAY", "XDG_RUNTIME_DIR", "XAUTHORITY",
    "SYSTEMROOT", "SYSTEMDRIVE", "WINDIR", "COMSPEC", "PATHEXT", "APPDATA", "LOCALAPPDATA", "USERPROFILE",
    "OMP_NUM_THREADS", "OMP_WAIT_POLICY", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "OPENCV_FOR_THREADS_NUM",
})
#: ... and by prefix (locale, FFmpeg's and our own logging switches).
KEEP_PREFIXES = ("LC_", "AV_LOG", "DREAMSTREAM_DEBUG")


def child_env(secrets: Iterable[str] = (), environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The allowed subset of ``environ`` (default ``os.environ``) with no value holding one of ``secrets``."""
    environ = os.environ if environ is None else environ
    hidden = [s for s in secrets if s]
    return {
        k: v for k, v in environ.items()
        if (k in KEEP or k.startswith(KEEP_PREFIXES)) and not any(s in v for s in hidden)
    }
