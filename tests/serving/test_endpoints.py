"""Issue 19, acceptance a: every endpoint in-process, image/audio as base64 (object and data URI) and
as multipart uploads, multi-task outputs, and each kind of bad input answered with its 4xx and a
message naming the row and column, the server serving on afterwards."""

from __future__ import annotations

import base64
import hashlib
import json

import numpy as np
import pytest
from servingtools import json_rows

from tabletools import TINY_HYPERPARAMETERS, write_table


def test_health(client):
    assert client.get("/health").json()["status"] == "ok"


def test_health_counts_forward_calls_by_batch_size(client, table):
    assert client.get("/health").json()["batch_sizes"] == {}
    for rows in ([0], [1, 2, 3], [4]):
        assert client.post("/predict", json={"rows": json_rows(table, rows)}).status_code == 200
    health = client.get("/health").json()
    assert health["batch_sizes"] == {"1": 2, "3": 1}  # one request at a time: one call each
    assert health["batches"] == 3 and health["rows"] == 5


def test_metadata_names_columns_labels_classes_version_and_hash(client, fitted, model_dir):
    meta = client.get("/metadata").json()
    assert {c["name"]: c["type"] for c in meta["columns"]} == dict(fitted.column_types_)
    assert meta["labels"] == ["label"]
    assert meta["tasks"] == [{"name": "label", "problem_type": "multiclass", "classes": ["cat", "dog", "eel"]}]
    assert meta["model"]["format_version"] == 2
    assert meta["model"]["manifest_sha256"] == hashlib.sha256((model_dir / "manifest.json").read_bytes()).hexdigest()
    assert meta["limits"]["server_paths"] is True


def test_openapi_schema_comes_from_the_model_columns(client, fitted):
    paths = client.get("/openapi.json").json()["paths"]
    assert set(paths) == {"/health", "/metadata", "/predict", "/predict_proba"}
    row = paths["/predict"]["post"]["requestBody"]["content"]["application/json"]["schema"]["properties"]["rows"]["items"]
    assert set(row["required"]) == set(fitted.column_types_)
    assert row["properties"]["size"] == {"type": ["number", "null"]}
    assert row["properties"]["review"] == {"type": ["string", "null"]}
    assert any(option.get("required") == ["base64"] for option in row["properties"]["image"]["anyOf"])
    assert "multipart/form-data" in paths["/predict"]["post"]["requestBody"]["content"]
    ok = paths["/predict"]["post"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert ok["properties"]["predictions"]["items"] == {"enum": ["cat", "dog", "eel"]}
    assert {"400", "413", "415", "422"} <= set(paths["/predict"]["post"]["responses"])


@pytest.mark.parametrize("encoding", ["base64", "data_uri", "path"])
def test_predict_equals_the_predictor_for_each_encoding(client, fitted, table, encoding):
    rows = [0, 1, 2, 7, 11]
    response = client.post("/predict", json={"rows": json_rows(table, rows, encoding)})
    assert response.status_code == 200, response.text
    assert response.json()["predictions"] == fitted.predict(table.iloc[rows]).tolist()


def test_predict_proba_equals_the_predictor(client, fitted, table):
    rows = [3, 4, 5]
    response = client.post("/predict_proba", json={"rows": json_rows(table, rows)})
    assert response.status_code == 200, response.text
    got = response.json()["probabilities"]
    expected = fitted.predict_proba(table.iloc[rows])
    assert [list(r) for r in got] == [["cat", "dog", "eel"]] * 3
    np.testing.assert_allclose([[r[c] for c in ("cat", "dog", "eel")] for r in got], expected.to_numpy(), rtol=1e-5)


def test_multipart_uploads(client, fitted, table):
    rows = [0, 5, 9]
    cells = json_rows(table, rows, "path")
    files = []
    for k, i in enumerate(rows):
        for column in ("image", "audio"):
            name = f"{column}{k}"
            files.append((name, (f"{name}.bin", open(table[column][i], "rb").read(), "application/octet-stream")))
            cells[k][column] = {"upload": name}
    response = client.post("/predict", data={"rows": json.dumps(cells)}, files=files)
    assert response.status_code == 200, response.text
    assert response.json()["predictions"] == fitted.predict(table.iloc[rows]).tolist()


def test_an_empty_cell_is_a_missing_modality(client, fitted, table):
    cells = json_rows(table, [0, 1])
    cells[0]["image"] = None
    cells[1]["audio"] = None
    frame = table.iloc[[0, 1]].copy()
    frame.loc[frame.index[0], "image"] = None
    frame.loc[frame.index[1], "audio"] = None
    assert client.post("/predict", json={"rows": cells}).json()["predictions"] == fitted.predict(frame).tolist()


@pytest.mark.slow
def test_multitask_outputs(tmp_path, client_for):
    from fastapi.testclient import TestClient

    from transmodal.predictor import MultimodalPredictor
    from transmodal.serving.app import create_app
    from transmodal.serving.settings import ServeSettings

    frame = write_table(tmp_path, n=30, absolute=True)
    predictor = MultimodalPredictor(label=["label", "size"]).fit(
        frame, hyperparameters={**TINY_HYPERPARAMETERS, "max_epochs": 1})
    folder = predictor.save(tmp_path / "model")
    rows = [{"image": p, "audio": a, "review": r, "color": c}
            for p, a, r, c in frame[["image", "audio", "review", "color"]].head(4).itertuples(index=False)]
    with TestClient(create_app(ServeSettings(str(folder), allowed_root=str(tmp_path)))) as client:
        meta = client.get("/metadata").json()
        assert meta["labels"] == ["label", "size"]
        assert [t["problem_type"] for t in meta["tasks"]] == ["multiclass", "regression"]
        predicted = client.post("/predict", json={"rows": rows}).json()["predictions"]
        expected = predictor.predict(frame.head(4).drop(columns=["label", "size"]))
        assert [p["label"] for p in predicted] == expected["label"].tolist()
        np.testing.assert_allclose([p["size"] for p in predicted], expected["size"], rtol=1e-5)
        probabilities = client.post("/predict_proba", json={"rows": rows}).json()["probabilities"]
        assert all(set(p) == {"label"} and set(p["label"]) == {"cat", "dog", "eel"} for p in probabilities)


# ---- bad input: a 4xx naming the row and column, and the server keeps serving ---------------------
def _assert_refused(response, status, row=None, column=None, words=()):
    assert response.status_code == status, response.text
    body = response.json()
    assert isinstance(body["error"], str) and body["error"]
    if column is not None:
        assert {"row": row, "column": column} in [{"row": d["row"], "column": d["column"]} for d in body["details"]]
        assert f"column {column!r}" in body["error"]
    for word in words:
        assert word in body["error"]


def _serves_on(client, table):
    assert client.post("/predict", json={"rows": json_rows(table, [0])}).status_code == 200


@pytest.mark.parametrize("body", [b"{not json", b"[1, 2]", b'{"rows": 3}', b'{"rows": [1, {"a": NaN}]}',
                                  b'{"no_rows": []}', b"\xff\xfe"])
def test_malformed_bodies_are_400(client, table, body):
    response = client.post("/predict", content=body, headers={"content-type": "application/json"})
    _assert_refused(response, 400)
    _serves_on(client, table)


def test_a_row_that_is_no_object_is_422_naming_it(client, table):
    response = client.post("/predict", json={"rows": [json_rows(table, [0])[0], "text"]})
    _assert_refused(response, 422, words=("row 1",))
    assert response.json()["details"] == [{"row": 1, "column": None,
                                           "message": "must be a JSON object {column: value, ...}"}]


def test_a_missing_column_is_422(client, table):
    rows = json_rows(table, [0, 1])
    del rows[1]["color"]
    _assert_refused(client.post("/predict", json={"rows": rows}), 422, 1, "color", ("missing",))
    _serves_on(client, table)


def test_a_cell_of_the_wrong_type_is_422(client, table):
    rows = json_rows(table, [0, 1, 2])
    rows[2]["size"] = "big"
    rows[0]["review"] = {"nested": 1}
    response = client.post("/predict", json={"rows": rows})
    _assert_refused(response, 422, 2, "size", ("expected a number",))
    _assert_refused(response, 422, 0, "review")


def test_a_number_beyond_float32_is_422(client, table):
    rows = json_rows(table, [0])
    rows[0]["size"] = 1e300
    _assert_refused(client.post("/predict", json={"rows": rows}), 422, 0, "size", ("float32",))


@pytest.mark.parametrize("column", ["image", "audio"])
def test_undecodable_image_or_audio_is_422(client, table, column):
    rows = json_rows(table, [0, 1])
    rows[1][column] = {"base64": base64.b64encode(b"this is not a media file" * 10).decode()}
    _assert_refused(client.post("/predict", json={"rows": rows}), 422, 1, column, ("cannot decode",))
    _serves_on(client, table)


def test_undecodable_upload_and_unknown_upload_are_422(client, table):
    rows = json_rows(table, [0, 1])
    rows[0]["image"] = {"upload": "broken"}
    files = [("broken", ("x.png", b"\x89PNG garbage", "image/png"))]
    _assert_refused(client.post("/predict", data={"rows": json.dumps(rows)}, files=files), 422, 0, "image")
    rows[1]["audio"] = {"upload": "nowhere"}
    response = client.post("/predict", data={"rows": json.dumps(rows)}, files=files)
    _assert_refused(response, 422, 1, "audio", ("no file part",))


def test_bad_base64_is_422(client, table):
    rows = json_rows(table, [0])
    rows[0]["image"] = {"base64": "***not base64***"}
    _assert_refused(client.post("/predict", json={"rows": rows}), 422, 0, "image", ("base64",))


def test_an_oversized_body_is_413(client_for, table):
    client = client_for(max_body_bytes=4096)
    response = client.post("/predict", json={"rows": json_rows(table, [0, 1, 2])})  # images: > 4 KiB
    _assert_refused(response, 413, words=("limit",))
    chunked = client.post("/predict", content=iter([b'{"rows": [', b" " * 5000, b"]}"]),
                          headers={"content-type": "application/json"})  # no Content-Length
    _assert_refused(chunked, 413)
    rows = json_rows(table, [0], "path")
    assert client.post("/predict", json={"rows": rows}).status_code == 200


def test_too_many_rows_is_413_and_no_rows_is_422(client_for, table):
    client = client_for(max_rows=2)
    _assert_refused(client.post("/predict", json={"rows": json_rows(table, [0, 1, 2], "path")}), 413)
    _assert_refused(client.post("/predict", json={"rows": []}), 422)


def test_another_content_type_is_415(client, table):
    response = client.post("/predict", content=b"rows", headers={"content-type": "text/plain"})
    _assert_refused(response, 415)
    _serves_on(client, table)


def test_a_multipart_body_without_rows_is_400(client):
    response = client.post("/predict", files=[("image0", ("a.png", b"x", "image/png"))])
    _assert_refused(response, 400, words=("'rows'",))


def test_a_file_gone_between_the_check_and_the_batch_is_422(client_for, table, tmp_path, monkeypatch):
    """The predictor's own refusal (a DataError) is a 422 naming the row and column, not a 500."""
    from transmodal.errors import BadRow, DataError

    client = client_for()

    def refuse(data):
        raise DataError("<DataFrame>: 1 row(s) cannot be used", [BadRow("<DataFrame>", 0, "image", "gone")])

    from transmodal.predictor import MultimodalPredictor

    monkeypatch.setattr(MultimodalPredictor, "predict", lambda self, data: refuse(data))
    response = client.post("/predict", json={"rows": json_rows(table, [0])})
    _assert_refused(response, 422)
    assert response.json()["details"] == [{"row": 0, "column": "image", "message": "gone"}]
    monkeypatch.undo()
    _serves_on(client, table)


def test_an_internal_failure_is_a_json_500_and_the_server_serves_on(client, table, monkeypatch):
    from transmodal.predictor import MultimodalPredictor

    def broken(self, data):
        raise RuntimeError("a bug")

    monkeypatch.setattr(MultimodalPredictor, "predict", broken)
    response = client.post("/predict", json={"rows": json_rows(table, [0])})
    assert response.status_code == 500 and "internal error (RuntimeError)" in response.json()["error"]
    monkeypatch.undo()
    _serves_on(client, table)
