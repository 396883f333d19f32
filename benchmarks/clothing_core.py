"""Clothing reviews (core issue, acceptance c and d): frozen MiniLM + tabular vs TF-IDF baseline.

Protocol: the split of ``benchmarks.datasets.clothing`` (8,000 sampled rows, 6,000 train / 2,000
test). Features: Title, Review Text, Age, Positive Feedback Count, Division Name, Department Name.
Labels: ``Recommended IND`` (AUROC) and ``Rating`` (accuracy, macro-F1). Baseline: TF-IDF of title +
review (word 1-2 grams) plus one-hot categories and scaled numbers into logistic regression, on the
same split. Also reports the wall time of every fit and the per-epoch times (embedding cache).

Run: ``.venv/bin/python -m benchmarks.clothing_core``
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from benchmarks._machine import machine, save_json
from benchmarks.datasets.clothing import build_clothing

FEATURES = ["Title", "Review Text", "Age", "Positive Feedback Count", "Division Name", "Department Name"]
HYPERPARAMETERS = {
    "max_epochs": 30, "patience": 6, "hidden_dim": 256, "dropout": 0.2, "learning_rate": 1e-3,
    "batch_size": 64, "progress_bar": False,
    "encoders": {"text": {"name": "hf_text", "checkpoint": "packaged:all-MiniLM-L6-v2", "frozen": True, "max_length": 256}},
}


def tfidf_baseline(train: pd.DataFrame, test: pd.DataFrame, label: str) -> dict:
    """TF-IDF + logistic regression on the same split; metrics and fit seconds."""
    from sklearn.compose import ColumnTransformer
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score, f1_score, roc_auc_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    def text(frame):
        return (frame["Title"].fillna("") + ". " + frame["Review Text"].fillna("")).to_frame("text")

    def features(frame):
        return pd.concat([text(frame), frame[["Age", "Positive Feedback Count", "Division Name", "Department Name"]]
                          .fillna({"Division Name": "?", "Department Name": "?"})], axis=1)

    columns = ColumnTransformer([
        ("text", TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True), "text"),
        ("cat", OneHotEncoder(handle_unknown="ignore"), ["Division Name", "Department Name"]),
        ("num", StandardScaler(), ["Age", "Positive Feedback Count"]),
    ])
    model = make_pipeline(columns, LogisticRegression(C=4.0, max_iter=2000))
    start = time.perf_counter()
    model.fit(features(train), train[label])
    seconds = time.perf_counter() - start
    proba = model.predict_proba(features(test))
    predicted = model.classes_[proba.argmax(axis=1)]
    result = {"fit_seconds": seconds, "accuracy": accuracy_score(test[label], predicted),
              "f1_macro": f1_score(test[label], predicted, average="macro")}
    if len(model.classes_) == 2:
        result["roc_auc"] = roc_auc_score(test[label], proba[:, 1])
    return result


def run_transmodal(train_path, test_path, label: str, eval_metric: str, seed: int = 0) -> dict:
    from transmodal import MultimodalPredictor

    train = pd.read_csv(train_path)[FEATURES + [label]]
    test = pd.read_csv(test_path)[FEATURES + [label]]
    base = train_path.parent
    start = time.perf_counter()
    predictor = MultimodalPredictor(label=label, eval_metric=eval_metric).fit(
        train, hyperparameters=HYPERPARAMETERS, seed=seed, column_types={"Age": "numeric"})
    fit_seconds = time.perf_counter() - start
    metrics = predictor.evaluate(test)
    epochs = [e["epoch_seconds"] for e in predictor.history_["epochs"]]
    return {"metrics": metrics, "fit_seconds": fit_seconds, "epoch_seconds": epochs,
            "first_epoch_over_later_median": epochs[0] / float(np.median(epochs[1:])) if len(epochs) > 1 else None,
            "epochs_run": len(epochs), "best_epoch": predictor.history_["best_epoch"], "base": str(base)}


def main() -> None:
    paths = build_clothing()
    train_path, test_path = paths["train"], paths["test"]
    train, test = pd.read_csv(train_path), pd.read_csv(test_path)
    results = {"machine": machine(), "hyperparameters": HYPERPARAMETERS}
    for label, metric in (("Recommended IND", "roc_auc"), ("Rating", "accuracy")):
        results[label] = {"tfidf_logreg": tfidf_baseline(train, test, label),
                          "transmodal": run_transmodal(train_path, test_path, label, metric)}
        print(label, results[label], flush=True)
    print("saved", save_json("clothing_core", results))


if __name__ == "__main__":
    main()
