"""The neural member within its time: the tuning rows' scores come from its fit's validation pass
(not a second prediction), an encoding that would overrun stops the member and the ensemble fit
still ends in time with a valid model, LoRA in the longest text column only."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest

from ensembletools import tiny_frame
from tinycheckpoints import save_tiny_bert

from transmodal.data.joined_text import longest_text
from transmodal.ensemble.auto import AutoPredictor
from transmodal.ensemble.members.base import MEMBERS, MemberContext
from transmodal.ensemble.presets import load_preset
from transmodal.ensemble.training import fit_member
from transmodal.heads.task import TaskSpec

TINY = {"max_epochs": 2, "batch_size": 16, "hidden_dim": 16, "encoders": {"text": "builtin_text"}}


def test_the_tuning_rows_are_scored_by_the_fits_validation_pass_not_predicted_again(monkeypatch):
    from transmodal.predictor import MultimodalPredictor

    frame = tiny_frame(120)
    y = (frame["label"] == "yes").to_numpy().astype(int)
    context = MemberContext("label", TaskSpec("label", "binary", ["no", "yes"]),
                            {"review": "text", "size": "numeric", "color": "categorical"}, "roc_auc")
    member = MEMBERS.get("neural")(context, {"hyperparameters": TINY})
    rows = np.arange(120)
    splits = [(rows[:90], rows[90:])]

    def refused(*args, **kwargs):
        raise AssertionError("the tuning rows were predicted a second time")

    monkeypatch.setattr(MultimodalPredictor, "predict_proba", refused)
    scores, status = fit_member(member, frame, y, splits, rows[90:], time.monotonic() + 600)
    assert status == "ok" and scores.shape == (30, 2)
    predictor = member.models[0]
    np.testing.assert_allclose(scores, predictor.tuning_scores_["label"], rtol=1e-6)
    monkeypatch.undo()  # the kept scores are the model's: a new prediction of those rows agrees
    again = member.model_scores(predictor, frame.iloc[90:])
    np.testing.assert_allclose(scores, again, atol=1e-5)


@pytest.mark.slow
def test_an_encoding_that_would_overrun_stops_the_member_and_the_fit_keeps_its_limit(tmp_path, monkeypatch):
    from transmodal.encoders.text_hf import HFTextEncoder

    slow_forward = HFTextEncoder.forward

    def forward(self, inputs):
        time.sleep(0.2)  # a slow machine: every batch of one text takes 200 ms
        return slow_forward(self, inputs)

    monkeypatch.setattr(HFTextEncoder, "forward", forward)
    frame = tiny_frame(400)
    encoder = {"name": "hf_text", "checkpoint": save_tiny_bert(tmp_path / "bert"), "frozen": True}
    options = {"neural_frozen": {"hyperparameters": {**TINY, "encode_batch_size": 1, "encoders": {"text": encoder}}}}
    limit = 45.0  # the neural member gets ~30 s (~6 s per fold); encoding its 400 texts would take ~80 s
    begin = time.monotonic()
    auto = AutoPredictor(label="label").fit(frame, presets="medium", time_limit=limit, hyperparameters=options)
    assert time.monotonic() - begin <= limit * 1.1
    statuses = {row["member"]: row["status"] for row in auto.results_}
    assert statuses["neural_frozen"].startswith("stopped: encoding"), statuses
    assert statuses["tfidf_linear"].startswith("ok")  # "ok; refitted on all N rows" with refit_full
    loaded = AutoPredictor.load(auto.save(tmp_path / "model"))
    assert loaded.predict(frame).isin(["no", "yes"]).all()


def test_lora_longest_adapts_only_the_longest_text_column_and_frozen_runs_only_with_images_or_audio():
    context = MemberContext("y", TaskSpec("y", "binary", [0, 1]),
                            {"Title": "text", "Age": "numeric", "Review Text": "text"}, "roc_auc")
    plans = {m.name: m for m in load_preset("best").members}
    frame = pd.DataFrame({"Title": ["Nice", "Bad fit", None], "Age": [30, 40, 50],
                          "Review Text": ["Lovely fabric and it fits well", None, "Too small"]})
    hp = MEMBERS.get("neural")(context, plans["neural_lora"].options)._hyperparameters(frame)
    assert hp["transfer"]["inputs"] == ["Review Text"]
    assert longest_text(frame, ["Title", "Review Text"]) == "Review Text"
    frozen = plans["neural_frozen"]
    assert frozen.skip_reason(context.column_types).startswith("skipped: only_with image/audio")
    assert frozen.skip_reason({"photo": "image"}) is None
    assert frozen.skip_reason({"photo": "image", "name": "text"}) is None  # fashion_mm: image + text
    options = {"only_without_text": True}  # the kind's own option (older saved ensembles) still skips
    assert MEMBERS.get("neural").skip_reason(context, options).startswith("skipped: only_without_text")


@pytest.mark.slow
def test_lora_with_every_layer_trains_the_adapted_encoder_and_predicts_its_pooled_layers(tmp_path):
    """``hf_text`` ``layers: all`` with LoRA in the longest text column (tried in ``best`` for
    issue 16 a, run 4): the adapted encoder outputs every layer's pooled features, only it holds
    adapters, and the kept tuning scores equal a new prediction."""
    frame = tiny_frame(80).rename(columns={"review": "Review Text"})
    frame["Title"] = frame["Review Text"].str.split().str[0]
    context = MemberContext("label", TaskSpec("label", "binary", ["no", "yes"]),
                            {"Title": "text", "Review Text": "text", "size": "numeric"}, "roc_auc")
    text = {"name": "hf_text", "checkpoint": save_tiny_bert(tmp_path / "bert"), "frozen": True, "layers": "all"}
    hp = {**TINY, "encoders": {"text": text}, "transfer": {"strategy": "lora", "r": 4}}
    member = MEMBERS.get("neural")(context, {"hyperparameters": hp, "lora_text": "longest"})
    rows = np.arange(80)
    y = (frame["label"] == "yes").to_numpy().astype(int)
    scores, status = fit_member(member, frame[["Title", "Review Text", "size", "label"]], y,
                                [(rows[:60], rows[60:])], rows[60:], time.monotonic() + 600)
    assert status == "ok" and np.isfinite(scores).all()
    net = member.models[0].net_
    adapted, frozen = net.encoder("Review Text"), net.encoder("Title")
    width = adapted.model.config.num_hidden_layers * adapted.model.config.hidden_size
    assert adapted.output_dim == frozen.output_dim == width
    assert any("lora_" in n for n, _ in adapted.named_parameters())
    assert not any("lora_" in n for n, _ in frozen.named_parameters())
    again = member.model_scores(member.models[0], frame.iloc[60:])
    np.testing.assert_allclose(scores, again, atol=1e-5)


def test_lora_text_follows_the_joined_inputs_and_joined_skips_a_table_where_nothing_is_joined():
    from transmodal.ensemble.members.base import NoFeatures

    types = {"Title": "text", "Author": "text", "Price": "numeric", "Synopsis": "text"}
    context = MemberContext("Price", TaskSpec("Price", "regression"), types, "r2")
    frame = pd.DataFrame({"Title": ["A book", None], "Author": ["Ann", "Bo"], "Price": [1.0, 2.0],
                          "Synopsis": ["A long story about many things and people", "Another long story"]})
    neural = MEMBERS.get("neural")
    every = neural(context, {"lora_text": True, "hyperparameters": {"join_text": "all"}})._hyperparameters(frame)
    assert every["transfer"]["inputs"] == ["Title+Author+Synopsis"]
    short = neural(context, {"lora_text": "joined", "hyperparameters": {"join_text": "short"}})
    assert short._hyperparameters(frame)["transfer"]["inputs"] == ["Title+Author"]  # Synopsis stays frozen
    longest = neural(context, {"lora_text": "longest", "hyperparameters": {"join_text": "short"}})
    assert longest._hyperparameters(frame)["transfer"]["inputs"] == ["Synopsis"]
    two = MemberContext("Price", TaskSpec("Price", "regression"), {"Title": "text", "Synopsis": "text"}, "r2")
    with pytest.raises(NoFeatures, match="join_text joins no text columns"):
        neural(two, {"lora_text": "joined", "hyperparameters": {"join_text": "short"}}).prepare(frame)


@pytest.mark.parametrize("join, message", [("al", "is not a valid choice (did you mean 'all'?)"),
                                           (["Title"], "at least two different text column names")])
def test_lora_text_with_a_join_text_of_the_wrong_form_is_the_fit_configs_clear_error(join, message):
    from transmodal.errors import ConfigError

    context = MemberContext("Price", TaskSpec("Price", "regression"),
                            {"Title": "text", "Author": "text", "Price": "numeric"}, "r2")
    frame = pd.DataFrame({"Title": ["A book"], "Author": ["Ann"], "Price": [1.0]})
    member = MEMBERS.get("neural")(context, {"lora_text": True, "hyperparameters": {"join_text": join}})
    with pytest.raises(ConfigError) as err:
        member._hyperparameters(frame)
    assert message in str(err.value)
