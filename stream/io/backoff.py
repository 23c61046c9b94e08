"""Exponential backoff for reconnecting sources and sinks."""
from __future__ import annotations

from dataclasses import dataclass

from engine.errors import ConfigError


@dataclass(frozen=True)
class BackoffPolicy:
    """Exponential backoff: ``delay(n)`` is the wait after the n-th failure in a row (n >= 1)."""

    initial_s: float = 0.5
    max_s: float = 10.0
    factor: float = 2.0

    def __post_init__(self) -> None:
        if not (0 < self.initial_s <= self.max_s) or self.factor < 1:
            raise ConfigError(
                f"backoff initial_s={self.initial_s}, max_s={self.max_s}, factor={self.factor} is invalid; "
                "allowed: 0 < initial_s <= max_s, factor >= 1"
            )

    def delay(self, failures: int) -> float:
        """Seconds to wait after ``failures`` consecutive failures."""
        if failures <= 0:
            return 0.0
        exponent = min(failures - 1, 64)
        return min(self.max_s, self.initial_s * self.factor**exponent)
