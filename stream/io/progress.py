"""Progress bars on stderr (tqdm): shown when stderr is a terminal, or when asked for."""
from __future__ import annotations

from typing import Any

from tqdm import tqdm


def progress_bar(total: int | None, unit: str, *, enabled: bool | None = None, **options: Any) -> tqdm:
    """A tqdm bar counting ``unit``; ``enabled=None`` shows it only on a terminal. Use it as a context manager."""
    return tqdm(total=total, unit=unit, disable=None if enabled is None else not enabled, dynamic_ncols=True,
                **options)
