"""Emoji: Noto Color Emoji images with their official Unicode names, for image-text alignment.

Protocol:

- From ``emoji_noto.npz`` drop the skin-tone variants (``has_skin_tone``) and the ``Component``
  group, leaving 1,644 emoji in emoji-test.txt order.
- Images: the 72x72 RGBA images composited on white (``rgb * a + 255 * (1 - a)`` in float,
  rounded to uint8), written as RGB PNGs ``images/<noto file name>``.
- Text: the official Unicode ``name`` (e.g. "grinning face").
- ``align_train.csv``: every group except "Travel & Places" and "Objects"; ``heldout.csv``: those
  two groups entirely (zero-shot / retrieval on unseen groups).
- Columns: ``image`` (relative to the CSV's folder), ``name``, ``group`` and ``subgroup`` (names).
- ``group_names.json``: the 9 group names (Component excluded), in the data's order.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks.datasets import _common as common

NAME = "emoji"
SOURCE = "emoji_noto/emoji_noto.npz"
HELDOUT_GROUPS = ("Travel & Places", "Objects")
DROPPED_GROUP = "Component"
TABLES = {"align_train": "align_train.csv", "heldout": "heldout.csv"}
GROUP_NAMES_FILE = "group_names.json"
COLUMNS = ["image", "name", "group", "subgroup"]


def composite_on_white(rgba: np.ndarray) -> np.ndarray:
    """Composite uint8 RGBA images (..., H, W, 4) on white; return uint8 RGB (..., H, W, 3)."""
    pixels = rgba.astype(np.float32) / np.float32(255.0)
    alpha = pixels[..., 3:]
    rgb = pixels[..., :3] * alpha + (np.float32(1.0) - alpha)
    return np.clip(np.rint(rgb * np.float32(255.0)), 0, 255).astype(np.uint8)


def kept_mask(emoji: dict[str, np.ndarray]) -> np.ndarray:
    """Return the boolean mask of emoji kept: no skin-tone variant, not in the Component group."""
    group_names = emoji["group_names"][emoji["group"]]
    return ~emoji["has_skin_tone"].astype(bool) & (group_names != DROPPED_GROUP)


def emoji_table(emoji: dict[str, np.ndarray], keep: np.ndarray) -> pd.DataFrame:
    """Return the table of the kept emoji (image path, name, group and subgroup names)."""
    return pd.DataFrame({
        "image": [f"images/{f}" for f in emoji["filename"][keep]],
        "name": emoji["name"][keep],
        "group": emoji["group_names"][emoji["group"][keep]],
        "subgroup": emoji["subgroup_names"][emoji["subgroup"][keep]],
    }, columns=COLUMNS)


def group_names(emoji: dict[str, np.ndarray]) -> list[str]:
    """Return all group names except Component, in the data's order."""
    return [str(g) for g in emoji["group_names"] if g != DROPPED_GROUP]


def build_emoji(out: Path | str | None = None, *, force: bool = False) -> dict[str, Path]:
    """Write the emoji images, ``align_train.csv``, ``heldout.csv`` and ``group_names.json``.

    Args:
        out: Output folder (default ``benchmarks/_work/emoji``).
        force: Rebuild even if already built.

    Returns:
        Paths of the two tables, keyed by ``"align_train"`` and ``"heldout"``.
    """
    folder = Path(out or common.default_out(NAME))
    params = {"heldout_groups": list(HELDOUT_GROUPS), "dropped_group": DROPPED_GROUP}
    tables = common.table_paths(folder, TABLES)
    if not force and common.is_built(folder, params, [*TABLES.values(), GROUP_NAMES_FILE]):
        print(f"{NAME}: already built -> {folder}")
        return tables
    common.clear(folder, [*TABLES.values(), GROUP_NAMES_FILE], ["images"])
    emoji = common.load_npz(SOURCE)
    keep = kept_mask(emoji)
    table = emoji_table(emoji, keep)
    common.write_images(folder / "images", [Path(p).name for p in table["image"]],
                        composite_on_white(emoji["images"][keep]))
    heldout = table["group"].isin(HELDOUT_GROUPS)
    common.write_table(tables["align_train"], table[~heldout])
    common.write_table(tables["heldout"], table[heldout])
    (folder / GROUP_NAMES_FILE).write_text(json.dumps(group_names(emoji), indent=1) + "\n")
    common.mark_built(folder, params)
    counts = {"align_train": int((~heldout).sum()), "heldout": int(heldout.sum())}
    common.print_summary(NAME, counts, folder)
    return tables


def main(argv: list[str] | None = None) -> int:
    """Command line: ``python -m benchmarks.datasets.emoji --out DIR [--force]``."""
    parser = common.base_parser(NAME, "Build the emoji image-name tables with two held-out groups.")
    return common.run_cli(parser, build_emoji, argv)


if __name__ == "__main__":
    raise SystemExit(main())
