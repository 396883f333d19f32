"""Report plots as base64 PNG strings (matplotlib, no display needed)."""

from __future__ import annotations

import base64
import io
from typing import Any


def _figure(width: float = 5.0, height: float = 3.6):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=(width, height), dpi=100)


def _encode(fig) -> str:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def training_curves(epochs: list[dict[str, Any]]) -> str | None:
    """Train loss and every validation metric per epoch."""
    if not epochs:
        return None
    fig, ax = _figure(6.0)
    x = [e["epoch"] for e in epochs]
    ax.plot(x, [e.get("train_loss") for e in epochs], marker="o", label="train loss")
    ax.set_xlabel("epoch")
    ax.set_ylabel("train loss")
    right = ax.twinx()
    for key in sorted(k for k in epochs[-1] if k.startswith("val/") or k == "val_score"):
        right.plot(x, [e.get(key) for e in epochs], marker=".", linestyle="--", label=key)
    right.set_ylabel("validation")
    lines = ax.get_legend_handles_labels()
    more = right.get_legend_handles_labels()
    ax.legend(lines[0] + more[0], lines[1] + more[1], fontsize=7, loc="best")
    ax.set_title("Training curves")
    return _encode(fig)


def confusion(matrix: list[list[int]], classes: list[str], title: str) -> str:
    """A confusion matrix heat map with counts."""
    import numpy as np

    values = np.asarray(matrix)
    size = max(3.5, 0.45 * len(classes) + 2)
    fig, ax = _figure(size, size)
    ax.imshow(values, cmap="Blues")
    ax.set_xticks(range(len(classes)), classes, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(len(classes)), classes, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    if len(classes) <= 30:
        for i in range(len(classes)):
            for j in range(len(classes)):
                ax.text(j, i, int(values[i, j]), ha="center", va="center", fontsize=7,
                        color="white" if values[i, j] > values.max() / 2 else "black")
    ax.set_title(title)
    return _encode(fig)


def residuals(y_true: list[float], y_pred: list[float], title: str) -> str:
    """Residuals against predictions."""
    import numpy as np

    fig, ax = _figure()
    pred = np.asarray(y_pred)
    ax.scatter(pred, np.asarray(y_true) - pred, s=6, alpha=0.6)
    ax.axhline(0, color="grey", linewidth=1)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true - predicted")
    ax.set_title(title)
    return _encode(fig)


def bars(values: dict[str, float], title: str, xlabel: str) -> str:
    """Horizontal bars, largest first."""
    items = sorted(values.items(), key=lambda kv: kv[1])
    fig, ax = _figure(5.0, max(2.0, 0.4 * len(items) + 1))
    ax.barh([k for k, _ in items], [v for _, v in items])
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    return _encode(fig)


def trial_scores(trials: list[dict[str, Any]], title: str = "Tuning score per trial") -> str | None:
    """Each trial's tuning score by trial number: complete trials, pruned ones at the last score they
    reported, failed ones as ticks at the bottom, and the best score so far."""
    complete = [t for t in trials if t.get("state") == "complete" and t.get("score") is not None]
    if not complete:
        return None
    fig, ax = _figure(6.0)
    ax.scatter([t["number"] for t in complete], [t["score"] for t in complete], s=18, label="complete")
    pruned = [t for t in trials if t.get("state") == "pruned" and t.get("last_reported") is not None]
    if pruned:
        ax.scatter([t["number"] for t in pruned], [t["last_reported"] for t in pruned], marker="x", s=22,
                   label="pruned (last reported)")
    best, xs, ys = float("-inf"), [], []
    for t in sorted(complete, key=lambda t: t["number"]):
        best = max(best, t["score"])
        xs.append(t["number"])
        ys.append(best)
    ax.step(xs, ys, where="post", color="black", linewidth=1, label="best so far")
    failed = [t["number"] for t in trials if t.get("state") == "fail"]
    if failed:
        low = min([t["score"] for t in complete] + [t["last_reported"] for t in pruned])
        ax.scatter(failed, [low] * len(failed), marker="v", s=22, label="failed")
    ax.set_xlabel("trial")
    ax.set_ylabel("tuning score")
    ax.legend(fontsize=7, loc="best")
    ax.set_title(title)
    return _encode(fig)
