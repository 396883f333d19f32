"""Women's E-Commerce Clothing Reviews: a text + tabular benchmark with several targets.

Protocol: ``pd.read_csv(path, index_col=0)``; keep rows with a review text and a department
(``dropna(subset=["Review Text", "Department Name"])``); ``sample(n=8000, random_state=0)``;
the first 6,000 sampled rows are train, the last 2,000 test.

Output: ``train.csv`` and ``test.csv`` with the columns in :data:`COLUMNS`. Text inputs: ``Title``
(may be empty) and ``Review Text``; numbers: ``Age``, ``Positive Feedback Count``; categories:
``Division Name``, ``Department Name``, ``Class Name``; typical targets: ``Rating`` (1-5),
``Recommended IND`` (0/1), or ``Department Name``. A benchmark must drop its target columns from
the features.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from benchmarks.datasets import _common as common

NAME = "clothing"
SOURCE = "womens_clothing_reviews/womens_clothing_reviews.csv.gz"
SEED = 0
N_SAMPLE, N_TRAIN = 8000, 6000
TABLES = {"train": "train.csv", "test": "test.csv"}
COLUMNS = [
    "Title",
    "Review Text",
    "Age",
    "Positive Feedback Count",
    "Division Name",
    "Department Name",
    "Class Name",
    "Rating",
    "Recommended IND",
]


def load_clothing() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return the ``(train, test)`` tables of the protocol, without writing anything.

    Both have the columns in :data:`COLUMNS` and a fresh 0-based index, so they equal the CSVs
    read back with ``pd.read_csv``.
    """
    raw = pd.read_csv(common.data_file(SOURCE), index_col=0)
    kept = raw.dropna(subset=["Review Text", "Department Name"])
    sample = kept.sample(n=N_SAMPLE, random_state=SEED)[COLUMNS]
    train = sample.iloc[:N_TRAIN].reset_index(drop=True)
    test = sample.iloc[N_TRAIN:].reset_index(drop=True)
    return train, test


def build_clothing(out: Path | str | None = None, *, force: bool = False) -> dict[str, Path]:
    """Write ``train.csv`` and ``test.csv`` into ``out`` (default ``benchmarks/_work/clothing``).

    Args:
        out: Output folder.
        force: Rebuild even if already built.

    Returns:
        Paths of the two tables, keyed by split.
    """
    folder = Path(out or common.default_out(NAME))
    params = {"seed": SEED, "n_sample": N_SAMPLE, "n_train": N_TRAIN}
    tables = common.table_paths(folder, TABLES)
    if not force and common.is_built(folder, params, TABLES.values()):
        print(f"{NAME}: already built -> {folder}")
        return tables
    common.clear(folder, TABLES.values(), [])
    train, test = load_clothing()
    common.write_table(tables["train"], train)
    common.write_table(tables["test"], test)
    common.mark_built(folder, params)
    common.print_summary(NAME, {"train": len(train), "test": len(test)}, folder)
    return tables


def main(argv: list[str] | None = None) -> int:
    """Command line: ``python -m benchmarks.datasets.clothing --out DIR [--force]``."""
    parser = common.base_parser(NAME, "Build the clothing-reviews train/test tables.")
    return common.run_cli(parser, build_clothing, argv)


if __name__ == "__main__":
    raise SystemExit(main())
