"""How far can an ensemble get above its best member on fashion_mm (issue 16 d)? Training rows only.

Cross-validation on ``fashion_mm/train.csv`` (the test split is never read): each member's 5-fold
out-of-fold (OOF) class probabilities over every training row (``members`` phase, one ``.npy`` per
member and label in ``--work``), then a nested evaluation of ways to combine them (``ensembles``
phase): for each of 5 outer folds, the weights (greedy forward selection with replacement, as
``transmodal.ensemble.selection``, ``mean`` and ``geometric`` blends) or a stacker (logistic
regression on the members' log-probabilities) are fitted on the other folds' OOF rows, either on all
of them (what k-fold bagging of every member gives) or on a random 1,150 of them (as many tuning
rows as ``best``'s 15% holdout gives), and scored on the outer fold, beside the best member on that
fold (the acceptance's "best single member", chosen after the fact) and the member the selection
rows would pick.

Members (proxies of ``best``'s kinds, on the same features):

- ``linear``: logistic regression (C 4) on word + character TF-IDF of the name, one-hot
  categories, standardised year (``tfidf_linear``);
- ``lightgbm``: category codes, year and a 96-dim SVD of the TF-IDF (``lightgbm``);
- ``lightgbm_image``: the same plus 64 principal components of the photos' frozen
  EfficientNet-Lite0 features (``lightgbm_image``);
- ``mlp``: a one-hidden-layer network (256, GELU, dropout) on the standardised photo features,
  one-hot categories, year and the SVD of the TF-IDF, 25 epochs (a stand-in for ``neural_image``);
- ``image_linear``: logistic regression (C 0.01) on the photo features alone (a weak, different member);
- ``minilm_linear``: logistic regression (C 0.002) on every MiniLM layer of the name (``embed_linear``).

Members reading the photo's colour statistics (:func:`colour_statistics`: the garment's pixels
told from the near-white background, their RGB / HSV means, spreads and percentiles, a hue x
saturation and a value histogram, the garment's box and area, gradient (texture) statistics, a
12 x 12 grey thumbnail and an 8 x 8 mask: 279 numbers per photo, ~100 photos per second; cached
in ``--work`` as ``colour.npy``):

- ``lightgbm_colour`` / ``lightgbm_image_colour``: ``lightgbm`` / ``lightgbm_image`` plus them;
- ``colour_only``: LightGBM on the category codes, year and them (no text, no CNN);
- ``linear_colour``: ``linear`` plus them standardised (x 0.3); ``mlp_colour``: ``mlp`` plus them;
- ``extratrees``: 400 extremely randomised trees on ``lightgbm_image_colour``'s features.

The photo and MiniLM features are read from a kept embedding store (``--store``; the cells'
digests as the library computes them); a row without stored MiniLM features gets zeros.

Run: ``python -m benchmarks.fashion_mm_stacking_cv members --label season --store DIR --work DIR
[--members linear,lightgbm]``, then ``... ensembles --label season --work DIR [--out NAME]``
(writes ``benchmarks/results/NAME.json``).
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks._machine import machine, save_json
from benchmarks.datasets._common import data_file

CATEGORIES = ["gender", "masterCategory", "subCategory", "articleType", "baseColour"]
IMAGE_KEY = "bc6c126977dc4a8277061d34d299faa8bf00fe00"    # efficientnet_lite0, frozen, 224
MINILM_KEY = "39b891d1108b65dc9700f2664110bd01946ae837"   # packaged MiniLM, frozen, every layer, int8
FOLDS, SEED, HOLDOUT_ROWS = 5, 0, 1150


def colour_statistics(path: Path) -> np.ndarray:
    """``(279,)`` colour, shape and texture statistics of one product photo (white background)."""
    from PIL import Image

    image = Image.open(path).convert("RGB").resize((112, 112), Image.BILINEAR)
    rgb = np.asarray(image, np.float32) / 255.0                       # (112, 112, 3)
    hsv = np.asarray(image.convert("HSV"), np.float32) / 255.0        # (112, 112, 3)
    fg = rgb.min(2) < 0.92                                            # the garment: not near-white
    if fg.sum() < 20:
        fg = np.ones_like(fg)
    ys, xs = np.nonzero(fg)
    box = [xs.min() / 112, xs.max() / 112, ys.min() / 112, ys.max() / 112,
           (xs.max() - xs.min() + 1) / (ys.max() - ys.min() + 1), fg.mean()]
    p, h = rgb[fg], hsv[fg]                                           # (F, 3) each
    stats = np.concatenate([p.mean(0), p.std(0), h.mean(0), h.std(0),
                            np.percentile(h[:, 2], [10, 50, 90]), np.percentile(h[:, 1], [10, 50, 90])])
    hue_sat = np.histogram2d(h[:, 0], h[:, 1], bins=[12, 3], range=[[0, 1], [0, 1]])[0].ravel() / len(h)
    value = np.histogram(h[:, 2], bins=8, range=(0, 1))[0] / len(h)
    grey = rgb.mean(2)
    gx, gy = np.abs(np.diff(grey, axis=1)), np.abs(np.diff(grey, axis=0))
    texture = [gx[fg[:, 1:]].mean(), gy[fg[1:, :]].mean(), np.percentile(gx[fg[:, 1:]], 90)]
    thumb = np.asarray(image.convert("L").resize((12, 12), Image.BILINEAR), np.float32).ravel() / 255.0
    mask = np.asarray(Image.fromarray(fg.astype(np.uint8) * 255).resize((8, 8), Image.BILINEAR),
                      np.float32).ravel() / 255.0
    return np.concatenate([box, stats, hue_sat, value, texture, thumb, mask]).astype(np.float32)


def colours(work: Path) -> np.ndarray:
    """``(rows of train.csv, 279)`` colour statistics of every training photo, cached in ``work``."""
    cache = work / "colour.npy"
    if not cache.exists():
        path = data_file("fashion_mm/train.csv")
        frame = pd.read_csv(path)
        np.save(cache, np.stack([colour_statistics(path.parent / p) for p in frame["image"]]))
    return np.load(cache)


def load(label: str, store: Path | None) -> dict:
    """Training rows with ``label``, its class indices ``y`` (N,), and, given a store, the photo
    features (N, 1280) and the name's MiniLM features (N, 2304)."""
    path = data_file("fashion_mm/train.csv")
    frame = pd.read_csv(path)
    keep = frame[label].notna().to_numpy()
    frame = frame[keep].reset_index(drop=True)
    classes = sorted(frame[label].unique())
    table = {"frame": frame, "y": frame[label].map({c: i for i, c in enumerate(classes)}).to_numpy(),
             "classes": classes, "keep": keep}
    if store is not None:
        from transmodal.data.cell_digest import cell_digest

        images = [cell_digest("image", str(path.parent / p), path.parent) for p in frame["image"]]
        names = [cell_digest("text", t, path.parent) for t in frame["productDisplayName"]]
        table["image"] = _stored(store / IMAGE_KEY, images, missing_ok=False)
        table["minilm"] = _stored(store / MINILM_KEY, names, missing_ok=True)
    return table


def _stored(folder: Path, digests: list[bytes], missing_ok: bool) -> np.ndarray:
    """``(N, D)`` features of ``digests`` from one encoder's shards."""
    from safetensors.numpy import load_file

    found: dict[bytes, np.ndarray] = {}
    for shard in sorted(folder.glob("shard-*.safetensors")):
        tensors = load_file(str(shard))
        found.update({bytes(k): v for k, v in zip(tensors["keys"], tensors["values"])})
    if not found:
        raise SystemExit(f"{folder}: no stored features; pass --store a store that holds them")
    lacking = [i for i, d in enumerate(digests) if d not in found]
    if lacking and not missing_ok:
        raise SystemExit(f"{folder}: {len(lacking)} rows lack stored features (first row {lacking[0]})")
    zero = np.zeros_like(next(iter(found.values())))
    return np.stack([found.get(d, zero) for d in digests]).astype(np.float32)


def _features(table: dict, fit_rows: np.ndarray, name: str):
    """The member's features of every row, their transforms fitted on ``fit_rows`` only."""
    import scipy.sparse as sp
    from sklearn.decomposition import PCA, TruncatedSVD

    from transmodal.ensemble.members.features import Categories, TextTfidf

    if name in COLOUR_MEMBERS:
        return _colour_features(table, fit_rows, name)
    frame = table["frame"]
    year = frame[["year"]].fillna(frame["year"].iloc[fit_rows].mean()).to_numpy(np.float32)  # (N, 1)
    year_z = (year - year[fit_rows].mean()) / year[fit_rows].std()
    categories = Categories(CATEGORIES).fit(frame.iloc[fit_rows])
    if name in ("image_linear", "minilm_linear"):
        x = table["image" if name == "image_linear" else "minilm"]
        return (x - x[fit_rows].mean(0)) / (x[fit_rows].std(0) + 1e-6)
    tfidf = TextTfidf(["productDisplayName"]).fit(frame.iloc[fit_rows]).transform(frame)  # (N, terms)
    if name == "linear":
        return sp.hstack([tfidf, categories.one_hot(frame), sp.csr_matrix(year_z)], format="csr")
    svd = TruncatedSVD(96, random_state=SEED).fit(tfidf[fit_rows]).transform(tfidf)  # (N, 96)
    if name == "mlp":
        image = table["image"]
        image = (image - image[fit_rows].mean(0)) / (image[fit_rows].std(0) + 1e-6)
        svd = svd / (svd[fit_rows].std(0) + 1e-6)
        return np.hstack([image, categories.one_hot(frame).toarray(), year_z, svd]).astype(np.float32)
    parts = [categories.codes(frame), year, svd]
    if name == "lightgbm_image":
        pca = PCA(64, svd_solver="randomized", random_state=SEED).fit(table["image"][fit_rows])
        parts.append(pca.transform(table["image"]))
    return np.hstack(parts).astype(np.float32)


COLOUR_MEMBERS = ("lightgbm_colour", "lightgbm_image_colour", "colour_only", "linear_colour", "mlp_colour",
                  "extratrees")


def _colour_features(table: dict, fit_rows: np.ndarray, name: str):
    """A colour member's features: its base member's plus the photos' colour statistics."""
    import scipy.sparse as sp

    colour = table["colour"]                                          # (N, 279)
    if name in ("linear_colour", "mlp_colour"):
        z = (colour - colour[fit_rows].mean(0)) / (colour[fit_rows].std(0) + 1e-6)
        base = _features(table, fit_rows, name.replace("_colour", ""))
        if name == "linear_colour":
            return sp.hstack([base, sp.csr_matrix(z * 0.3)], format="csr")
        return np.hstack([base, z]).astype(np.float32)
    base = {"lightgbm_colour": "lightgbm", "colour_only": "lightgbm"}.get(name, "lightgbm_image")
    x = _features(table, fit_rows, base)
    if name == "colour_only":
        x = x[:, : len(CATEGORIES) + 1]                               # the codes and the year
    return np.hstack([x, colour])


def _extratrees(x, y, a, b, k):
    from sklearn.ensemble import ExtraTreesClassifier

    model = ExtraTreesClassifier(400, max_features=0.3, n_jobs=1, random_state=0).fit(x[a], y[a])
    out = np.zeros((len(b), k))
    out[:, model.classes_] = model.predict_proba(x[b])
    return out


def _linear(x, y, a, b, k, c):
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=c, max_iter=500).fit(x[a], y[a])
    out = np.zeros((len(b), k))
    out[:, model.classes_] = model.predict_proba(x[b])
    return out


def _lightgbm(x, y, a, b, k):
    """600 rounds at most, early stopping on 15% of the fit rows (as the member on its validation rows)."""
    import lightgbm as lgb

    order = np.random.RandomState(SEED).permutation(a)
    stop, fit = order[: len(a) * 15 // 100], order[len(a) * 15 // 100:]
    params = {"objective": "multiclass", "num_class": k, "learning_rate": 0.05, "num_leaves": 31,
              "min_data_in_leaf": 20, "feature_fraction": 0.8, "seed": SEED, "verbosity": -1, "num_threads": 1}
    codes = list(range(len(CATEGORIES)))
    train = lgb.Dataset(x[fit], y[fit], categorical_feature=codes)
    valid = lgb.Dataset(x[stop], y[stop], categorical_feature=codes, reference=train)
    booster = lgb.train(params, train, 600, valid_sets=[valid], callbacks=[lgb.early_stopping(40, verbose=False)])
    return booster.predict(x[b], num_iteration=booster.best_iteration)


def _mlp(x, y, a, b, k, epochs=25):
    import torch

    torch.manual_seed(SEED)
    xt, yt = torch.tensor(x), torch.tensor(y)
    net = torch.nn.Sequential(torch.nn.Dropout(0.2), torch.nn.Linear(x.shape[1], 256), torch.nn.GELU(),
                              torch.nn.Dropout(0.3), torch.nn.Linear(256, k))
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3, weight_decay=1e-2)
    steps = epochs * ((len(a) + 127) // 128)
    schedule = torch.optim.lr_scheduler.OneCycleLR(opt, 1e-3, total_steps=steps)
    rows = torch.tensor(a)
    for _ in range(epochs):
        net.train()
        shuffled = rows[torch.randperm(len(rows))]
        for i in range(0, len(shuffled), 128):
            batch = shuffled[i:i + 128]
            loss = torch.nn.functional.cross_entropy(net(xt[batch]), yt[batch])  # logits (B, K)
            opt.zero_grad()
            loss.backward()
            opt.step()
            schedule.step()
    net.eval()
    with torch.no_grad():
        return torch.softmax(net(xt[torch.tensor(b)]), 1).numpy()


def member_oof(table: dict, name: str) -> np.ndarray:
    """``(N, K)`` out-of-fold class probabilities of one member over every training row."""
    from sklearn.model_selection import StratifiedKFold

    y, k = table["y"], len(table["classes"])
    out = np.zeros((len(y), k))
    for a, b in StratifiedKFold(FOLDS, shuffle=True, random_state=SEED).split(np.zeros(len(y)), y):
        x = _features(table, a, name)
        if name in ("lightgbm", "lightgbm_image", "lightgbm_colour", "lightgbm_image_colour", "colour_only"):
            out[b] = _lightgbm(x, y, a, b, k)
        elif name == "extratrees":
            out[b] = _extratrees(x, y, a, b, k)
        elif name in ("mlp", "mlp_colour"):
            out[b] = _mlp(x, y, a, b, k)
        else:
            out[b] = _linear(x, y, a, b, k, {"linear": 4.0, "linear_colour": 4.0, "image_linear": 0.01,
                                             "minilm_linear": 0.002}[name])
    return out


def combine(oof: dict[str, np.ndarray], y: np.ndarray, selection_rows: int | None) -> dict[str, list[float]]:
    """Per outer fold accuracy of each way of combining ``oof``, fitted on the other folds' rows
    (all of them, or a random ``selection_rows`` of them)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold

    from transmodal.ensemble.selection import blend_scores, greedy_weights

    names, probs = list(oof), list(oof.values())
    logs = np.hstack([np.log(np.clip(p, 1e-7, 1.0)) for p in probs])  # (N, members * K)
    rng = np.random.RandomState(SEED)
    out: dict[str, list[float]] = {}

    def acc(p, rows):
        return float((p.argmax(1) == y[rows]).mean())

    for a, b in StratifiedKFold(FOLDS, shuffle=True, random_state=SEED + 1).split(np.zeros(len(y)), y):
        if selection_rows:
            a = rng.choice(a, selection_rows, replace=False)
        row = {f"member {n}": acc(p[b], b) for n, p in zip(names, probs)}
        row["best member on the fold"] = max(row.values())
        row["member picked on the selection rows"] = row[f"member {names[int(np.argmax([acc(p[a], a) for p in probs]))]}"]
        for blend in ("mean", "geometric"):
            weights, _ = greedy_weights([p[a] for p in probs], lambda q: acc(q, a), rounds=60, blend=blend)
            row[f"greedy {blend}"] = acc(blend_scores([p[b] for p in probs], weights, blend), b)
        stacker = LogisticRegression(C=0.1, max_iter=2000).fit(logs[a], y[a])
        row["stacker (logistic regression on log-probabilities)"] = float((stacker.predict(logs[b]) == y[b]).mean())
        for key, value in row.items():
            out.setdefault(key, []).append(value)
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("phase", choices=["members", "ensembles"])
    parser.add_argument("--label", required=True, choices=["season", "usage"])
    parser.add_argument("--work", required=True, help="folder of the members' OOF predictions")
    parser.add_argument("--store", default=None, help="embedding store with the photos' and names' frozen features")
    parser.add_argument("--members", default="linear,lightgbm,lightgbm_image,mlp,image_linear,minilm_linear")
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    work, names = Path(args.work), args.members.split(",")
    work.mkdir(parents=True, exist_ok=True)
    table = load(args.label, Path(args.store) if args.store else None)
    if args.phase == "members":
        if any(n in COLOUR_MEMBERS for n in names):
            table["colour"] = colours(work)[table["keep"]]
        for name in names:
            start = time.monotonic()
            oof = member_oof(table, name)
            np.save(work / f"{args.label}-{name}.npy", oof)
            print(f"{args.label} {name}: OOF accuracy {(oof.argmax(1) == table['y']).mean():.4f} "
                  f"({time.monotonic() - start:.0f} s)", flush=True)
        return
    oof = {n: np.load(work / f"{args.label}-{n}.npy") for n in names}
    result = {"machine": machine(), "load_average": os.getloadavg(), "label": args.label, "rows": len(table["y"]), "folds": FOLDS,
              "members": names, "oof_accuracy": {n: float((p.argmax(1) == table["y"]).mean()) for n, p in oof.items()}}
    for key, rows in (("selection_on_every_oof_row", None), ("selection_on_1150_rows", HOLDOUT_ROWS)):
        per_fold = combine(oof, table["y"], rows)
        result[key] = {k: {"mean": float(np.mean(v)), "folds": v} for k, v in per_fold.items()}
        bar = np.mean(per_fold["best member on the fold"])
        for method, values in per_fold.items():
            print(f"{key:28s} {method:52s} {np.mean(values):.4f} ({100 * (np.mean(values) - bar):+.2f} points)")
    print(save_json(args.out or f"issue-16-fashion-mm-{args.label}-stacking-cv", result))


if __name__ == "__main__":
    main()
