"""``kernel_ridge``: RBF kernel ridge on (projected) frozen embeddings, regression labels only."""

from __future__ import annotations

import numpy as np
import pytest
from ensembletools import tiny_frame

from transmodal.ensemble.members.base import MEMBERS, MemberContext
from transmodal.ensemble.members.kernels import squared_distances
from transmodal.heads.task import TaskSpec

COLUMNS = {"review": "text", "size": "numeric", "color": "categorical"}
ENCODER = {"text": {"name": "builtin_text", "output_dim": 8}}


def _member(problem_type: str = "regression", **options):
    task = TaskSpec("label", problem_type) if problem_type == "regression" else TaskSpec("label", "binary", ["no", "yes"])
    context = MemberContext("label", task, COLUMNS, "r2" if problem_type == "regression" else "roc_auc")
    return MEMBERS.get("kernel_ridge")(context, {"embeddings": ENCODER, **options})


def test_kernel_ridge_is_for_regression_labels_with_embeddings():
    kind = MEMBERS.get("kernel_ridge")
    member = _member()
    assert kind.skip_reason(member.context, {"embeddings": ENCODER}) is None
    assert kind.skip_reason(member.context, {}) == "skipped: kernel_ridge needs its embeddings option"
    binary = _member("binary").context
    assert kind.skip_reason(binary, {"embeddings": ENCODER}) == "skipped: kernel_ridge learns regression labels"


def test_the_dual_solution_is_exact_kernel_ridge_and_a_small_alpha_interpolates():
    """On rows given directly (no encoder): the predictions equal scikit-learn's KernelRidge with
    the same RBF kernel on the centred target, and the alpha grid keeps the best on validation rows."""
    from sklearn.kernel_ridge import KernelRidge

    rng = np.random.default_rng(0)
    x = rng.normal(size=(120, 4)).astype(np.float32)
    y = np.sin(x[:, 0] * 2) + x[:, 1] ** 2
    y = (y - y.mean()) / y.std()
    member = _member(alpha=[100.0, 0.01])
    model = member._fit_one(x[:90], y[:90], 0.1)
    width = float(model["width"][0])
    assert width == pytest.approx(np.median(squared_distances(x[:90], x[:90])), rel=1e-5)
    reference = KernelRidge(alpha=0.1, kernel="rbf", gamma=1.0 / width).fit(x[:90], y[:90] - y[:90].mean())
    np.testing.assert_allclose(member.model_scores(model, x[90:]), reference.predict(x[90:]) + y[:90].mean(),
                               atol=1e-4)
    chosen = member.fit_model(x[:90], y[:90], x[90:], y[90:], None)
    assert chosen["value"][0] == pytest.approx(0.01)  # a learnable smooth target: the small alpha
    assert np.corrcoef(member.model_scores(chosen, x[90:]), y[90:])[0, 1] > 0.8


def test_max_rows_bounds_the_kernel_matrix():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(50, 3)).astype(np.float32)
    model = _member(max_rows=20)._fit_one(x, rng.normal(size=50), 1.0)
    assert model["rows"].shape == (20, 3) and model["dual"].shape == (20,)


@pytest.mark.slow
def test_kernel_ridge_on_frozen_embeddings_fits_and_survives_save_and_load():
    frame = tiny_frame(100, regression=True)
    y = frame["label"].to_numpy()
    y = (y - y.mean()) / y.std()
    member = _member(components=3)
    member.prepare(frame)
    x = member.features(frame)
    assert x.shape == (100, 3)
    member.models = [member.fit_model(x[:80], y[:80], x[80:], y[80:], None)]
    member.models = [member.refit_model(x, y, None)]
    loaded = type(member).load(member.context, member.options, member.save())
    np.testing.assert_array_equal(loaded.predict(frame), member.predict(frame))
