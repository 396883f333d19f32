"""Protocol tests of the benchmark dataset builders, run on tiny fake data (see conftest.py)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile

from benchmarks.datasets import _common as common
from benchmarks.datasets import av_digits, clothing, digits_transfer, emoji

SMALL = av_digits.SplitSizes(train=70, tuning=10, test=20)


def load(root: Path, relative: str) -> dict[str, np.ndarray]:
    with np.load(root / relative) as archive:
        return {name: archive[name] for name in archive.files}


# ---------------------------------------------------------------- data root

def test_missing_data_root_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("TRANSMODAL_DATA", str(tmp_path / "nowhere"))
    with pytest.raises(common.DataRootError, match="TRANSMODAL_DATA"):
        clothing.build_clothing(tmp_path / "out")
    assert clothing.main(["--out", str(tmp_path / "out")]) == 2


def test_missing_data_file_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("TRANSMODAL_DATA", str(tmp_path))
    with pytest.raises(common.DataRootError, match="mnist_test.npz"):
        digits_transfer.build_digits_transfer(tmp_path / "out")


# ---------------------------------------------------------------- AV-digits pairing and PCA

@pytest.fixture
def fsdd(fake_root):
    return load(fake_root, "fsdd/fsdd.npz")


def test_pairing_follows_the_protocol_at_full_size(fsdd):
    labels = np.random.default_rng(5).integers(0, 10, 10_000)
    clips = av_digits.pair_clips(labels, fsdd)
    assert clips.shape == (10_000,)
    assert np.array_equal(fsdd["digit"][clips], labels)
    assert (fsdd["index"][clips[:8000]] >= 5).all() and not fsdd["is_test"][clips[:8000]].any()
    assert (fsdd["index"][clips[8000:]] < 5).all() and fsdd["is_test"][clips[8000:]].all()
    rng = np.random.default_rng(0)  # the rule spelled out: one rng, i in order, uniform per digit
    expected = []
    for i, digit in enumerate(labels):
        pool = np.flatnonzero((fsdd["digit"] == digit) & (fsdd["is_test"] == (i >= 8000)))
        expected.append(rng.choice(pool))
    assert np.array_equal(clips, expected)


def test_speaker_holdout_pairs(fsdd):
    labels = np.arange(10_000) % 10
    clips = av_digits.pair_clips(labels, fsdd, speaker_holdout="theo")
    theo = list(fsdd["speakers"]).index("theo")
    speaker, index = fsdd["speaker_id"][clips], fsdd["index"][clips]
    assert np.array_equal(fsdd["digit"][clips], labels)
    assert (speaker[:8000] != theo).all() and (index[:8000] >= 5).all()
    assert (speaker[8000:] == theo).all()
    assert (index[8000:] < 5).any() and (index[8000:] >= 5).any()  # all repetitions eligible
    with pytest.raises(ValueError, match="unknown FSDD speaker"):
        av_digits.pair_clips(labels, fsdd, speaker_holdout="nobody")


def test_pca_is_fitted_on_train_images_only():
    images = np.random.default_rng(1).integers(0, 256, (30, 28, 28), dtype=np.uint8)
    degraded = av_digits.degrade_images(images, n_train=20)
    assert degraded.dtype == np.uint8 and degraded.shape == images.shape
    changed_test = images.copy()
    changed_test[25] = 255 - changed_test[25]
    assert np.array_equal(av_digits.degrade_images(changed_test, n_train=20)[:20], degraded[:20])
    changed_train = images.copy()
    changed_train[3] = 255 - changed_train[3]
    assert not np.array_equal(av_digits.degrade_images(changed_train, n_train=20)[:20], degraded[:20])


def test_fit_pca_returns_orthonormal_components():
    images = np.random.default_rng(2).integers(0, 256, (40, 28, 28), dtype=np.uint8)
    _, components = av_digits.fit_pca(images, 4)
    assert components.shape == (4, 784)
    assert np.allclose(components @ components.T, np.eye(4))


# ---------------------------------------------------------------- AV-digits files

def test_build_av_digits_writes_the_protocol(fake_data, tmp_path, capsys):
    tables = av_digits.build_av_digits(tmp_path, sizes=SMALL)
    folder = tmp_path / "degraded"
    assert tables == {s: folder / f"{s}.csv" for s in ("train", "tuning", "test")}
    assert "train 70, tuning 10, test 20" in capsys.readouterr().out
    mnist, fsdd = load(fake_data, "mnist_test/mnist_test.npz"), load(fake_data, "fsdd/fsdd.npz")
    splits = {s: pd.read_csv(p) for s, p in tables.items()}
    assert [len(t) for t in splits.values()] == [70, 10, 20]
    for table, start in zip(splits.values(), (0, 70, 80)):
        assert list(table.columns) == av_digits.COLUMNS
        assert list(table["image"]) == [f"images/{i:05d}.png" for i in range(start, start + len(table))]
        assert np.array_equal(table["digit"], mnist["labels"][start:start + len(table)])
    pairs = pd.concat(splits.values(), ignore_index=True)
    clips = np.array([list(fsdd["filenames"]).index(Path(a).name) for a in pairs["audio"]])
    assert np.array_equal(fsdd["digit"][clips], pairs["digit"])
    assert np.array_equal(fsdd["speakers"][fsdd["speaker_id"][clips]], pairs["speaker"])
    assert (fsdd["index"][clips[:80]] >= 5).all() and (fsdd["index"][clips[80:]] < 5).all()
    expected = av_digits.degrade_images(mnist["images"][:100], n_train=70)
    for k in (0, 69, 70, 99):
        assert np.array_equal(common.read_png(folder / pairs["image"][k]), expected[k])
    for k in (0, 99):
        samples, rate = soundfile.read(folder / pairs["audio"][k], dtype="int16")
        start, stop = fsdd["offsets"][clips[k]], fsdd["offsets"][clips[k] + 1]
        assert rate == 8000 and np.array_equal(samples, fsdd["audio"][start:stop])
    assert sorted(p.name for p in (folder / "audio").iterdir()) == sorted(set(fsdd["filenames"][clips]))


def test_build_av_digits_is_idempotent(fake_data, tmp_path, capsys):
    tables = av_digits.build_av_digits(tmp_path, sizes=SMALL)
    stamp = tables["train"].stat().st_mtime_ns
    assert av_digits.build_av_digits(tmp_path, sizes=SMALL) == tables
    assert "already built" in capsys.readouterr().out
    assert tables["train"].stat().st_mtime_ns == stamp
    (tmp_path / "degraded/images/00001.png").unlink()
    av_digits.build_av_digits(tmp_path, sizes=SMALL, force=True)
    assert (tmp_path / "degraded/images/00001.png").is_file()
    with pytest.raises(FileExistsError, match="force"):
        av_digits.build_av_digits(tmp_path, sizes=av_digits.SplitSizes(60, 10, 20))


def test_clean_and_holdout_variants_use_their_own_folders(fake_data, tmp_path):
    clean = av_digits.build_av_digits(tmp_path, degrade=False, sizes=SMALL)
    held = av_digits.build_av_digits(tmp_path, speaker_holdout="theo", sizes=SMALL)
    assert clean["test"].parent.name == "clean" and held["test"].parent.name == "degraded_holdout_theo"
    mnist = load(fake_data, "mnist_test/mnist_test.npz")
    assert np.array_equal(common.read_png(tmp_path / "clean/images/00042.png"), mnist["images"][42])
    speakers = {s: set(pd.read_csv(p)["speaker"]) for s, p in held.items()}
    assert speakers["test"] == {"theo"} and "theo" not in speakers["train"] | speakers["tuning"]


def test_av_digits_cli_passes_options(monkeypatch, tmp_path):
    calls = []
    monkeypatch.setattr(av_digits, "build_av_digits", lambda **options: calls.append(options) or {})
    assert av_digits.main(["--out", str(tmp_path), "--clean", "--speaker-holdout", "theo"]) == 0
    assert calls == [{"out": tmp_path, "force": False, "degrade": False, "speaker_holdout": "theo"}]


def test_cli_builds_into_out(fake_data, tmp_path, capsys):
    assert emoji.main(["--out", str(tmp_path)]) == 0
    assert (tmp_path / "heldout.csv").is_file()
    assert "emoji: align_train 13, heldout 4" in capsys.readouterr().out


# ---------------------------------------------------------------- clothing

def test_clothing_protocol_and_round_trip(fake_data, tmp_path):
    raw = pd.read_csv(fake_data / clothing.SOURCE, index_col=0)
    train, test = clothing.load_clothing()
    assert (len(train), len(test)) == (6000, 2000)
    assert list(train.columns) == clothing.COLUMNS
    kept = raw.dropna(subset=["Review Text", "Department Name"]).sample(n=8000, random_state=0)
    assert list(train["Review Text"]) == list(kept["Review Text"][:6000])
    assert list(test["Review Text"]) == list(kept["Review Text"][6000:])
    tables = clothing.build_clothing(tmp_path)
    pd.testing.assert_frame_equal(pd.read_csv(tables["train"]), train)
    pd.testing.assert_frame_equal(pd.read_csv(tables["test"]), test)


# ---------------------------------------------------------------- digits transfer

def test_digits_transfer_files(fake_data, tmp_path):
    tables = digits_transfer.build_digits_transfer(tmp_path)
    mnist, usps = load(fake_data, "mnist_test/mnist_test.npz"), load(fake_data, "usps/usps.npz")
    read = {name: pd.read_csv(path) for name, path in tables.items()}
    assert [len(t) for t in read.values()] == [100, 30, 20]
    assert np.array_equal(read["mnist"]["digit"], mnist["labels"])
    assert np.array_equal(read["usps_test"]["digit"], usps["y_test"])
    assert np.array_equal(common.read_png(tmp_path / read["mnist"]["image"][7]), mnist["images"][7])
    pixels = common.read_png(tmp_path / read["usps_train"]["image"][3])
    assert pixels.shape == (16, 16)
    assert np.abs(pixels / 255.0 - usps["x_train"][3]).max() <= 0.5 / 255 + 1e-6


def test_few_shot_draws_k_per_class():
    table = pd.DataFrame({"image": [f"{i}.png" for i in range(100)], "digit": np.arange(100) % 10})
    labelled, rest = digits_transfer.few_shot(table, 3, seed=1)
    assert len(labelled) == 30 and (labelled["digit"].value_counts() == 3).all()
    assert set(labelled.index).isdisjoint(rest.index) and len(rest) == 70
    again, _ = digits_transfer.few_shot(table, 3, seed=1)
    other, _ = digits_transfer.few_shot(table, 3, seed=2)
    assert labelled.equals(again) and not labelled.equals(other)
    with pytest.raises(ValueError, match="fewer than"):
        digits_transfer.few_shot(table, 11)


# ---------------------------------------------------------------- emoji

def test_emoji_protocol(fake_data, tmp_path):
    tables = emoji.build_emoji(tmp_path)
    raw = load(fake_data, "emoji_noto/emoji_noto.npz")
    train, held = pd.read_csv(tables["align_train"]), pd.read_csv(tables["heldout"])
    assert set(held["group"]) == {"Travel & Places", "Objects"} and len(held) == 4
    assert not set(train["group"]) & {"Travel & Places", "Objects", "Component"}
    assert len(train) == 2 * 9 - 4 - 1  # 9 groups kept, 2 held out, one skin-tone variant
    assert list(train.columns) == emoji.COLUMNS
    names = json.loads((tmp_path / "group_names.json").read_text())
    assert names == [g for g in raw["group_names"] if g != "Component"]
    k = list(raw["filename"]).index(Path(held["image"][0]).name)
    pixels = common.read_png(tmp_path / held["image"][0])
    assert pixels.shape == (72, 72, 3) and held["name"][0] == raw["name"][k]
    assert np.array_equal(pixels, emoji.composite_on_white(raw["images"][k]))


def test_composite_on_white():
    rgba = np.array([[[10, 20, 30, 0], [10, 20, 30, 255], [0, 0, 0, 128]]], dtype=np.uint8)
    assert emoji.composite_on_white(rgba).tolist() == [[[255, 255, 255], [10, 20, 30], [127, 127, 127]]]
