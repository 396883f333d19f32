"""Column modality inference and grouping into model inputs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from transmodal.data.schema import build_inputs, infer_column_types, infer_modality
from transmodal.errors import ConfigError


def test_inference_rules():
    n = 100
    frame = pd.DataFrame({
        "photo": [f"a/{i}.JPG" for i in range(n)],
        "clip": [f"b/{i}.wav" if i % 10 else None for i in range(n)],
        "age": np.arange(n),
        "price": [str(i * 1.5) for i in range(n)],
        "color": ["red", "green", "light blue"] * 33 + ["red"],
        "review": [f"this is review number {i} and it is long" for i in range(n)],
        "flag": [True, False] * 50,
        "y": [0, 1] * 50,
    })
    types = infer_column_types(frame, exclude=["y"])
    assert types == {"photo": "image", "clip": "audio", "age": "numeric", "price": "numeric",
                     "color": "categorical", "review": "text", "flag": "categorical"}


def test_overrides_win_and_none_drops():
    frame = pd.DataFrame({"code": ["1", "2", "3"], "id": [1, 2, 3], "y": [0, 1, 0]})
    types = infer_column_types(frame, ["y"], {"code": "categorical", "id": None})
    assert types == {"code": "categorical"}
    with pytest.raises(ConfigError, match="not in the table"):
        infer_column_types(frame, ["y"], {"nope": "text"})
    with pytest.raises(ConfigError, match="use one of"):
        infer_column_types(frame, ["y"], {"code": "video"})


def test_mostly_numeric_strings_are_numeric_so_bad_cells_surface():
    values = pd.Series([str(i) for i in range(99)] + ["twelve"])
    assert infer_modality(values) == "numeric"


def test_inputs_group_tabular_columns():
    inputs = build_inputs({"img": "image", "a": "numeric", "b": "categorical", "t": "text"})
    assert [(s.name, s.modality) for s in inputs] == [("img", "image"), ("t", "text"), ("tabular", "tabular")]
    assert inputs[-1].column_types == {"a": "numeric", "b": "categorical"}
