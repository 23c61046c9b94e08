"""Optical flow, warping, occlusion, scene cuts and the temporal dreamer (tiny frames, random frozen model)."""
from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch
from media import clip_frame

from engine.dream import Dreamer, DreamSettings
from engine.errors import ConfigError
from engine.flow import (
    DIS_PRESETS,
    FLOW_METHODS,
    FlowEstimator,
    compute_flow,
    cut_score,
    occlusion_mask,
    scene_cut,
    to_gray,
    warp,
    warping_error,
)
from engine.frames import to_tensor
from engine.models.registry import build_model
from engine.objectives import layer
from engine.temporal import TEMPORAL_FLOWS, TemporalDreamer, TemporalSettings, flow_size


def texture(h: int = 120, w: int = 200, seed: int = 0) -> np.ndarray:
    """A smooth random colour texture, uint8 RGB (h, w, 3) (good for optical flow)."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (h // 6, w // 6, 3), dtype=np.uint8)
    return cv2.GaussianBlur(cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC), (0, 0), 1.5)


def shifted(image: np.ndarray, dx: float, dy: float) -> np.ndarray:
    """``image`` moved by (dx, dy) pixels: ``out[y, x] = image[y - dy, x - dx]`` (bicubic, border reflected)."""
    m = np.array([[1.0, 0.0, dx], [0.0, 1.0, dy]])
    return cv2.warpAffine(image, m, image.shape[1::-1], flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)


# ------------------------------------------------------------------------------------------- warp


def test_zero_flow_warps_an_image_to_itself() -> None:
    x = torch.rand(2, 3, 17, 23, generator=torch.Generator().manual_seed(0))
    assert torch.equal(warp(x, torch.zeros(2, 2, 17, 23)), x)
    assert torch.equal(warp(x[:1], np.zeros((17, 23, 2), np.float32)), x[:1])
    assert (warp(x, torch.zeros(2, 2, 17, 23), mode="bicubic") - x).abs().max() < 1e-4


def test_warp_moves_by_a_known_shift_and_repeats_the_border() -> None:
    x = torch.rand(1, 3, 20, 30, generator=torch.Generator().manual_seed(1))
    flow = np.zeros((20, 30, 2), np.float32)
    flow[..., 0], flow[..., 1] = 3.0, -2.0  # out[y, x] = x[y - 2, x + 3]
    out = warp(x, flow)
    assert torch.equal(out[..., 2:, :-3], x[..., :-2, 3:])
    assert torch.equal(out[..., 2:, -1], x[..., :-2, -1])  # right border repeated
    flow[..., 0], flow[..., 1] = 0.5, 0.0
    half = warp(x, flow)
    assert torch.allclose(half[..., :-1], (x[..., :-1] + x[..., 1:]) / 2, atol=1e-6)
    with pytest.raises(ValueError):
        warp(x, np.zeros((10, 30, 2), np.float32))


def test_bicubic_warp_through_opencv_matches_grid_sample() -> None:
    """On the CPU a float32 image takes cv2.remap; float64 takes grid_sample: the same kernel and border."""
    gen = torch.Generator().manual_seed(2)
    x = torch.nn.functional.avg_pool2d(torch.rand(1, 3, 44, 64, generator=gen), 5, 1)  # smooth, 40x60
    flow = (torch.randn(40, 60, 2, generator=gen) * 4).numpy()
    fast, exact = warp(x, flow, mode="bicubic"), warp(x.double(), flow, mode="bicubic")
    assert fast.dtype == torch.float32 and fast.shape == x.shape
    assert (fast.double() - exact).abs().max() < 1e-4
    tensor_flow = torch.from_numpy(flow).permute(2, 0, 1).unsqueeze(0)
    assert torch.equal(warp(x, tensor_flow, mode="bicubic"), fast)
    with pytest.raises(ValueError, match="differ in size"):
        warp(x, flow[:-1], mode="bicubic")


def test_bicubic_warp_in_row_bands_is_the_whole_warp(monkeypatch: pytest.MonkeyPatch) -> None:
    """A 4K carry is warped a band of rows at a time (no full-size maps): the same pixels as in one go."""
    import engine.flow

    gen = torch.Generator().manual_seed(3)
    x = torch.rand(1, 3, 40, 60, generator=gen)
    flow = (torch.randn(40, 60, 2, generator=gen) * 6).numpy()
    whole = warp(x, flow, mode="bicubic")
    monkeypatch.setattr(engine.flow, "REMAP_ROWS", 7)  # 6 bands, the last one short
    assert torch.equal(warp(x, flow, mode="bicubic"), whole)


@pytest.mark.parametrize("method", FLOW_METHODS)
def test_flow_recovers_a_known_shift_and_warp_undoes_it(method: str) -> None:
    a = texture()
    b = shifted(a, 2.5, -1.5)  # b[y, x] = a[y + 1.5, x - 2.5]
    flow = compute_flow(to_gray(a), to_gray(b), method)
    assert flow.shape == (120, 200, 2) and flow.dtype == np.float32
    inner = flow[15:-15, 15:-15]
    assert np.median(inner[..., 0]) == pytest.approx(2.5, abs=0.25)
    assert np.median(inner[..., 1]) == pytest.approx(-1.5, abs=0.25)
    back = warp(to_tensor(b), flow)  # b brought onto a's grid
    err = (back - to_tensor(a))[..., 15:-15, 15:-15].abs().mean()
    assert err < 0.02 < (to_tensor(b) - to_tensor(a)).abs().mean()


def test_flow_estimator_checks_its_settings() -> None:
    with pytest.raises(ConfigError, match="flow method 'lk'"):
        FlowEstimator("lk")
    with pytest.raises(ConfigError, match="preset 'slow'"):
        FlowEstimator("dis", "slow")
    assert set(DIS_PRESETS) == {"ultrafast", "fast", "medium"}


# -------------------------------------------------------------------------------------- occlusion


def test_occlusion_mask_marks_a_revealed_strip_with_exact_flows() -> None:
    h, w = 40, 60
    fwd = np.zeros((h, w, 2), np.float32)  # frame A -> B: a square at x 10..19 moves 6 px right
    bwd = np.zeros((h, w, 2), np.float32)  # frame B -> A
    fwd[10:20, 10:20, 0] = 6.0
    bwd[10:20, 16:26, 0] = -6.0
    # On B's grid (the new frame), pixels x 10..15 of the rows show background the square covered in A.
    mask = occlusion_mask(bwd, fwd)
    assert mask.shape == (h, w) and mask.dtype == np.float32
    assert mask[10:20, 10:16].min() == 1.0
    assert mask.sum() == 10 * 6  # nothing else
    # Seen from A, the background that the square covers in B (x 20..25) is occluded.
    occluded = occlusion_mask(fwd, bwd)
    assert occluded[10:20, 20:26].min() == 1.0 and occluded.sum() == 10 * 6


def test_occlusion_mask_marks_pixels_that_leave_the_frame_and_motion_edges() -> None:
    fwd = np.full((30, 40, 2), 0.0, np.float32)
    fwd[..., 0] = -5.0  # everything moves 5 px left; columns 0..4 leave the frame
    bwd = -fwd
    mask = occlusion_mask(fwd, bwd)
    assert mask[:, :5].min() == 1.0 and mask[:, 5:].max() == 0.0
    edge = np.zeros((30, 40, 2), np.float32)
    edge[:, 20:, 0] = 3.0
    back = np.zeros_like(edge)
    back[:, 23:, 0] = -3.0
    back[:, 20:23, 0] = -1.5  # consistent enough for the check, but a motion boundary
    plain, edges = occlusion_mask(edge, back), occlusion_mask(edge, back, motion_edges=True)
    assert edges[:, 19:21].min() == 1.0 and edges.sum() > plain.sum()


def test_occlusion_mask_from_estimated_flow_finds_the_revealed_region() -> None:
    background = texture(96, 128, seed=2)
    square = texture(24, 24, seed=3)
    a, b = background.copy(), background.copy()
    a[36:60, 30:54] = square
    b[36:60, 40:64] = square  # moved 10 px right: x 30..39 revealed in b
    gb, ga = to_gray(b), to_gray(a)
    fe = FlowEstimator("dis", "medium")
    mask = occlusion_mask(fe(gb, ga), fe(ga, gb))
    assert mask[40:56, 31:39].mean() > 0.5
    far = np.ones_like(mask, bool)
    far[26:70, 20:74] = False
    assert mask[far].mean() < 0.1


def test_warping_error_ignores_unreliable_pixels() -> None:
    a = to_tensor(texture(40, 60, seed=4))
    b = a.clone()
    b[..., :10, :10] = 1 - b[..., :10, :10]
    zero = np.zeros((40, 60, 2), np.float32)
    unreliable = np.zeros((40, 60), np.float32)
    assert warping_error(a, a, zero, unreliable) == 0.0
    assert warping_error(a, b, zero, unreliable) > 0.001
    unreliable[:10, :10] = 1
    assert warping_error(a, b, zero, unreliable) == 0.0
    assert np.isnan(warping_error(a, b, zero, np.ones((40, 60), np.float32)))


# -------------------------------------------------------------------------------------- scene cut


def test_scene_cut_on_a_hard_cut_but_not_on_a_pan() -> None:
    from skimage import data

    photo = cv2.resize(data.coffee(), (320, 214))
    pan = [to_gray(shifted(photo, 4 * i, i)[20:-20, 30:-30]) for i in range(4)]
    assert max(cut_score(p, q) for p, q in zip(pan, pan[1:])) < 0.05
    assert not any(scene_cut(p, q) for p, q in zip(pan, pan[1:]))
    other = to_gray(cv2.resize(data.astronaut(), pan[0].shape[::-1]))
    assert scene_cut(pan[-1], other) and cut_score(pan[-1], other) > 0.25
    before, after = to_gray(clip_frame(7, pattern="cut")), to_gray(clip_frame(8, pattern="cut"))
    assert scene_cut(before, after)
    assert not scene_cut(to_gray(clip_frame(8, pattern="cut")), to_gray(clip_frame(9, pattern="cut")))


# ------------------------------------------------------------------------------- temporal dreamer


SETTINGS = DreamSettings(octaves=1, steps=2, jitter=2, step_size=0.02)


@pytest.fixture(scope="module")
def random_model() -> torch.nn.Module:
    torch.manual_seed(0)
    return build_model("efficientnet_lite0").eval()  # random weights: shapes and control flow only


@pytest.fixture()
def random_dreamer(random_model: torch.nn.Module) -> Dreamer:
    return Dreamer(random_model, layer(random_model.spec.default_layer), SETTINGS)


@pytest.fixture()
def dreamer(lite0: torch.nn.Module) -> Dreamer:
    """The real default model (a random one barely changes a picture): tiny frames keep it fast."""
    return Dreamer(lite0, layer(lite0.spec.default_layer), SETTINGS)


def frames(n: int, pattern: str = "moving", width: int = 64, height: int = 48) -> list[np.ndarray]:
    return [clip_frame(i, width, height, pattern) for i in range(n)]


@pytest.mark.slow
def test_first_frame_is_full_then_warm_and_a_cut_restarts(random_dreamer: Dreamer) -> None:
    td = TemporalDreamer(random_dreamer, TemporalSettings(steps_per_frame=1, dream_scale=1.0))
    kinds = []
    for frame in frames(12, "cut"):
        out = td(frame)
        assert out.shape == frame.shape and out.dtype == np.uint8
        kinds.append(td.last_kind)
    assert kinds[0] == "full" and kinds[8] == "cut"
    assert kinds[1:8] == ["warm"] * 7 and kinds[9:] == ["warm"] * 3
    td.reset()
    td(frames(1)[0])
    assert td.last_kind == "full"


def test_a_cut_with_the_same_tones_is_found_by_the_flow_check(random_dreamer: Dreamer) -> None:
    td = TemporalDreamer(random_dreamer, TemporalSettings(steps_per_frame=1, dream_scale=1.0))
    a = texture(48, 64, seed=6)
    b = np.ascontiguousarray(a[::-1, ::-1])  # same histogram, another picture
    td(a)
    td(b)
    assert td.last_cut_score < 0.05 and td.last_unreliable > 0.6 and td.last_kind == "cut"


@pytest.mark.slow
def test_flow_none_dreams_every_frame_in_full_and_key_every_refreshes(random_dreamer: Dreamer) -> None:
    dreamer = random_dreamer
    td = TemporalDreamer(dreamer, TemporalSettings(flow="none", dream_scale=1.0))
    for frame in frames(3):
        td(frame)
        assert td.last_kind == "full"
    td = TemporalDreamer(dreamer, TemporalSettings(key_every=3, steps_per_frame=1, dream_scale=1.0))
    kinds = []
    for frame in frames(7):
        td(frame)
        kinds.append(td.last_kind)
    assert kinds == ["full", "warm", "warm", "full", "warm", "warm", "full"]


@pytest.mark.slow
def test_residual_stays_bounded_over_many_frames(dreamer: Dreamer) -> None:
    """No brightening frame after frame: the dream's offset from the input levels off."""
    td = TemporalDreamer(dreamer, TemporalSettings(steps_per_frame=2, dream_scale=1.0))
    signed, absolute = [], []
    for frame in frames(40, "static"):
        out = td(frame).astype(np.float32)
        signed.append(float((out - frame).mean()))
        absolute.append(float(np.abs(out - frame).mean()))
    assert absolute[-1] > 2.0  # it does dream
    assert abs(np.mean(signed[-10:])) <= abs(np.mean(signed[10:20])) + 1.0
    assert np.mean(absolute[-10:]) <= 1.15 * np.mean(absolute[10:20]) + 0.5
    # Without any fade (the peers' way), the same dream keeps growing.
    grow = TemporalDreamer(dreamer, TemporalSettings(steps_per_frame=2, dream_scale=1.0, flow_blend=1.0, decay=0.0))
    grown = [float(np.abs(grow(f).astype(np.float32) - f).mean()) for f in frames(40, "static")]
    assert np.mean(grown[-10:]) > 1.3 * np.mean(absolute[-10:])


def test_revealed_pixels_start_from_the_plain_frame(dreamer: Dreamer) -> None:
    """With no steps, the carried dream covers what was seen, and newly revealed pixels are the frame itself."""
    wide = texture(48, 120, seed=5)
    a, b = wide[:, 20:84], wide[:, 12:76]  # the view pans 8 px left: b's columns 0..7 are new
    td = TemporalDreamer(dreamer, TemporalSettings(steps_per_frame=0, dream_scale=1.0, decay=0.0, flow_preset="medium",
                                                 settle_frames=0))  # a fully dreamed first frame
    first = td(np.ascontiguousarray(a))
    out = td(np.ascontiguousarray(b))
    assert td.last_kind == "warm"
    diff = np.abs(out.astype(int) - b)
    assert diff[4:-4, :4].max() <= 1  # revealed: the plain frame
    carried = np.abs(first.astype(int) - a)[:, 4:-12].mean()
    assert diff[:, 12:-4].mean() > 0.5 * 0.9 * carried  # seen before: the dream came along


def test_large_dreams_find_their_flow_on_frames_at_most_flow_max_side_wide(
    random_dreamer: Dreamer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The flow and its check cost the same at any size (a 4K dream finds them at 1920x1080)."""
    import engine.temporal

    assert flow_size(2160, 3840) == (1080, 1920) and flow_size(1080, 1920) == (1080, 1920)
    assert flow_size(360, 640) == (360, 640)  # every default dream: its own size
    monkeypatch.setattr(engine.temporal, "FLOW_MAX_SIDE", 48)  # these 96x64 frames count as large
    td = TemporalDreamer(random_dreamer, TemporalSettings(dream_scale=1.0, steps_per_frame=1, settle_frames=1))
    seen: list[tuple[int, ...]] = []
    find = td.flow

    def spy(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        seen.append(a.shape)
        return find(a, b)

    td.flow = spy
    clip = frames(3, width=96, height=64)
    outs = [td(f) for f in clip]
    assert td.last_kind == "warm" and all(o.shape == (64, 96, 3) for o in outs)
    assert seen and set(seen) == {(32, 48)}


def test_dream_scale_and_objective_changes_keep_the_flow_state(dreamer: Dreamer) -> None:
    td = TemporalDreamer(dreamer, TemporalSettings(dream_scale=0.5, steps_per_frame=1))
    assert td.dream_size(48, 64) == (24, 32)
    assert td.dream_size(720, 1280) == (360, 640)  # dream_max_side caps large frames
    assert TemporalDreamer(dreamer, TemporalSettings(dream_max_side=0)).dream_size(720, 1280) == (540, 960)
    clip = frames(3, width=96, height=64)
    assert td(clip[0]).shape == (64, 96, 3)
    objective = layer("block6")
    td.set_objective(objective)
    td(clip[1])
    assert td.last_kind == "warm" and td.dreamer.objective is objective
    td(frames(1)[0])  # another size: starts over
    assert td.last_kind == "full"
    with pytest.raises(ValueError):
        td(np.zeros((8, 8), np.uint8))


@pytest.mark.parametrize(
    "bad",
    [
        {"flow": "lk"},
        {"flow_preset": "slow"},
        {"flow_blend": 1.5},
        {"decay": -0.1},
        {"dream_scale": 0.0},
        {"steps_per_frame": -1},
    ],
)
def test_temporal_settings_reject_bad_values(bad: dict) -> None:
    with pytest.raises(ConfigError):
        TemporalSettings(**bad)


def test_config_schema_matches_the_engine() -> None:
    from stream.settings.loader import SCHEMA, load_config
    from stream.settings.video import VideoSettings

    assert SCHEMA["video.flow"].choices == TEMPORAL_FLOWS and SCHEMA["video.flow_preset"].choices == tuple(DIS_PRESETS)
    assert load_config().section("video") == VideoSettings()  # default.yaml states the defaults
