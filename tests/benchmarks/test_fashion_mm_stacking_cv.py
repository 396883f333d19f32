"""The colour statistics of a product photo (``benchmarks.fashion_mm_stacking_cv``), on made-up photos."""

from __future__ import annotations

import numpy as np
from PIL import Image

from benchmarks.fashion_mm_stacking_cv import colour_statistics


def _photo(tmp_path, colour, box=(56, 28, 168, 196), name="photo.png"):
    """A 224 x 224 white photo with a filled rectangle ``box`` (left, top, right, bottom) of ``colour``."""
    pixels = np.full((224, 224, 3), 255, dtype=np.uint8)
    left, top, right, bottom = box
    pixels[top:bottom, left:right] = colour
    path = tmp_path / name
    Image.fromarray(pixels).save(path)
    return path


def test_the_garment_is_told_from_the_white_background(tmp_path):
    stats = colour_statistics(_photo(tmp_path, (200, 20, 20)))
    assert stats.shape == (279,) and stats.dtype == np.float32
    left, right, top, bottom, aspect, area = stats[:6]
    assert abs(left - 0.25) < 0.02 and abs(right - 0.75) < 0.02      # 56 / 224, (168 - 1) / 224
    assert abs(top - 0.125) < 0.02 and abs(bottom - 0.875) < 0.02
    assert abs(aspect - 112 / 168) < 0.03 and abs(area - 112 * 168 / 224 ** 2) < 0.03  # edge pixels blend
    red, green, blue = stats[6:9]   # mean RGB of the garment's pixels (its blended edge included), not the photo's
    assert abs(red - 200 / 255) < 0.03 and green < 0.2 and blue < 0.2   # with the white background: > 0.6


def test_garments_of_other_colours_differ_in_their_hue_histogram(tmp_path):
    red = colour_statistics(_photo(tmp_path, (200, 20, 20), name="red.png"))
    blue = colour_statistics(_photo(tmp_path, (20, 20, 200), name="blue.png"))
    hue_sat = slice(6 + 18, 6 + 18 + 36)   # after the box and the 18 colour statistics: 12 hues x 3 saturations
    assert red[hue_sat].sum() > 0.99 and blue[hue_sat].sum() > 0.99
    assert np.argmax(red[hue_sat]) != np.argmax(blue[hue_sat])
    np.testing.assert_allclose(red[:6], blue[:6])                    # same shape, same box


def test_a_photo_without_background_reads_every_pixel(tmp_path):
    stats = colour_statistics(_photo(tmp_path, (30, 30, 30), box=(0, 0, 224, 224)))
    assert abs(stats[5] - 1.0) < 1e-6
