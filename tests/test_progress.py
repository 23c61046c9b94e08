"""Progress bars are tqdm's: the video loop's bar and the weights download's."""
from __future__ import annotations

import io
from types import SimpleNamespace

import numpy as np

from stream.io.progress import progress_bar
from stream.render.video import dream_video


class _Writer:
    def __init__(self) -> None:
        self.frames = 0

    def write(self, image: np.ndarray, pts: int) -> None:
        self.frames += 1

    def close(self) -> None:
        pass


class _Dream:
    last_kind = "flow"

    def __call__(self, image: np.ndarray) -> np.ndarray:
        return image


def test_the_video_loop_counts_frames_on_a_tqdm_bar() -> None:
    frames = [SimpleNamespace(image=np.zeros((4, 4, 3), np.uint8), pts=i) for i in range(3)]
    dream = _Dream()
    out = io.StringIO()
    run = dream_video(iter(frames), _Writer(), dream, progress_bar(3, "frames", enabled=True, file=out))
    assert run.frames == 3
    text = out.getvalue()
    assert "100%" in text and "3/3" in text and "frames" in text and "flow" in text


def test_a_bar_stays_off_when_not_asked() -> None:
    out = io.StringIO()
    with progress_bar(5, "steps", enabled=False, file=out) as bar:
        bar.update(5)
    assert out.getvalue() == ""
