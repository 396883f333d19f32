"""Cross-modal distillation: a student on audio learns from an image teacher, with no labels."""

from __future__ import annotations

import pandas as pd
import pytest

from tests.conftest import TINY_HYPERPARAMETERS, write_table
from transmodal.errors import ConfigError
from transmodal.predictor import MultimodalPredictor

HP = {**TINY_HYPERPARAMETERS, "max_epochs": 6}


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    folder = tmp_path_factory.mktemp("distill")
    frame = write_table(folder, n=90, absolute=True)
    teacher = MultimodalPredictor(label="label").fit(frame[["image", "label"]], hyperparameters=HP, seed=0)
    teacher.save(folder / "teacher")
    return folder, frame


@pytest.mark.slow
@pytest.mark.parametrize("loss", ["kl", "feature"])
def test_student_reads_only_its_column_and_learns(setup, loss, tmp_path):
    folder, frame = setup
    pairs = frame[["image", "audio", "review"]]  # no label column at all
    student = MultimodalPredictor(label="label").fit(pairs, teacher=str(folder / "teacher"), student_column="audio",
                                                     distill_loss=loss, hyperparameters=HP, seed=0)
    assert [spec.name for spec in student.inputs_] == ["audio"]
    accuracy = student.evaluate(frame[["audio", "label"]])["accuracy"]
    assert accuracy > 0.8
    student.save(tmp_path / "student")  # the temporary projection is gone: saving and loading work
    loaded = MultimodalPredictor.load(tmp_path / "student")
    assert (loaded.predict(frame[["audio"]]) == student.predict(frame[["audio"]])).all()


def test_student_column_needs_a_teacher(setup):
    _, frame = setup
    with pytest.raises(ConfigError):
        MultimodalPredictor(label="label").fit(frame, student_column="audio", hyperparameters=HP)


@pytest.mark.slow
def test_no_holdout_trains_every_epoch_on_the_teacher_labels(setup):
    """holdout_fraction=0 with a teacher used to fail inside scikit-learn's split."""
    folder, frame = setup
    student = MultimodalPredictor(label="label").fit(
        frame[["image", "audio"]], teacher=str(folder / "teacher"), student_column="audio",
        hyperparameters={**HP, "holdout_fraction": 0.0, "max_epochs": 2}, seed=0)
    assert student.history_["epoch_selected"] is False and len(student.history_["epochs"]) == 2
