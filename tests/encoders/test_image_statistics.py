"""``image_statistics``: colour, shape and texture statistics of a photo (no network)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image, ImageDraw

from transmodal.encoders.base import build_encoder
from transmodal.encoders.image_statistics import (
    BOX,
    FEATURES,
    HUE_BINS,
    SATURATION_BINS,
    ImageStatisticsEncoder,
    object_mask,
    photo_statistics,
)
from transmodal.errors import ConfigError

SIZE = 112
MEANS = slice(BOX, BOX + 3)  # the object's mean R, G, B
HUE_SATURATION = slice(BOX + 18, BOX + 18 + HUE_BINS * SATURATION_BINS)


def square(colour: tuple[int, int, int], background: tuple[int, int, int] = (255, 255, 255),
           box: tuple[int, int, int, int] = (28, 14, 84, 98)) -> Image.Image:
    """A filled rectangle (left, top, right, bottom in a 112-pixel image) on a plain background."""
    image = Image.new("RGB", (SIZE, SIZE), background)
    ImageDraw.Draw(image).rectangle(box, fill=colour)
    return image


def test_registered_and_built_frozen_without_parameters() -> None:
    encoder = build_encoder("image", {"name": "image_statistics"})
    assert isinstance(encoder, ImageStatisticsEncoder)
    assert encoder.frozen and encoder.output_dim == FEATURES == 279
    assert not list(encoder.parameters())


def test_the_object_on_a_white_background_gives_its_colour_box_and_area() -> None:
    features = photo_statistics(square((200, 30, 30)), SIZE, 0.08)
    assert features.shape == (FEATURES,) and features.dtype == np.float32
    assert np.allclose(features[MEANS], np.array([200, 30, 30]) / 255, atol=1e-4)  # white pixels left out
    left, right, top, bottom, aspect, area = features[:BOX]
    assert (left, right, top, bottom) == pytest.approx((28 / SIZE, 84 / SIZE, 14 / SIZE, 98 / SIZE))
    assert aspect == pytest.approx(57 / 85) and area == pytest.approx(57 * 85 / SIZE**2)
    hue_saturation = features[HUE_SATURATION].reshape(HUE_BINS, SATURATION_BINS)
    assert hue_saturation[0, -1] == pytest.approx(1.0)  # every object pixel: red hue, strong saturation


def test_the_background_is_the_borders_colour_not_always_white() -> None:
    """A white shirt on a dark background is told apart as a dark shirt on white is."""
    dark_on_white = photo_statistics(square((20, 20, 20)), SIZE, 0.08)
    white_on_dark = photo_statistics(square((250, 250, 250), background=(15, 15, 15)), SIZE, 0.08)
    assert np.allclose(white_on_dark[MEANS], 250 / 255, atol=1e-4)
    assert np.allclose(dark_on_white[:BOX], white_on_dark[:BOX])  # the same box and area


def test_a_plain_image_is_all_object_and_tiny_objects_too() -> None:
    plain = np.full((SIZE, SIZE, 3), 0.5, np.float32)
    assert object_mask(plain, 0.08).all()
    features = photo_statistics(square((0, 0, 0), box=(50, 50, 52, 52)), SIZE, 0.08)  # 9 pixels < 20
    assert features[BOX - 1] == pytest.approx(1.0) and np.isfinite(features).all()


def test_prepare_and_forward_give_one_row_per_image_and_zeros_for_a_missing_one() -> None:
    encoder = ImageStatisticsEncoder()
    images = [square((30, 30, 200)), None, square((30, 200, 30))]
    out = encoder(encoder.prepare(images))  # (3, 279)
    assert out.shape == (3, FEATURES) and out.dtype == torch.float32
    assert torch.equal(out[1], torch.zeros(FEATURES))
    assert torch.equal(out[0], torch.from_numpy(photo_statistics(images[0], SIZE, 0.08)))
    assert not torch.equal(out[0], out[2])


def test_settings_are_checked() -> None:
    with pytest.raises(ConfigError, match="nothing to train"):
        ImageStatisticsEncoder(frozen=False)
    with pytest.raises(ConfigError, match="threshold"):
        ImageStatisticsEncoder(threshold=1.5)
    with pytest.raises(ConfigError, match="image_size"):
        ImageStatisticsEncoder(image_size=8)
    with pytest.raises(ConfigError, match="unknown setting"):
        ImageStatisticsEncoder(bins=4)


def test_a_fitted_predictor_reads_the_colour_and_a_loaded_one_predicts_the_same(tmp_path) -> None:
    """Labels that only the object's colour tells: the statistics carry it through a fit, and a
    saved model rebuilds the encoder from its settings (nothing to save) and predicts the same."""
    from transmodal.predictor import MultimodalPredictor

    rng = np.random.default_rng(0)
    rows = []
    for i in range(48):
        warm = i % 2 == 0
        colour = (200 + rng.integers(0, 50), rng.integers(0, 60), 20) if warm else (20, rng.integers(0, 60), 200)
        left, top = rng.integers(5, 40, size=2)
        path = tmp_path / f"{i}.png"
        square(tuple(int(c) for c in colour), box=(int(left), int(top), int(left) + 50, int(top) + 60)).save(path)
        rows.append({"photo": str(path), "label": "warm" if warm else "cold"})
    frame = pd.DataFrame(rows)
    predictor = MultimodalPredictor(label="label").fit(
        frame, column_types={"photo": "image"}, seed=0,
        hyperparameters={"encoders": {"image": {"name": "image_statistics"}}, "max_epochs": 40,
                         "learning_rate": 0.001, "holdout_fraction": 0.25, "progress_bar": False})
    assert (predictor.predict(frame) == frame["label"]).mean() == 1.0
    loaded = MultimodalPredictor.load(predictor.save(tmp_path / "model"))
    assert np.allclose(loaded.predict_proba(frame).to_numpy(), predictor.predict_proba(frame).to_numpy(), atol=1e-6)
