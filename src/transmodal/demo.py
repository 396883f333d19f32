"""The built-in demo: handwritten digits seen (blurred) and heard (as keypad tone pairs).

Built offline from scikit-learn's bundled 8x8 digits (1,797 images): each row has

* ``image``: the digit as a 16x16 PNG, blurred by keeping only 4 principal components (fitted on the
  training rows), so the image alone is ambiguous;
* ``audio``: a 0.3 s WAV of two keypad (DTMF) tones that tell only which pair the digit belongs to
  ({0,1}, {2,3}, ..., {8,9}), with noise, so audio alone can reach at most about 50%;
* ``digit``: the label.

Neither modality suffices; fused, they do. The demo trains a model on both, evaluates it on held-out
rows, and shows what happens when a modality is missing at prediction time.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

SAMPLE_RATE = 8000
TONE_PAIRS = [(697, 1209), (770, 1336), (852, 1477), (941, 1209), (697, 1633)]  # Hz, one per digit pair


def _blur(images: np.ndarray, train_rows: np.ndarray, components: int = 4) -> np.ndarray:
    """Project flattened images on the top principal components of the training rows and back."""
    flat = images.reshape(len(images), -1).astype(np.float64)
    mean = flat[train_rows].mean(axis=0)
    _, _, vt = np.linalg.svd(flat[train_rows] - mean, full_matrices=False)
    basis = vt[:components]  # (components, 64)
    return ((flat - mean) @ basis.T @ basis + mean).reshape(images.shape)


def _tone(pair: int, rng: np.random.Generator) -> np.ndarray:
    low, high = TONE_PAIRS[pair]
    t = np.arange(int(0.3 * SAMPLE_RATE)) / SAMPLE_RATE
    wave = 0.4 * np.sin(2 * np.pi * low * t) + 0.4 * np.sin(2 * np.pi * high * t)
    return (wave + rng.normal(0, 0.3, len(t))).clip(-1, 1).astype(np.float32)


def build_demo_data(folder: str | Path, seed: int = 0) -> tuple[Path, Path]:
    """Write the demo images, clips and ``train.csv``/``test.csv`` into ``folder``.

    Returns:
        The paths of the training and test tables.
    """
    import soundfile
    from PIL import Image
    from sklearn.datasets import load_digits

    folder = Path(folder)
    (folder / "images").mkdir(parents=True, exist_ok=True)
    (folder / "audio").mkdir(exist_ok=True)
    digits = load_digits()
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(digits.target))
    train_rows, test_rows = order[:1400], order[1400:]
    blurred = _blur(digits.images, train_rows)
    rows = []
    for i, (image, digit) in enumerate(zip(blurred, digits.target)):
        pixels = np.kron(np.clip(image / 16 * 255, 0, 255), np.ones((2, 2))).astype(np.uint8)  # 16x16
        Image.fromarray(pixels, mode="L").save(folder / "images" / f"{i}.png")
        soundfile.write(folder / "audio" / f"{i}.wav", _tone(int(digit) // 2, rng), SAMPLE_RATE)
        rows.append({"image": f"images/{i}.png", "audio": f"audio/{i}.wav", "digit": int(digit)})
    table = pd.DataFrame(rows)
    train_path, test_path = folder / "train.csv", folder / "test.csv"
    table.iloc[train_rows].to_csv(train_path, index=False)
    table.iloc[test_rows].to_csv(test_path, index=False)
    return train_path, test_path


DEMO_HYPERPARAMETERS = {
    "fusion": "concat",
    "max_epochs": 12,
    "modality_dropout": 0.3,
    "dropout": 0.1,  # FitConfig's default before it became 0.3: the demo's recorded numbers
    "learning_rate": 1e-3,  # FitConfig's default before it became 3e-4: the demo's recorded numbers
    "encoders": {"audio": {"name": "cnn", "sample_rate": SAMPLE_RATE}},
}


def run_demo(folder: str | Path, seed: int = 0, max_epochs: int | None = None, echo=print) -> dict[str, float]:
    """Build the data, train, save, reload and evaluate; returns the test accuracies."""
    from transmodal.predictor import MultimodalPredictor

    folder = Path(folder)
    train_path, test_path = build_demo_data(folder, seed)
    echo(f"demo data written to {folder} (train {train_path.name}, test {test_path.name})")
    hyperparameters = dict(DEMO_HYPERPARAMETERS, max_epochs=max_epochs or DEMO_HYPERPARAMETERS["max_epochs"])
    predictor = MultimodalPredictor(label="digit").fit(str(train_path), hyperparameters=hyperparameters, seed=seed)
    predictor.save(folder / "model")
    predictor = MultimodalPredictor.load(folder / "model")
    test = pd.read_csv(test_path)
    for column in ("image", "audio"):  # absolute paths: a DataFrame's paths resolve against the cwd
        test[column] = [str(folder.resolve() / p) for p in test[column]]
    results = {"both modalities": predictor.evaluate(test)["accuracy"]}
    results["image only (audio column emptied)"] = predictor.evaluate(test.assign(audio=""))["accuracy"]
    results["audio only (image column emptied)"] = predictor.evaluate(test.assign(image=""))["accuracy"]
    echo(f"model saved to {folder / 'model'}; test accuracy on {len(test)} held-out rows:")
    for name, value in results.items():
        echo(f"  {name:<36} {value:.3f}")
    return results
