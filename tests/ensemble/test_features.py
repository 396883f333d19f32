"""Features of the classical members (:mod:`transmodal.ensemble.members.features`): the signed-log
numbers of a folder saved before its member had them load as none (no columns)."""

from __future__ import annotations

import numpy as np
import pytest
from ensembletools import tiny_frame

from transmodal.ensemble.members.base import MEMBERS, MemberContext, MemberFiles
from transmodal.heads.task import TaskSpec

COLUMNS = {"review": "text", "size": "numeric", "color": "categorical"}
EMBEDDINGS = {"text": {"name": "builtin_text", "output_dim": 8}}
OLD_FOLDERS = {  # member -> (options, meta keys its folders lacked before the signed logs)
    "tfidf_linear": ({}, ("log_numbers",)),
    "lightgbm": ({"svd_components": 4, "num_boost_round": 20}, ("log_numbers",)),
    "kernel_ridge": ({"embeddings": EMBEDDINGS, "components": 3, "alpha": 1.0},  # before its linear option
                     ("log_numbers", "text", "categories", "numbers")),
}


@pytest.mark.parametrize("kind", ["lightgbm", "tfidf_linear",
                                  pytest.param("kernel_ridge", marks=pytest.mark.slow)])  # encodes its text
def test_a_folder_saved_before_the_signed_log_numbers_loads_without_them(kind):
    options, missing = OLD_FOLDERS[kind]
    frame = tiny_frame(100, regression=True)
    y = frame["label"].to_numpy()
    y = (y - y.mean()) / y.std()
    member = MEMBERS.get(kind)(MemberContext("label", TaskSpec("label", "regression"), COLUMNS, "r2"), options)
    member.prepare(frame)
    x = member.features(frame)
    member.models = [member.fit_model(x[:80], y[:80], x[80:], y[80:], None)]
    files = member.save()
    assert "log_numbers" in files.meta and "log/numbers/mean" in files.tensors  # saved now
    dropped = ("log/", "numbers/") if "numbers" in missing else ("log/",)
    old = MemberFiles({k: v for k, v in files.tensors.items() if not k.startswith(dropped)},
                      {k: v for k, v in files.meta.items() if k not in missing}, files.texts)
    loaded = type(member).load(member.context, options, old)
    assert loaded.log_numbers.signed_log and loaded.log_numbers.columns == []
    np.testing.assert_array_equal(loaded.predict(frame), member.predict(frame))
