"""Counters and latency percentiles shared by the live stages."""
from __future__ import annotations

import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Sequence
from typing import Any


class LiveStats:
    """Counters and latencies shared by the stages; :meth:`report` summarises an interval."""

    COUNTERS = ("captured", "dreamed", "output", "dropped", "repeated", "audio_dropped", "restarts", "plain")

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.lock = threading.Lock()
        self.captured = self.dropped = self.dreamed = self.output = self.repeated = self.audio_dropped = 0
        self.restarts = self.plain = 0  # dream restarts (the watchdog), output frames sent plain while it was down
        self.latencies: deque[float] = deque(maxlen=2000)
        # The whole run's latencies in bins (latency_bin): bounded memory for a stream that runs for hours.
        self.latency_bins: Counter[int] = Counter()
        self.recent: deque[float] = deque(maxlen=90)  # the newest latencies (about 3 s), never cleared
        self._last = {"t": clock(), **{k: 0 for k in self.COUNTERS}}
        self._sent_at: float | None = None  # when the output clock last sent a frame
        self.max_gap = self.run_max_gap = 0.0  # the longest wait between two output frames: this interval, the run

    def sent(self, now: float) -> None:
        """An output frame went out at ``now`` (s): the longest gap between two, this interval and the whole run."""
        with self.lock:
            if self._sent_at is not None:
                gap = now - self._sent_at
                self.max_gap, self.run_max_gap = max(self.max_gap, gap), max(self.run_max_gap, gap)
            self._sent_at = now

    def add(self, **counts: int) -> None:
        with self.lock:
            for k, v in counts.items():
                setattr(self, k, getattr(self, k) + v)

    def latency(self, seconds: float) -> None:
        with self.lock:
            self.latencies.append(seconds)
            self.recent.append(seconds)
            self.latency_bins[latency_bin(seconds)] += 1

    def recent_latency_ms(self, q: float) -> float | None:
        """Percentile ``q`` of the newest latencies (the last 90 frames), in ms; None before any."""
        with self.lock:
            values = sorted(self.recent)
        return round(1000 * percentile(values, q), 1) if values else None

    def run_latency_ms(self, q: float) -> float | None:
        """Percentile ``q`` of every latency so far, in ms (the resolution of :func:`latency_bin`); None before any."""
        with self.lock:
            total = sum(self.latency_bins.values())
            if not total:
                return None
            rank = min(total - 1, max(0, round(q / 100 * (total - 1))))
            seen = 0
            for tenth_ms, count in sorted(self.latency_bins.items()):
                seen += count
                if seen > rank:
                    return tenth_ms / 10
        raise AssertionError("unreachable")

    def report(self) -> dict[str, Any]:
        """Rates since the last report and latency percentiles (ms) of that interval."""
        with self.lock:
            now = self.clock()
            dt = max(1e-6, now - self._last["t"])
            lat = sorted(self.latencies)
            self.latencies.clear()
            out = {
                "time": round(time.time(), 3),
                "input_fps": round((self.captured - self._last["captured"]) / dt, 2),
                "dreamed_fps": round((self.dreamed - self._last["dreamed"]) / dt, 2),
                "output_fps": round((self.output - self._last["output"]) / dt, 2),
                "latency_p50_ms": round(1000 * percentile(lat, 50), 1) if lat else None,
                "latency_p95_ms": round(1000 * percentile(lat, 95), 1) if lat else None,
                "dropped": self.dropped - self._last["dropped"],
                "repeated": self.repeated - self._last["repeated"],
                "audio_dropped": self.audio_dropped - self._last["audio_dropped"],
                "max_gap_ms": round(1000 * self.max_gap, 1),
                "totals": {k: getattr(self, k) for k in self.COUNTERS},
            }
            self._last = {"t": now, **{k: getattr(self, k) for k in self.COUNTERS}}
            self.max_gap = 0.0
            return out


#: Latencies up to this many seconds are kept to 0.1 ms, longer ones to 10 ms, up to ``LATENCY_TOP_S``.
LATENCY_FINE_S = 2.0
#: Longer latencies count as this long: at most 20,001 + 5,800 bins in all.
LATENCY_TOP_S = 60.0


def latency_bin(seconds: float) -> int:
    """The bin of a latency, in tenths of a ms: 0.1 ms wide up to ``LATENCY_FINE_S``, then 10 ms up to the top."""
    tenths = max(0, round(seconds * 1e4))
    if tenths <= LATENCY_FINE_S * 1e4:
        return tenths
    return min(round(LATENCY_TOP_S * 1e4), round(tenths, -2))


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of already sorted values."""
    if not sorted_values:
        return float("nan")
    k = min(len(sorted_values) - 1, max(0, round(q / 100 * (len(sorted_values) - 1))))
    return sorted_values[k]
