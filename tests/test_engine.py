from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from engine.dream import Dreamer, DreamSettings, autocast, random_crops, resolve_device
from engine.errors import ConfigError, ModelError
from engine.filters import (
    decorrelate_color,
    gaussian_blur,
    laplacian_merge,
    laplacian_normalize,
    laplacian_split,
    octave_sizes,
    roll,
    upsample,
)
from engine.frames import to_image, to_tensor
from engine.models.registry import build_model, get_spec
from engine.objectives import FULL, channel, guide, guide_features, klass, layer


def small(photo: np.ndarray, w: int = 128, h: int = 96) -> torch.Tensor:
    return to_tensor(cv2.resize(photo, (w, h), interpolation=cv2.INTER_AREA))


class TestFilters:
    def test_laplacian_split_merge_is_exact(self):
        x = torch.rand(1, 3, 37, 53)
        bands = laplacian_split(x, 4)
        assert len(bands) == 4
        torch.testing.assert_close(laplacian_merge(bands), x, atol=1e-6, rtol=0)

    def test_laplacian_normalize_balances_bands(self):
        g = torch.randn(1, 3, 64, 64) + 5 * gaussian_blur(torch.randn(1, 3, 64, 64), 6)
        bands = laplacian_split(laplacian_normalize(g, 3), 3)
        rms = [b.square().mean().sqrt().item() for b in bands]
        assert max(rms) / min(rms) < 3

    def test_laplacian_falloff_weights_finer_bands_less(self):
        g = torch.randn(1, 3, 64, 64) + 5 * gaussian_blur(torch.randn(1, 3, 64, 64), 6)

        def fine_to_coarse(falloff: float) -> float:
            bands = laplacian_split(laplacian_normalize(g, 3, falloff=falloff), 3)
            return (bands[0].square().mean() / bands[-1].square().mean()).sqrt().item()

        assert fine_to_coarse(0.5) < 0.5 * fine_to_coarse(1.0)

    def test_roll_undo_is_exact(self):
        x = torch.rand(1, 3, 20, 30)
        assert torch.equal(roll(roll(x, 5, -7), -5, 7), x)

    def test_octave_sizes(self):
        assert octave_sizes(360, 640, 3, 2.0) == [(90, 160), (180, 320), (360, 640)]
        assert octave_sizes(40, 40, 4, 2.0)[-1] == (40, 40)
        assert all(min(s) >= 32 for s in octave_sizes(40, 40, 4, 2.0)[:-1])

    def test_chat_octaves_never_reach_the_engine_past_its_limit(self):
        """octave_sizes caps its count instead of overflowing (1.4 ** 1000000)."""
        from engine.filters import MAX_OCTAVES

        assert len(octave_sizes(360, 640, 1_000_000, 1.05)) == MAX_OCTAVES

    def test_decorrelate_keeps_rms_and_couples_channels(self):
        g = torch.zeros(1, 3, 8, 8)
        g[:, 0] = 1.0
        out = decorrelate_color(g)
        assert out.square().mean().item() == pytest.approx(g.square().mean().item(), rel=1e-5)
        assert out[:, 1].abs().sum() > 0

    def test_frames_round_trip(self, photo):
        assert np.array_equal(to_image(to_tensor(photo)), photo)


class TestModel:
    @pytest.mark.slow
    def test_default_model_classifies_real_photos(self, lite0):
        from skimage import data

        for img, expected in ((data.chelsea(), 285), (data.coffee(), 967)):
            x = to_tensor(cv2.resize(img, (224, 224), interpolation=cv2.INTER_AREA))
            assert lite0(x).argmax().item() == expected

    @pytest.mark.slow
    def test_fused_equals_unfused(self):
        torch.manual_seed(1)
        ref = build_model("efficientnet_lite0", fuse=False)
        for m in ref.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 2.0)
        fused = build_model("efficientnet_lite0", ref.state_dict(), fuse=True)
        x = torch.rand(1, 3, 67, 91)
        torch.testing.assert_close(
            fused.features(x, ["block10"])["block10"], ref.features(x, ["block10"])["block10"], atol=1e-4, rtol=1e-4
        )

    def test_every_layer_has_declared_shape(self):
        model = build_model("efficientnet_lite0")
        spec = get_spec("efficientnet_lite0")
        feats = model.features(torch.rand(1, 3, 64, 96), spec.layer_names)
        for info in spec.layers:
            f = feats[info.name]
            assert f.shape[1] == info.channels
            assert f.shape[-1] == -(-96 // info.stride)

    def test_features_stop_at_deepest_layer(self):
        model = build_model("efficientnet_lite0")
        calls = []
        model._blocks[6].register_forward_hook(lambda *a: calls.append(6))
        model.features(torch.rand(1, 3, 32, 32), ["block5"])
        assert calls == []
        model.features(torch.rand(1, 3, 32, 32), ["block6"])
        assert calls == [6]

    def test_unknown_model_and_layer_suggest(self):
        with pytest.raises(ModelError, match="did you mean.*efficientnet_lite0"):
            get_spec("efficientnet_lite")
        with pytest.raises(ModelError, match="block1"):
            get_spec("efficientnet_lite0").layer("blok1")
        assert get_spec("efficientnet_lite0").layer("eyes").name == "block9"


class TestObjectives:
    def test_combination_needs_and_value(self):
        acts = {FULL: {"a": torch.ones(1, 4, 2, 2) * 2, "b": torch.ones(1, 4, 2, 2)}}
        obj = layer("a") + 0.5 * channel("b", [1]) - layer("b")
        assert obj.needs == {FULL: frozenset({"a", "b"})}
        assert obj(acts).item() == pytest.approx(4 + 0.5 - 1)

    @pytest.mark.slow
    def test_layer_objective_rises(self, lite0, photo):
        x = small(photo)
        d = Dreamer(lite0, layer("block9"), DreamSettings(steps=1, jitter=4, seed=1))
        before = d.objective({FULL: lite0.features(x, ["block9"])}).item()
        y = d.ascend(x, 6)
        after = d.objective({FULL: lite0.features(y, ["block9"])}).item()
        assert after > before * 1.5
        assert 0 <= y.min() and y.max() <= 1

    @pytest.mark.slow
    def test_guide_moves_features_toward_guide(self, lite0, photo):
        from skimage import data

        g_img = small(data.chelsea())
        feats = guide_features(lite0.features, g_img, "block7")
        obj = guide(feats, "block7")
        x = small(photo)
        d = Dreamer(lite0, obj, DreamSettings(jitter=2, seed=3))
        before = obj({FULL: lite0.features(x, ["block7"])}).item()
        y = d.ascend(x, 5)
        assert obj({FULL: lite0.features(y, ["block7"])}).item() > before

    @pytest.mark.slow
    def test_class_dream_is_classified_as_target(self, lite0, photo):
        x = small(photo, 160, 120)
        assert (
            lite0(small(photo, 224, 224))[0].argsort(descending=True)[:50] - 1
        ).abs().min() > 0  # not already a goldfish
        s = DreamSettings(
            octaves=2, steps=15, step_size=0.006, jitter=8, smooth=1.0, decorrelate=True, crops=2, crop_min=0.5, seed=0
        )
        for index in (1, 340):  # goldfish, zebra
            y = Dreamer(lite0, klass(index), s).octaves(x)
            logits = lite0(torch.nn.functional.interpolate(y, (224, 224), mode="bilinear", antialias=True))[0]
            rank = (logits > logits[index]).sum().item() + 1
            assert rank <= 3, f"class {index} ranked {rank}"

    def test_random_crops_shape_and_determinism(self):
        x = torch.rand(1, 3, 50, 80)
        a = random_crops(x, 3, 32, 0.5, torch.Generator().manual_seed(4))
        b = random_crops(x, 3, 32, 0.5, torch.Generator().manual_seed(4))
        assert a.shape == (3, 3, 32, 32) and torch.equal(a, b)


class TestDream:
    @pytest.mark.slow
    def test_deterministic_for_a_seed(self, lite0, photo):
        x = small(photo, 96, 64)
        s = DreamSettings(octaves=2, steps=2, seed=5)
        a = Dreamer(lite0, layer("block4"), s).octaves(x)
        b = Dreamer(lite0, layer("block4"), s).octaves(x)
        c = Dreamer(lite0, layer("block4"), DreamSettings(octaves=2, steps=2, seed=6)).octaves(x)
        assert torch.equal(a, b)
        assert not torch.equal(a, c)
        assert a.shape == x.shape

    @pytest.mark.slow
    def test_every_layer_dreams(self, lite0, photo):
        x = small(photo, 96, 64)
        spec = get_spec("efficientnet_lite0")
        for info in spec.layers:
            y = Dreamer(lite0, layer(info.name), DreamSettings(octaves=1, steps=1, jitter=2)).octaves(x)
            assert torch.isfinite(y).all() and (y - x).abs().mean() > 1e-4, info.name

    def test_bf16_on_cpu_and_fp16_refused(self, lite0, photo):
        x = small(photo, 64, 48)
        y = Dreamer(lite0, layer("block4"), DreamSettings(octaves=1, steps=1, precision="bf16")).octaves(x)
        assert y.dtype == torch.float32 and torch.isfinite(y).all()
        with pytest.raises(ConfigError, match="fp16"):
            autocast(torch.device("cpu"), "fp16")

    def test_settings_and_device_validation(self):
        with pytest.raises(ConfigError, match="grad_norm"):
            DreamSettings(grad_norm="l2")
        with pytest.raises(ConfigError, match="cpu"):
            resolve_device("tpu")
        assert resolve_device("cpu").type == "cpu"


@pytest.mark.parametrize(("src", "dst", "channels"), [((108, 192), (216, 384), 3), ((55, 97), (109, 193), 1),
                                                      ((7, 5), (64, 48), 4), ((9, 9), (9, 20), 3)])
def test_upsample_matches_torchs_bilinear_interpolation(src, dst, channels) -> None:
    """The OpenCV path (one CPU picture outside autograd) gives torch's numbers, contiguous NCHW."""
    x = torch.randn(1, channels, *src, generator=torch.Generator().manual_seed(0))
    want = F.interpolate(x, size=dst, mode="bilinear", align_corners=False)
    got = upsample(x, dst)
    assert got.shape == want.shape and got.is_contiguous()
    assert torch.allclose(got, want, atol=1e-4)


def test_upsample_keeps_the_autograd_graph() -> None:
    x = torch.rand(1, 3, 8, 8, requires_grad=True)
    y = upsample(x, (16, 16))
    assert y.grad_fn is not None
    (g,) = torch.autograd.grad(y.sum(), x)
    assert torch.allclose(g.sum(), torch.tensor(256.0 * 3))
