"""Benchmark dataset builders: real data in, PNG / WAV / CSV files out.

One module per dataset, each with a ``build_<name>(out=None, *, force=False, ...)`` function that
returns the paths of the tables it wrote, and a command line
``python -m benchmarks.datasets.<name> --out DIR [--force]``:

- ``av_digits``: MNIST test images paired with spoken digits (FSDD), train / tuning / test.
- ``clothing``: Women's E-Commerce Clothing Reviews, 6,000 train / 2,000 test rows.
- ``digits_transfer``: MNIST test images (source) and USPS train / test (target), few-shot helper.
- ``emoji``: Noto emoji images with their Unicode names, two groups held out.

The benchmark scripts read the tables back with ``tables.read_csv_with_absolute_paths`` (file paths made absolute).

The raw data are read from ``$TRANSMODAL_DATA`` (default ``<repo>/../shared/data``); outputs go
to ``benchmarks/_work/<name>`` (gitignored) by default. Submodules are not imported here so that
``python -m`` runs them cleanly.
"""

DATASETS = ("av_digits", "clothing", "digits_transfer", "emoji")
