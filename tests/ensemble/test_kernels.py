"""The kernels of ``kernel_ridge`` (:mod:`transmodal.ensemble.members.kernels`) and its ``linear``
option: ridge on the n-grams in dual form, their squared cosine, one model with the RBF part."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from ensembletools import tiny_frame

from transmodal.ensemble.members.base import MEMBERS, MemberContext
from transmodal.ensemble.members.kernels import KernelRows, KernelWeights, kernel, linear_gram, solve
from transmodal.heads.task import TaskSpec

COLUMNS = {"review": "text", "size": "numeric", "color": "categorical"}


def _member(problem_type: str = "regression", **options):
    binary = TaskSpec("label", "binary", ["no", "yes"])
    task = TaskSpec("label", problem_type) if problem_type == "regression" else binary
    context = MemberContext("label", task, COLUMNS, "r2" if problem_type == "regression" else "roc_auc")
    return MEMBERS.get("kernel_ridge")(context, options)


def _sparse_rows(n: int, d: int, seed: int) -> sp.csr_matrix:
    rng = np.random.default_rng(seed)
    return sp.random(n, d, density=0.3, random_state=rng, format="csr", dtype=np.float64)


def test_the_centred_linear_kernel_is_ridge_with_an_unpenalised_intercept():
    """Linear part only, centred: the predictions are scikit-learn's Ridge (which fits the intercept
    without penalty), and the dual weights sum to 0; uncentred they are not (the intercept is penalised)."""
    from sklearn.linear_model import Ridge

    x = _sparse_rows(60, 12, 0)
    y = np.asarray(x @ np.arange(12.0)).ravel() + 5.0 + np.random.default_rng(1).normal(0, 0.1, 60)
    rows, weights = KernelRows(np.zeros((60, 0)), x), KernelWeights(rbf=0.0, linear=1.0)
    dual, mean = solve(kernel(rows[:45], rows[:45], weights, 1.0), y[:45], 0.7, centre=True)
    reference = Ridge(alpha=0.7).fit(x[:45].toarray(), y[:45])  # dense: an exact solve
    expected = reference.predict(x[45:].toarray())
    np.testing.assert_allclose(kernel(rows[45:], rows[:45], weights, 1.0) @ dual + mean, expected, rtol=1e-6, atol=1e-6)
    assert abs(dual.sum()) < 1e-8
    plain, plain_mean = solve(kernel(rows[:45], rows[:45], weights, 1.0), y[:45], 0.7, centre=False)
    assert not np.allclose(kernel(rows[45:], rows[:45], weights, 1.0) @ plain + plain_mean, expected)


def test_the_squared_part_is_the_inner_product_of_normalised_pairwise_products():
    """``cos(a, b)^2`` = <vec(a a^T) / |a|^2, vec(b b^T) / |b|^2>: every pair of features, each row
    scaled to length 1; with the RBF and linear parts the kernel is their weighted sum."""
    a, b = _sparse_rows(5, 6, 2), _sparse_rows(4, 6, 3)
    dense_a, dense_b = a.toarray(), b.toarray()
    pairs = lambda m: np.stack([np.outer(r, r).ravel() / max(r @ r, 1e-300) for r in m])  # noqa: E731
    expected = pairs(dense_a) @ pairs(dense_b).T
    only_squared = kernel(KernelRows(np.zeros((5, 0)), a), KernelRows(np.zeros((4, 0)), b),
                          KernelWeights(rbf=0.0, squared=1.0), 1.0)
    np.testing.assert_allclose(only_squared, expected, atol=1e-12)
    za, zb = np.random.default_rng(4).normal(size=(5, 3)), np.random.default_rng(5).normal(size=(4, 3))
    both = kernel(KernelRows(za, a), KernelRows(zb, b), KernelWeights(rbf=2.0, linear=0.5, squared=3.0), 1.5)
    rbf = np.exp(-((za[:, None, :] - zb[None, :, :]) ** 2).sum(axis=2) / 1.5)
    np.testing.assert_allclose(both, 2.0 * rbf + 0.5 * dense_a @ dense_b.T + 3.0 * expected, atol=1e-10)


def test_the_linear_option_reads_the_tables_own_columns_without_embeddings():
    kind = MEMBERS.get("kernel_ridge")
    linear = {"linear": {"weight": 1.0, "squared": 4.0}}
    assert kind.skip_reason(_member().context, linear) is None
    assert kind.skip_reason(_member().context, {}) == "skipped: kernel_ridge needs its embeddings option"
    assert kind.skip_reason(_member("binary").context, linear) == "skipped: kernel_ridge learns regression labels"


def test_a_linear_and_squared_kernel_member_fits_refits_and_survives_save_and_load():
    """No embeddings: the n-grams, one-hot colour and the size (with its signed log) in the kernel;
    it learns the label, and a loaded member (tensors + JSON only) predicts the same."""
    frame = tiny_frame(120, regression=True)
    y = frame["label"].to_numpy()
    y = (y - y.mean()) / y.std()
    member = _member(linear={"weight": 1.0, "squared": 4.0}, centre=True, alpha=[0.3, 3.0])
    member.prepare(frame)
    x = member.features(frame)
    assert x.dense.shape == (120, 0) and x.linear.shape[0] == 120
    assert x.linear.shape[1] > 10  # n-grams, one-hot colours, size and its signed log
    member.models = [member.fit_model(x[:90], y[:90], x[90:], y[90:], None)]
    assert np.corrcoef(member.model_scores(member.models[0], x[90:]), y[90:])[0, 1] > 0.8
    member.models = [member.refit_model(x, y, None)]
    files = member.save()
    assert all(isinstance(v, np.ndarray) for v in files.tensors.values())
    loaded = type(member).load(member.context, member.options, files)
    np.testing.assert_allclose(loaded.predict(frame), member.predict(frame), rtol=1e-6, atol=1e-6)


@pytest.mark.slow
def test_embeddings_and_linear_parts_in_one_member_survive_save_and_load():
    frame = tiny_frame(100, regression=True)
    y = frame["label"].to_numpy()
    y = (y - y.mean()) / y.std()
    member = _member(embeddings={"text": {"name": "builtin_text", "output_dim": 8}}, components=3, rbf=10.0,
                     linear={"weight": 1.0, "squared": 4.0}, centre=True, alpha=2.0)
    member.prepare(frame)
    x = member.features(frame)
    assert x.dense.shape == (100, 3) and x.linear is not None
    member.models = [member.fit_model(x[:80], y[:80], x[80:], y[80:], None)]
    member.models = [member.refit_model(x, y, None)]
    loaded = type(member).load(member.context, member.options, member.save())
    np.testing.assert_allclose(loaded.predict(frame), member.predict(frame), rtol=1e-6, atol=1e-6)


def test_the_linear_gram_multiplies_frequent_columns_densely_and_agrees_with_the_sparse_product():
    rng = np.random.default_rng(6)
    rare = sp.random(70, 40, density=0.05, random_state=rng, format="csr")
    frequent = sp.csr_matrix(rng.random((70, 5)) * (rng.random((70, 5)) < 0.9))  # in most rows
    x = sp.hstack([rare, frequent], format="csr")
    expected = (x[:30] @ x[30:].T).toarray()
    np.testing.assert_allclose(linear_gram(x[:30], x[30:], block=2), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(linear_gram(x[:30], x[30:], dense_rows=1.0), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(linear_gram(x.toarray()[:30], x.toarray()[30:]), expected, atol=1e-10)


def test_predictions_in_blocks_against_the_training_rows_read_once_equal_one_kernel_of_every_row(monkeypatch):
    """``model_scores`` reads the training rows once (:class:`TrainedRows`) for every block of rows;
    with blocks of 7 rows its predictions are those of one kernel of all rows and the training rows
    as they are (every part on, frequent columns multiplied densely)."""
    import transmodal.ensemble.members.kernel_ridge as kernel_ridge

    rng = np.random.default_rng(7)
    rare = sp.random(90, 40, density=0.05, random_state=rng, format="csr")
    frequent = sp.csr_matrix(rng.random((90, 5)) * (rng.random((90, 5)) < 0.9))  # in most rows: dense blocks
    rows = KernelRows(rng.normal(size=(90, 3)), sp.hstack([rare, frequent], format="csr"))
    y = rng.normal(size=60)
    member = _member(embeddings={"text": "builtin_text"}, rbf=2.0, linear={"weight": 1.0, "squared": 4.0},
                     centre=True, alpha=0.5)
    model = member._fit_one(rows[:60], y, 0.5)
    weights, width = member._weights(), float(model["width"][0])
    assert weights.rbf and weights.linear and weights.squared
    trained = KernelRows(model["rows"], rows[:60].linear.astype(np.float32))
    expected = kernel(rows[60:], trained, weights, width) @ model["dual"] + float(model["mean"][0])
    monkeypatch.setattr(kernel_ridge, "BLOCK", 7)
    np.testing.assert_allclose(member.model_scores(model, rows[60:]), expected, rtol=0, atol=1e-10)
