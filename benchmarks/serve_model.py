"""The saved predictor the serving load test (issue 19, acceptance d) serves: frozen MiniLM + tabular.

Recipe of ``benchmarks/clothing_core.py`` (the default text encoder: frozen packaged all-MiniLM-L6-v2, int8
Linear layers on a machine without CUDA, over Title and Review Text,
Age, Positive Feedback Count, Division Name, Department Name; label ``Recommended IND``), trained on
the first ``TRAIN_ROWS`` rows of the clothing train split for ``MAX_EPOCHS`` epochs: the load test
measures serving, not accuracy, so the fit is kept short. The folder is written once and reused.

Run: ``.venv/bin/python -m benchmarks.serve_model`` (prints the folder).
"""

from __future__ import annotations

import time
from pathlib import Path

from benchmarks.datasets._common import DEFAULT_WORK_DIR
from benchmarks.datasets.clothing import load_clothing

FEATURES = ["Title", "Review Text", "Age", "Positive Feedback Count", "Division Name", "Department Name"]
LABEL = "Recommended IND"
TRAIN_ROWS, MAX_EPOCHS = 1500, 3
MODEL_DIR = DEFAULT_WORK_DIR / "serve" / "clothing-minilm-default"
HYPERPARAMETERS = {
    "max_epochs": MAX_EPOCHS, "hidden_dim": 256, "dropout": 0.2, "learning_rate": 1e-3, "batch_size": 64,
    "progress_bar": False,
    # the default text encoder (packaged MiniLM, frozen; int8 Linear layers on a CPU-only machine), longer texts
    "encoders": {"text": {"max_length": 256}},
}


def saved_model(folder: Path = MODEL_DIR) -> Path:
    """The model folder, fitted and saved first when it does not exist yet."""
    from transmodal import MultimodalPredictor
    from transmodal.saved.loader import is_predictor_folder

    if is_predictor_folder(folder):
        return folder
    train, _ = load_clothing()
    start = time.perf_counter()
    predictor = MultimodalPredictor(label=LABEL, eval_metric="roc_auc").fit(
        train[FEATURES + [LABEL]].iloc[:TRAIN_ROWS], hyperparameters=HYPERPARAMETERS,
        column_types={"Age": "numeric"}, seed=0)
    print(f"fitted in {time.perf_counter() - start:.0f} s (tuning AUROC {predictor.history_['best_score']:.3f})")
    folder.parent.mkdir(parents=True, exist_ok=True)
    return predictor.save(folder)


def test_rows() -> list[dict]:
    """The clothing test rows' features as JSON-ready dicts (empty cells as None)."""
    _, test = load_clothing()
    frame = test[FEATURES].astype(object).where(test[FEATURES].notna(), None)
    return frame.to_dict(orient="records")


if __name__ == "__main__":
    print(saved_model())
