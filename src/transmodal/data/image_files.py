"""Decoding image files (or a file's bytes held in memory) with PIL, guarded against decompression bombs."""

from __future__ import annotations

import io
import warnings
from pathlib import Path

from PIL import Image

MAX_PIXELS = 64_000_000  # larger images are refused (decompression-bomb guard)


class ImageDecodeError(ValueError):
    """An image file is missing or cannot be decoded; the message says why."""


def load_image(path: Path) -> Image.Image:
    """Open ``path`` fully decoded, in mode ``RGB`` or ``L`` (grey), alpha composited on white.

    Raises:
        ImageDecodeError: the file is missing, empty, truncated, too large or not an image.
    """
    if not path.is_file():
        raise ImageDecodeError(f"image file {path} does not exist")
    if path.stat().st_size == 0:
        raise ImageDecodeError(f"image file {path} is empty (0 bytes)")
    return _decode(path, f"image {path}")


def load_image_bytes(data: bytes) -> Image.Image:
    """Decode an image file's bytes held in memory (an upload), like :func:`load_image`.

    Raises:
        ImageDecodeError: the bytes are empty, truncated, too large or not an image.
    """
    if not data:
        raise ImageDecodeError("the image data is empty (0 bytes)")
    return _decode(io.BytesIO(data), f"the image data ({len(data)} bytes)")


def _decode(source, name: str) -> Image.Image:
    """Open ``source`` (a path or a binary file object) fully decoded; ``name`` is used in errors."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(source) as image:
                if image.width * image.height > MAX_PIXELS:
                    raise ImageDecodeError(
                        f"{name} has {image.width}x{image.height} pixels, over the limit of "
                        f"{MAX_PIXELS}; resize it"
                    )
                image.load()
                return _normalise_mode(image)
    except ImageDecodeError:
        raise
    except Exception as err:  # PIL raises OSError, SyntaxError, ValueError, warnings...
        raise ImageDecodeError(f"cannot decode {name}: {err}") from err


def _normalise_mode(image: Image.Image) -> Image.Image:
    if image.mode in ("L", "RGB"):
        return image.copy()
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        # 16/32-bit grey: scale to 8 bits
        array = image.point(lambda v: v / 256).convert("L") if image.mode != "I" else image.convert("L")
        return array
    if image.mode in ("LA", "RGBA", "P", "PA") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")  # CMYK, YCbCr, 1-bit, ...
