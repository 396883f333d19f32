"""Extensions combined pairwise in one fit (issue 14, item 6).

Extensions: transfer (``init_from=`` a saved predictor, ``transfer.strategy=finetune``), LoRA
(``init_from=`` + ``transfer.strategy=lora``), multi-task (two labels, ``multitask.weighting=
uncertainty``), the alignment loss (``align_weight=0.3`` over the image and text inputs),
checkpointing (``checkpoint_dir=``, ``checkpoint_every=1``), the report (``report.html`` beside every
saved model) and the feature memo (``feature_memo=True``). finetune and lora are both strategies, so
they never go together. For every other pair: fit a tiny table, save, load, the loaded model predicts
what the fitted one did, and every active extension left its mark where the library records it.

The text column goes through a tiny frozen BERT (so that the feature memo has a frozen encoder to
memoise); finetune and lora are limited to the image and tabular inputs (``transfer.inputs``) for
the same reason.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pytest

from tabletools import TINY_HYPERPARAMETERS, write_table
from tinycheckpoints import save_tiny_bert

EXTENSIONS = ("finetune", "lora", "multitask", "align", "checkpoint", "report", "feature_memo")
EXCLUSIVE = {frozenset({"finetune", "lora"})}  # two transfer strategies: one fit has one
PAIRS = [pair for pair in itertools.combinations(EXTENSIONS, 2) if frozenset(pair) not in EXCLUSIVE]
TRANSFER_INPUTS = ["image", "tabular"]  # the frozen text encoder stays frozen

def _param(pair):
    return pytest.param(*pair, id="+".join(pair))


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    """A tiny table (image, review text, size, color; labels ``label`` and ``big``) and a tiny BERT."""
    folder = tmp_path_factory.mktemp("composition")
    frame = write_table(folder, n=36, seed=3).drop(columns=["audio"])
    frame["big"] = np.where(frame["size"] > 1.0, "yes", "no")
    frame.to_csv(folder / "two_labels.csv", index=False)
    frame.drop(columns=["big"]).to_csv(folder / "table.csv", index=False)
    save_tiny_bert(folder / "bert")
    return folder


def _hyperparameters(folder: Path, **extra) -> dict:
    encoders = {**TINY_HYPERPARAMETERS["encoders"], "text": {"name": "hf_text", "checkpoint": str(folder / "bert")}}
    return {**TINY_HYPERPARAMETERS, "max_epochs": 1, "encoders": encoders, **extra}


@pytest.fixture(scope="module")
def source_dir(folder) -> Path:
    """A predictor of ``label`` with the same inputs, saved: the ``init_from`` source."""
    from transmodal.predictor import MultimodalPredictor

    path = folder / "source"
    MultimodalPredictor(label="label").fit(str(folder / "table.csv"), hyperparameters=_hyperparameters(folder),
                                           seed=0).save(path)
    return path


def _setup(active: set[str], folder: Path, source_dir: Path, work: Path):
    """(label, table, hyperparameters, fit options) of a fit with the ``active`` extensions."""
    hyper, options = _hyperparameters(folder), {}
    label, table = "label", str(folder / "table.csv")
    for strategy, options_ in (("finetune", {}), ("lora", {"r": 2})):
        if strategy in active:
            hyper["transfer"] = {"strategy": strategy, "inputs": TRANSFER_INPUTS, **options_}
            options["init_from"] = str(source_dir)
    if "multitask" in active:
        label, table = ["label", "big"], str(folder / "two_labels.csv")
        hyper["multitask"] = {"weighting": "uncertainty"}
    if "align" in active:
        hyper["align_weight"] = 0.3
    if "checkpoint" in active:
        options.update(checkpoint_dir=str(work / "checkpoints"), checkpoint_every=1)
    if "feature_memo" in active:
        options["feature_memo"] = True
    return label, table, hyper, options


def _probabilities(predictor, table) -> np.ndarray:
    proba = predictor.predict_proba(table)
    if isinstance(proba, dict):
        return np.concatenate([proba[k].to_numpy(dtype=float) for k in sorted(proba)], axis=1)
    return proba.to_numpy(dtype=float)


class _EncodedRows:
    """Counts the rows the frozen text encoder really encodes (memo hits never reach it)."""

    def __init__(self, monkeypatch) -> None:
        from transmodal.encoders.base import encoder_registry

        cls = encoder_registry("text").get("hf_text")
        original = cls.forward
        self.rows = 0

        def forward(encoder, inputs):
            self.rows += int(next(iter(inputs.values())).shape[0])
            return original(encoder, inputs)

        monkeypatch.setattr(cls, "forward", forward)


def _check_recorded(active: set[str], predictor, saved: Path, config: dict, work: Path, source: Path) -> None:
    history, fit_config = config["history"], config["fit_config"]
    epochs = history["epochs"]
    assert epochs and all(np.isfinite(e["train_loss"]) for e in epochs)
    assert (saved / "report.html").is_file()  # every save writes the report
    if "report" in active:
        report = json.loads((saved / "report.json").read_text(encoding="utf-8"))
        assert "label" in report["tasks"]
        assert "label" in (saved / "report.html").read_text(encoding="utf-8")
    for strategy in ("finetune", "lora"):
        if strategy in active:
            assert fit_config["transfer"]["strategy"] == strategy
            assert history["transfer"]["init_from"] == str(source)  # what init_from copied, and from where
            assert history["transfer"]["inputs"] == ["image", "review", "tabular"]
    if "lora" in active:
        from safetensors import safe_open

        with safe_open(str(saved / "model.safetensors"), "pt") as handle:
            assert any("lora_" in name for name in handle.keys())  # the adapters are saved
        assert set(config["adapters"]) == set(TRANSFER_INPUTS)  # ... and listed in the model spec
        assert config["base"]["path"] == str(source.resolve())
    if "multitask" in active:
        assert history["multitask"]["weighting"] == "uncertainty"
        assert set(history["multitask"]["weights"]) == {"label", "big"}
        assert all(np.isfinite(e["weight/big"]) for e in epochs)
    if "align" in active:
        assert fit_config["align_weight"] == pytest.approx(0.3)
        assert all(np.isfinite(e["train/align"]) for e in epochs)
    if "checkpoint" in active:
        assert (work / "checkpoints" / "last.safetensors").is_file()
        assert (work / "checkpoints" / "run.json").is_file()


@pytest.mark.slow
@pytest.mark.parametrize("first,second", [_param(pair) for pair in PAIRS])
def test_pair_fits_saves_and_reloads(first, second, folder, source_dir, tmp_path, monkeypatch):
    from transmodal.predictor import MultimodalPredictor

    active = {first, second}
    label, table, hyper, options = _setup(active, folder, source_dir, tmp_path)
    # a store of this test's own: the session's store already holds the rows earlier tests encoded
    monkeypatch.setenv("TRANSMODAL_CACHE", str(tmp_path / "store"))
    encoded = _EncodedRows(monkeypatch)

    def fit(work: Path):
        if "checkpoint" in active:
            options["checkpoint_dir"] = str(work / "checkpoints")
        return MultimodalPredictor(label=label).fit(table, hyperparameters=json.loads(json.dumps(hyper)),
                                                    seed=0, **options)

    predictor = fit(tmp_path)
    if "feature_memo" not in active:  # (with the memo, an earlier test may already hold these rows)
        assert encoded.rows > 0  # the spy sees the frozen text encoder's work
    else:
        # the same fit again: every text row is in the memo, so the frozen encoder encodes none
        encoded.rows = 0
        again = fit(tmp_path / "again")
        assert encoded.rows == 0, f"the frozen text encoder encoded {encoded.rows} rows again despite feature_memo"
        np.testing.assert_allclose(_probabilities(again, table), _probabilities(predictor, table), atol=1e-5)
    saved = predictor.save(tmp_path / "model")
    config = json.loads((saved / "config.json").read_text(encoding="utf-8"))
    _check_recorded(active, predictor, saved, config, tmp_path, source_dir)
    loaded = MultimodalPredictor.load(saved)
    before, after = _probabilities(predictor, table), _probabilities(loaded, table)
    assert before.shape == (36, 5 if "multitask" in active else 3)
    np.testing.assert_allclose(after, before, atol=1e-5)
