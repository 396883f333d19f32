"""``fusions``, ``robustness``, ``importance`` and ``compare`` through the CLI."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from tabletools import TINY_HYPERPARAMETERS, write_table
from transmodal.cli import main


@pytest.fixture(scope="module")
def av_model(tmp_path_factory):
    """A tiny image+audio table and a saved late-fusion model of it."""
    from transmodal.predictor import MultimodalPredictor

    folder = tmp_path_factory.mktemp("cli_av")
    write_table(folder, n=36)[["image", "audio", "label"]].to_csv(folder / "av.csv", index=False)
    hyper = {**TINY_HYPERPARAMETERS, "fusion": "late", "max_epochs": 2}
    MultimodalPredictor(label="label").fit(str(folder / "av.csv"), hyperparameters=hyper).save(folder / "model")
    return folder


def test_fusions_lists_every_strategy(capsys):
    main(["fusions"])
    out = capsys.readouterr().out
    for name in ("concat", "late", "hierarchical", "tensor", "lowrank", "attention", "gated"):
        assert any(line.startswith(name + " ") for line in out.splitlines())


@pytest.mark.slow
def test_robustness_prints_curves_and_both_summaries(av_model, capsys):
    model, table = str(av_model / "model"), str(av_model / "av.csv")
    main(["robustness", model, table, "-m", "audio", "--kind", "white_noise", "--levels", "0,0.5,1",
          "--reference", model, "--json"])
    curves = json.loads(capsys.readouterr().out)
    assert list(curves) == ["audio"]
    assert curves["audio"]["levels"] == [0.0, 0.5, 1.0] and len(curves["audio"]["scores"]) == 3
    assert curves["audio"]["effective_robustness"] == pytest.approx(0.0)  # late vs itself
    main(["robustness", model, table, "--kind", "missing", "--levels", "0:1:0.5"])
    out = capsys.readouterr().out
    assert "image (missing noise, accuracy)" in out and "relative robustness" in out


def test_robustness_unknown_noise_is_one_line_error(av_model, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["robustness", str(av_model / "model"), str(av_model / "av.csv"), "-m", "image", "--kind", "word_dropout"])
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    assert err.startswith("error: no image noise 'word_dropout'") and "Traceback" not in err


def test_importance_prints_both_methods(av_model, capsys):
    main(["importance", str(av_model / "model"), str(av_model / "av.csv"), "--repeats", "1", "--json"])
    result = json.loads(capsys.readouterr().out)
    assert set(result) == {"mask", "permutation"}
    assert set(result["mask"]) == {"image", "audio"}


@pytest.mark.slow
def test_compare_fits_each_fusion_per_seed(av_model, tmp_path, capsys):
    main(["compare", str(av_model / "av.csv"), "--label", "label", "--fusions", "concat,gated", "--seeds", "2",
          "--set", "max_epochs=1", "--set", "hidden_dim=16", "--set", "batch_size=16",
          "--set", "encoders.image.name=cnn", "--set", "encoders.image.width=4",
          "--set", "encoders.audio.name=cnn", "--set", "encoders.audio.width=4",
          "--set", "encoders.audio.n_mels=16", "--set", "encoders.audio.sample_rate=8000",
          "--out", str(tmp_path / "runs.csv")])
    out = capsys.readouterr().out
    runs = pd.read_csv(tmp_path / "runs.csv")
    assert sorted(runs["fusion"]) == ["concat", "concat", "gated", "gated"]
    assert (runs["parameters"] > 0).all()
    summary = [line.split() for line in out.splitlines() if line.split()[:2] in (["concat", "accuracy"], ["gated", "accuracy"])]
    assert len(summary) == 2
    concat = runs[runs["fusion"] == "concat"]["score"]
    assert float(summary[0][2]) == pytest.approx(concat.mean(), abs=1e-4)  # mean of the seeds


def test_compare_unknown_fusion_fails_clearly(av_model, capsys):
    with pytest.raises(SystemExit):
        main(["compare", str(av_model / "av.csv"), "--label", "label", "--fusions", "concat,nope"])
    assert "unknown fusion(s) ['nope']" in capsys.readouterr().err
