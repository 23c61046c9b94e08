from __future__ import annotations

import os
import signal

# Before torch loads: tests dream in this process without the CLI's CPU share (stream/io/cpu_share.py),
# beside other processes on a shared machine, where OpenMP threads that spin while they wait make every
# torch call crawl. CLI children inherit it; tests/test_cpu_share.py checks that the CLI itself sets none.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np
import pytest
import torch
from rtmp_receiver import receivers  # noqa: F401 (a fixture: RTMP receivers on 127.0.0.1)


@pytest.fixture(scope="session")
def lite0():
    """The real default model (embedded weights), fused, channels_last, on the CPU."""
    from engine.dream import prepare_model
    from engine.models.registry import build_model, get_spec
    from stream.io.weights import load_state_dict

    return prepare_model(build_model("efficientnet_lite0", load_state_dict(get_spec("efficientnet_lite0"))))


@pytest.fixture()
def photo() -> np.ndarray:
    """A real photo (scikit-image's coffee), uint8 RGB (400, 600, 3)."""
    from skimage import data

    return data.coffee()


@pytest.fixture()
def restore_signals():
    """SIGINT and SIGTERM handlers as they were before the test (the CLI's runs install their own)."""
    old = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    yield
    for s, h in old.items():
        signal.signal(s, h)


TORCH_THREADS = torch.get_num_threads()


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
    np.random.seed(0)
    yield
    # A live run's CPU share (stream/io/cpu_share.py) sets the count new threads start with: back for the next test.
    torch.set_num_threads(TORCH_THREADS)
