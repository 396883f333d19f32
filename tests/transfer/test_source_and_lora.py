"""init_from: new heads for new label sets, image adaptation, and LoRA models that save only the
adapters and reload identically."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

from transfer_helpers import hyperparameters, source_dir, source_table, target_table  # noqa: F401 (fixtures)
from transmodal.errors import ConfigError, ModelLoadError
from transmodal.predictor import MultimodalPredictor


@pytest.mark.slow
def test_a_new_label_set_gets_a_new_head_and_keeps_the_encoders(tmp_path, target_table, source_dir):
    frame = pd.read_csv(target_table)
    frame["label"] = np.where(frame["label"] == "cat", "yes", "no")  # 2 classes instead of 3
    frame.to_csv(tmp_path / "binary.csv", index=False)
    (tmp_path / "img").symlink_to(pd.io.common.Path(target_table).parent / "img")
    source = MultimodalPredictor.load(source_dir)
    predictor = MultimodalPredictor(label="label").fit(str(tmp_path / "binary.csv"), init_from=str(source_dir),
                                                       hyperparameters=hyperparameters(strategy="linear_probe"))
    assert predictor.history_["transfer"]["heads"] == []
    assert predictor.tasks_[0].classes == ["no", "yes"]
    before, after = source.net_.encoder("image").state_dict(), predictor.net_.encoder("image").state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_source_image_settings_adapt_other_image_sizes(tmp_path, source_dir):
    from PIL import Image

    source = MultimodalPredictor.load(source_dir)
    size = source.encoder_settings_["image"]["image_size"]
    rows = []
    for i in range(12):  # bigger RGB images than the 12x12 grey source images
        Image.new("RGB", (20, 20), (i * 20, 0, 0)).save(tmp_path / f"{i}.png")
        rows.append({"image": f"{i}.png", "size": float(i % 3), "label": ["cat", "dog", "eel"][i % 3]})
    pd.DataFrame(rows).to_csv(tmp_path / "t.csv", index=False)
    predictor = MultimodalPredictor(label="label").fit(str(tmp_path / "t.csv"), init_from=str(source_dir),
                                                       hyperparameters={**hyperparameters(), "max_epochs": 1})
    settings = predictor.encoder_settings_["image"]
    assert (settings["image_size"], settings["channels"]) == (size, 1)
    assert predictor.predict(str(tmp_path / "t.csv")).shape == (12,)


@pytest.mark.slow
@pytest.mark.parametrize("method", ["lora", "ia3"])
def test_saved_adapters_hold_only_what_changed_and_reload_identically(method, tmp_path, target_table, source_dir):
    predictor = MultimodalPredictor(label="label").fit(
        target_table, init_from=str(source_dir), hyperparameters=hyperparameters(strategy="lora", method=method, r=2))
    folder = predictor.save(tmp_path / "model")
    config = json.loads((folder / "config.json").read_text())
    assert config["base"]["path"] == str(source_dir.resolve())  # the model spec, not the user's config
    assert "base" not in config["fit_config"]["transfer"] and set(config["adapters"]) == {"image", "tabular"}
    from safetensors.torch import load_file

    saved = load_file(str(folder / "model.safetensors"))
    assert not any("base_layer" in k for k in saved)  # frozen base weights come from the source folder
    assert any(("lora_" if method == "lora" else "ia3_") in k for k in saved)
    loaded = MultimodalPredictor.load(folder)
    diff = np.abs(loaded.predict_proba(target_table).to_numpy() - predictor.predict_proba(target_table).to_numpy())
    assert diff.max() <= 1e-6


@pytest.mark.slow
def test_adapters_refuse_a_changed_base(tmp_path, target_table, source_table):
    base = MultimodalPredictor(label="label").fit(source_table, hyperparameters={**hyperparameters(), "max_epochs": 1})
    base.save(tmp_path / "base")
    predictor = MultimodalPredictor(label="label").fit(
        target_table, init_from=str(tmp_path / "base"), hyperparameters={**hyperparameters(strategy="lora"), "max_epochs": 1})
    predictor.save(tmp_path / "model")
    base.fit(source_table, hyperparameters={**hyperparameters(), "max_epochs": 1}, seed=1).save(tmp_path / "base")
    with pytest.raises(ModelLoadError, match="changed"):
        MultimodalPredictor.load(tmp_path / "model")


def test_init_from_must_be_a_folder_or_a_fitted_predictor():
    from transmodal.transfer.source import load_source

    with pytest.raises(ConfigError, match="not fitted"):
        load_source(MultimodalPredictor(label="label"))
    with pytest.raises(ConfigError, match="must be a model folder or a fitted MultimodalPredictor, got dict"):
        load_source({"tasks_": []})


def test_init_from_a_folder_that_is_no_model_is_a_clear_error(tmp_path, target_table):
    """It raised AttributeError ('NoneType' object has no attribute 'inputs_') from the fit."""
    import os

    from transmodal.saved.loader import is_predictor_folder

    with pytest.raises(ConfigError, match="not a saved predictor or alignment model folder"):
        MultimodalPredictor(label="label").fit(target_table, init_from=str(tmp_path), hyperparameters=hyperparameters())
    os.mkfifo(tmp_path / "config.json")  # telling folder kinds apart never opens (and hangs on) a FIFO
    assert not is_predictor_folder(tmp_path)


@pytest.mark.slow
def test_a_loaded_lora_predictor_predicts_merged_and_saves_the_adapters_apart(tmp_path, target_table):
    from safetensors.torch import load_file

    from transmodal.encoders.adapters import adapter_layers

    predictor = MultimodalPredictor(label="label").fit(
        target_table, hyperparameters=hyperparameters(strategy="lora", method="lora", r=2))
    first = predictor.save(tmp_path / "first")
    assert any("base_layer" in k for k in load_file(str(first / "model.safetensors")))  # no base folder: saved
    loaded = MultimodalPredictor.load(first)
    layers = adapter_layers(loaded.net_)
    assert layers and all(layer.merged for _, layer in layers), "adapters are not merged for inference"
    merged = loaded.predict_proba(target_table).to_numpy()
    np.testing.assert_allclose(merged, predictor.predict_proba(target_table).to_numpy(), atol=1e-5)
    second = loaded.save(tmp_path / "second")
    before, after = load_file(str(first / "model.safetensors")), load_file(str(second / "model.safetensors"))
    assert set(before) == set(after)
    for key in before:
        torch.testing.assert_close(after[key], before[key], atol=1e-6, rtol=1e-6)
    again = MultimodalPredictor.load(second).predict_proba(target_table).to_numpy()
    np.testing.assert_allclose(again, merged, atol=1e-5)


@pytest.mark.slow
def test_init_from_a_fitted_predictor_with_merged_adapters_copies_the_weights_its_folder_holds(tmp_path, target_table):
    from transmodal.encoders.adapters import adapter_layers, merge_for_inference
    from transmodal.saved.loader import load_fitted
    from transmodal.transfer.source import copy_state

    predictor = MultimodalPredictor(label="label").fit(
        target_table, hyperparameters=hyperparameters(strategy="lora", method="lora", r=2))
    folder = predictor.save(tmp_path / "m")
    merge_for_inference(predictor.net_)  # as a fitted int8 LoRA predictor is after fit
    assert all(layer.merged for _, layer in adapter_layers(predictor.net_))
    target, saved = load_fitted(folder), load_fitted(folder)  # the adapters apart, as the folder holds them
    for _, layer in adapter_layers(target.net_):
        layer.get_base_layer().weight.data.zero_()
    copy_state(target.net_, predictor.net_, [spec.name for spec in predictor.inputs_], ["label"])
    expected = saved.net_.state_dict()
    for key, value in target.net_.state_dict().items():  # not the merged base plus the adapters again
        torch.testing.assert_close(value, expected[key], atol=1e-6, rtol=1e-6)
