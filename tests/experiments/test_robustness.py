"""Robustness curves, MultiBench summaries and modality importance on a tiny fitted model."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tabletools import TINY_HYPERPARAMETERS
from transmodal.errors import ConfigError, NotFittedError
from transmodal.experiments.importance import modality_importance
from transmodal.experiments.robustness import effective_robustness, relative_robustness, robustness_curves


def test_relative_robustness_is_the_trapezoid_area():
    levels = [0.0, 0.5, 1.0]
    assert relative_robustness(levels, [1.0, 1.0, 1.0]) == pytest.approx(1.0)
    assert relative_robustness(levels, [1.0, 0.5, 0.0]) == pytest.approx(0.5)


def test_effective_robustness_is_the_gap_to_the_shifted_late_curve():
    levels = [0.0, 0.5, 1.0]
    late = [0.8, 0.6, 0.4]
    assert effective_robustness(levels, [0.9, 0.7, 0.5], late) == pytest.approx(0.0)  # same shape
    assert effective_robustness(levels, [0.9, 0.9, 0.9], late) == pytest.approx(0.2)  # area of 0, .2, .4


@pytest.fixture(scope="module")
def image_audio(tmp_path_factory):
    """A model on the tiny table's image and audio columns only, and its table."""
    from tabletools import write_table
    from transmodal.predictor import MultimodalPredictor

    folder = tmp_path_factory.mktemp("av")
    write_table(folder, n=60)[["image", "audio", "label"]].to_csv(folder / "av.csv", index=False)
    table = str(folder / "av.csv")
    hyper = {**TINY_HYPERPARAMETERS, "max_epochs": 4, "modality_dropout": 0.3}
    return MultimodalPredictor(label="label").fit(table, hyperparameters=hyper, seed=0), table


@pytest.mark.slow
def test_robustness_curve_levels_scores_and_summaries(image_audio):
    predictor, table = image_audio
    curves = robustness_curves(predictor, table, modality="image", noise=[0.5, 1.0], kind="missing")
    curve = curves["image"]
    assert curve["levels"] == [0.0, 0.5, 1.0]
    assert curve["scores"][0] == pytest.approx(predictor.evaluate(table)["accuracy"])
    assert curve["relative_robustness"] == pytest.approx(relative_robustness(curve["levels"], curve["scores"]))
    assert curve["effective_robustness"] is None
    with_ref = robustness_curves(predictor, table, "image", [0.5, 1.0], "missing", reference=curves)
    assert with_ref["image"]["effective_robustness"] == pytest.approx(0.0)


def test_robustness_at_full_missing_equals_masking_the_input(image_audio):
    predictor, table = image_audio
    curve = robustness_curves(predictor, table, "audio", [1.0], "missing")["audio"]
    importance = modality_importance(predictor, table, method="mask")
    assert curve["scores"][-1] == pytest.approx(curve["scores"][0] - importance["audio"])


def test_robustness_is_deterministic_and_every_input_by_default(image_audio):
    predictor, table = image_audio
    first = robustness_curves(predictor, table, noise=[0.6], kind="gaussian", seed=3)
    second = robustness_curves(predictor, table, noise=[0.6], kind="gaussian", seed=3)
    assert set(first) == {"image", "audio"}
    assert first == second


def test_unknown_noise_or_input_raises(image_audio):
    predictor, table = image_audio
    with pytest.raises(ConfigError, match="known"):
        robustness_curves(predictor, table, "image", [0.5], kind="word_dropout")
    with pytest.raises(ConfigError, match="inputs"):
        robustness_curves(predictor, table, "nope", [0.5])


def test_mask_importance_is_the_drop_when_the_column_is_emptied(image_audio):
    predictor, table = image_audio
    importance = modality_importance(predictor, table, method="mask")
    clean = predictor.evaluate(table)["accuracy"]
    frame = pd.read_csv(table)
    frame["image"] = None
    # the same rows with the image column emptied, read relative to the original folder
    from transmodal.data.readers import Table, read_table

    emptied = Table(frame, "<no image>", read_table(table).base_dir)
    assert importance["image"] == pytest.approx(clean - predictor.evaluate(emptied)["accuracy"])
    assert set(importance) == {"image", "audio"}


@pytest.mark.slow
def test_permutation_importance_is_deterministic(image_audio):
    predictor, table = image_audio
    a = modality_importance(predictor, table, method="permutation", repeats=2, seed=1)
    b = modality_importance(predictor, table, method="permutation", repeats=2, seed=1)
    assert a == b and set(a) == {"image", "audio"}
    assert all(np.isfinite(list(a.values())))
    with pytest.raises(ConfigError):
        modality_importance(predictor, table, method="shap")


def test_an_unfitted_predictor_is_refused():
    from transmodal.predictor import MultimodalPredictor

    with pytest.raises(NotFittedError):
        robustness_curves(MultimodalPredictor(label="label"), pd.DataFrame({"label": [1]}))
    with pytest.raises(NotFittedError):
        modality_importance(MultimodalPredictor(label="label"), pd.DataFrame({"label": [1]}))
