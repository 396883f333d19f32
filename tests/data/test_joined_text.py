"""``join_text``: the joined text of a row, which columns each form joins, clear errors for bad column
names, the joined input in the model inputs and in a dataset (missing cells, digests)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from transmodal.config import FitConfig
from transmodal.data.dataset import TableDataset
from transmodal.data.joined_text import join_cells, joined_columns, joined_input_name
from transmodal.data.readers import Table
from transmodal.data.schema import build_inputs
from transmodal.errors import ConfigError

TYPES = {"Title": "text", "Age": "numeric", "Review Text": "text", "Author": "text", "Genre": "categorical"}
FRAME = pd.DataFrame({"Title": ["Nice", None, "Bad fit"], "Age": [30, 40, 50],
                      "Review Text": ["Lovely fabric and it fits well, I wear it every day", "Too small", None],
                      "Author": ["Ann", "Bo", "Cy"], "Genre": ["a", "b", "a"]})


def test_the_joined_text_names_each_present_cell_by_its_column_and_skips_missing_ones():
    assert join_cells(["Title", "Review Text"], ["Nice ", "Fits well"]) == "Title: Nice | Review Text: Fits well"
    assert join_cells(["Title", "Review Text"], [np.nan, "Fits well"]) == "Review Text: Fits well"
    assert join_cells(["Title", "Review Text"], ["Nice", "  "]) == "Title: Nice"
    assert join_cells(["Title", "Review Text"], [None, np.nan]) is None
    assert joined_input_name(["Title", "Review Text"]) == "Title+Review Text"


def test_all_short_and_a_list_join_the_text_columns_in_table_order():
    assert joined_columns(None, TYPES, FRAME) == []
    assert joined_columns("all", TYPES, FRAME) == ["Title", "Review Text", "Author"]
    assert joined_columns("short", TYPES, FRAME) == ["Title", "Author"]  # Review Text: the most characters
    assert joined_columns(["Author", "Title"], TYPES, FRAME) == ["Title", "Author"]
    one_text = {"Title": "text", "Age": "numeric"}
    assert joined_columns("all", one_text, FRAME) == []  # nothing to join
    assert joined_columns("short", {"Title": "text", "Review Text": "text"}, FRAME) == []  # one short column


@pytest.mark.parametrize("join, message", [
    (["Titel", "Review Text"], "names the column 'Titel', which is not a feature column (did you mean 'Title'?)"),
    (["Title", "Genre"], "names 'Genre', a categorical column; only text columns are joined"),
])
def test_a_bad_join_text_is_a_clear_error_naming_the_column(join, message):
    with pytest.raises(ConfigError) as err:
        joined_columns(join, TYPES, FRAME)
    assert message in str(err.value)
    assert "text columns are ['Title', 'Review Text', 'Author']" in str(err.value)


def test_the_joined_name_may_not_be_a_column_already():
    types = {"a": "text", "b": "text", "a+b": "text"}
    with pytest.raises(ConfigError, match="already a column's"):
        joined_columns(["a", "b"], types, None)


@pytest.mark.parametrize("value, message", [
    ("al", "join_text='al' is not a valid choice (did you mean 'all'?); valid: 'all', 'short' or a list"),
    (["Title"], "join_text must list at least two different text column names"),
    (["Title", "Title"], "join_text must list at least two different text column names"),
    (3, "join_text"), (["Title", 4], "join_text"),
])
def test_the_fit_config_refuses_a_join_text_of_the_wrong_form(value, message):
    with pytest.raises(ConfigError) as err:
        FitConfig(join_text=value)
    assert message in str(err.value)
    assert FitConfig(join_text=["Title", "Review Text"]).join_text == ["Title", "Review Text"]
    assert FitConfig.from_dict({"join_text": "short"}).to_dict()["join_text"] == "short"


def test_the_joined_columns_are_one_input_where_the_first_of_them_was():
    inputs = build_inputs(TYPES, ["Title", "Author"])
    assert [(s.name, s.modality, s.columns) for s in inputs] == [
        ("Title+Author", "text", ["Title", "Author"]), ("Review Text", "text", ["Review Text"]),
        ("tabular", "tabular", ["Age", "Genre"])]
    assert [s.name for s in build_inputs(TYPES)] == ["Title", "Review Text", "Author", "tabular"]


def test_a_dataset_reads_the_joined_text_and_a_row_with_an_empty_title_still_has_it():
    frame = FRAME.assign(Author=[None, None, None])
    spec = build_inputs(TYPES, ["Title", "Review Text"])[0]
    dataset = TableDataset(Table(frame, "<frame>", Path(".")), [spec])
    assert dataset.item(spec, 0) == "Title: Nice | Review Text: Lovely fabric and it fits well, I wear it every day"
    assert dataset.item(spec, 1) == "Review Text: Too small"  # Title missing
    assert dataset.item(spec, 2) == "Title: Bad fit"
    assert [dataset[i]["present"][spec.name] for i in range(3)] == [True, True, True]
    # the store's key is the joined text: another row with the same joined text shares it
    again = TableDataset(Table(pd.DataFrame({"Title": [np.nan], "Review Text": ["Too small"]}), "<frame>", Path(".")), [spec])
    assert again.content_digest(spec, 0) == dataset.content_digest(spec, 1) != dataset.content_digest(spec, 0)
    empty = TableDataset(Table(pd.DataFrame({"Title": [None], "Review Text": [np.nan]}), "<frame>", Path(".")), [spec])
    assert empty.item(spec, 0) is None and empty[0]["present"][spec.name] is False
    assert empty.content_digest(spec, 0) is None
