"""Issue 20: ``classes_``, ``predict(..., keep_columns=[...])``, one file mode in the model folder and
``accelerator="auto"`` by default with the CPU results unchanged."""

from __future__ import annotations

import os
import stat

import numpy as np
import pandas as pd
import pytest

from tabletools import TINY_HYPERPARAMETERS
from transmodal.config import FitConfig
from transmodal.errors import DataError
from transmodal.predictor import MultimodalPredictor


def test_classes_follow_predict_proba_columns(fitted, table_dir):
    proba = fitted.predict_proba(str(table_dir / "table.csv"))
    assert isinstance(fitted.classes_, np.ndarray) and list(fitted.classes_) == list(proba.columns)
    assert list(fitted.classes_) == ["cat", "dog", "eel"]
    assert not hasattr(MultimodalPredictor(label="label"), "classes_")  # not fitted: no learned attribute


def test_keep_columns_pass_ids_through(fitted, table_dir):
    path = str(table_dir / "table.csv")
    table = pd.read_csv(path)
    out = fitted.predict(path, keep_columns=["image", "label"])
    assert list(out.columns) == ["image", "label_input", "label"]  # the kept label is renamed
    assert (out["image"] == table["image"]).all() and (out["label_input"] == table["label"]).all()
    assert (out["label"] == fitted.predict(path)).all()

    frame = table.set_index(pd.Index([f"r{i}" for i in range(len(table))]))
    frame["image"] = [str(table_dir / p) for p in frame["image"]]
    frame["audio"] = [str(table_dir / p) for p in frame["audio"]]
    kept = fitted.predict(frame, keep_columns=["color"])
    assert list(kept.index) == list(frame.index) and (kept["color"] == frame["color"]).all()


def test_keep_columns_names_a_missing_column(fitted, table_dir):
    with pytest.raises(DataError, match=r"'colour' \(did you mean 'color'\?\)"):
        fitted.predict(str(table_dir / "table.csv"), keep_columns=["colour"])


def test_every_file_of_a_model_folder_has_the_same_mode(fitted, tmp_path):
    folder = fitted.save(tmp_path / "model")
    umask = os.umask(0)
    os.umask(umask)
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in folder.iterdir() if p.is_file()}
    assert "model.safetensors" in modes and set(modes.values()) == {0o666 & ~umask}, modes


def test_the_accelerator_is_auto_by_default():
    assert FitConfig().accelerator == "auto"


@pytest.mark.slow
def test_auto_on_a_cpu_machine_trains_on_the_cpu_as_before(fitted, table_dir):
    """The ``fitted`` fixture ran with the default (auto); the same fit on "cpu" is the same model."""
    cpu = MultimodalPredictor(label="label").fit(str(table_dir / "table.csv"), seed=0,
                                                 hyperparameters={**TINY_HYPERPARAMETERS, "accelerator": "cpu"})
    assert fitted.history_["trainer"]["device"] == cpu.history_["trainer"]["device"] == "cpu"
    path = str(table_dir / "table.csv")
    np.testing.assert_array_equal(fitted.predict_proba(path).to_numpy(), cpu.predict_proba(path).to_numpy())
