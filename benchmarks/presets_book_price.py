"""Presets on book prices (issue 16, acceptance c): R^2 of log10(price + 1), Shi et al. 2021 split.

Data: ``../shared/data/book_price`` (``train.csv`` 4,989 rows, ``test.csv`` 1,248 rows; label
``Price``, already log10(price + 1); features Title, Author, Edition, Reviews, Ratings, Synopsis,
Genre, BookCategory). One preset per run with a cold embedding store; the whole fit is timed.
Baseline beside it: TF-IDF (word 1-2-grams of every text column joined) + one-hot categories +
standardised numbers into ridge regression (alpha 1), fitted on the same rows.

Run: ``.venv/bin/python -m benchmarks.presets_book_price --preset fast --time-limit 120 [--set
MEMBER.OPTION=VALUE ...] [--out NAME]`` (``--set`` as ``transmodal fit --set``: the preset's members' options);
writes ``benchmarks/results/NAME.json`` (default ``issue-16-book-price-<preset>``).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import pandas as pd

from benchmarks._machine import machine, save_json
from benchmarks._preset_run import fit_and_score
from benchmarks.datasets._common import data_file

LABEL = "Price"
TEXTS = ["Title", "Author", "Edition", "Synopsis"]
CATEGORIES = ["Genre", "BookCategory"]
NUMBERS = ["Reviews", "Ratings"]


def ridge_baseline(train: pd.DataFrame, test: pd.DataFrame) -> dict:
    """TF-IDF + one-hot + scaled numbers into ridge regression: R^2, RMSE, fit seconds."""
    from sklearn.compose import ColumnTransformer
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import Ridge
    from sklearn.metrics import mean_squared_error, r2_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    def features(frame):
        text = frame[TEXTS].fillna("").astype(str).agg(" ".join, axis=1).to_frame("text")
        return pd.concat([text, frame[CATEGORIES].fillna("?"), frame[NUMBERS]], axis=1)

    columns = ColumnTransformer([
        ("text", TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True), "text"),
        ("cat", OneHotEncoder(handle_unknown="ignore"), CATEGORIES),
        ("num", make_pipeline(SimpleImputer(), StandardScaler()), NUMBERS),
    ])
    model = make_pipeline(columns, Ridge(alpha=1.0))
    start = time.perf_counter()
    model.fit(features(train), train[LABEL])
    seconds = time.perf_counter() - start
    predicted = model.predict(features(test))
    return {"r2": r2_score(test[LABEL], predicted), "rmse": mean_squared_error(test[LABEL], predicted) ** 0.5,
            "fit_seconds": seconds}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", required=True, choices=["fast", "medium", "best"])
    parser.add_argument("--time-limit", type=float, default=None)
    parser.add_argument("--set", action="append", default=[], help="MEMBER.OPTION=VALUE override of the preset")
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    os.environ["TRANSMODAL_CACHE"] = tempfile.mkdtemp(prefix="transmodal-bench16-")  # cold store

    train = pd.read_csv(data_file("book_price/train.csv"))
    test = pd.read_csv(data_file("book_price/test.csv"))
    types = {**{c: "text" for c in TEXTS}, **{c: "categorical" for c in CATEGORIES}, **{c: "numeric" for c in NUMBERS}}
    from transmodal.config import apply_overrides

    run = fit_and_score(LABEL, "regression", "r2", train, test, presets=args.preset, time_limit=args.time_limit,
                        column_types=types, hyperparameters=apply_overrides({}, args.set))
    baseline = ridge_baseline(train, test)
    result = {"machine": machine(), "preset": args.preset, "overrides": args.set, **run["record"], "tfidf_ridge": baseline}
    print(save_json(args.out or f"issue-16-book-price-{args.preset}", result))
    print({k: round(v, 4) for k, v in run["metrics"].items()}, f"fit {run['fit_seconds']:.1f} s", "baseline",
          baseline, flush=True)


if __name__ == "__main__":
    main()
