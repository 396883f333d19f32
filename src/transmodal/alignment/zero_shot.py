"""Zero-shot classification with an aligned model (the CLIP recipe).

Each class name is written into every template ("an emoji of {}"), embedded by the class tower,
the template embeddings are averaged and renormalised; a row's class scores are the scaled cosine
similarities of its embedding with the class embeddings, turned into probabilities by a softmax
(CLIP, CLAP), or, for a model trained with the sigmoid loss (SigLIP), one sigmoid per class of the
scaled similarity plus the learned bias, as SigLIP scores them.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from transmodal.errors import ConfigError

DEFAULT_TEMPLATES = ("{}",)


def class_embeddings(tower, class_names: Sequence[str], templates: Sequence[str],
                     descriptions: Mapping[str, Sequence[str]] | None = None) -> torch.Tensor:
    """(K, D) unit class embeddings: the mean of the embedded prompts, renormalised.

    Args:
        tower: The tower that embeds the prompts.
        class_names: The classes, in output order.
        templates: Prompts with ``{}``; every one is filled with every text of the class.
        descriptions: ``{class: [text, ...]}``: texts that describe a class in place of its name
            (e.g. its subgroups or keywords); a class not listed is described by its name.
    """
    from transmodal.alignment.towers import embed_items

    for template in templates:
        if "{}" not in template:
            raise ConfigError(f"template {template!r} has no '{{}}' for the class name")
    texts = {name: list((descriptions or {}).get(name) or [name]) for name in class_names}
    prompts = [template.format(text) for name in class_names for text in texts[name] for template in templates]
    embedded = embed_items(tower, prompts)  # (P, D) unit prompts
    sizes = [len(texts[name]) * len(templates) for name in class_names]
    means = torch.stack([chunk.mean(dim=0) for chunk in torch.split(embedded, sizes)])  # (K, D)
    return F.normalize(means, dim=-1)


def zero_shot_scores(row_embeddings: np.ndarray, classes: torch.Tensor, logit_scale: float,
                     logit_bias: float | None = None) -> np.ndarray:
    """Class probabilities (N, K) from unit row embeddings (N, D) and class embeddings (K, D): a
    softmax over the scaled similarities, or independent sigmoids when ``logit_bias`` is given."""
    logits = logit_scale * torch.as_tensor(row_embeddings) @ classes.t()  # (N, K)
    if logit_bias is not None:
        return torch.sigmoid(logits + logit_bias).numpy()
    return torch.softmax(logits, dim=-1).numpy()


def other_text_column(model, column: str, class_column: str | None) -> str:
    """The column whose tower embeds the class prompts: ``class_column``, or the only other column,
    or the only other text column."""
    if class_column is not None:
        if class_column not in model.columns or class_column == column:
            raise ConfigError(f"class_column must be another aligned column, got {class_column!r}")
        return class_column
    others = [c for c in model.columns if c != column]
    texts = [c for c in others if model.column_types_[c] == "text"]
    if len(others) == 1:
        return others[0]
    if len(texts) == 1:
        return texts[0]
    raise ConfigError(f"several columns could embed the class names ({others}); pass class_column")


def zero_shot_frame(model, table, column: str, class_names: Sequence[str], templates: Sequence[str] | None,
                    class_column: str | None = None,
                    descriptions: Mapping[str, Sequence[str]] | None = None) -> pd.DataFrame:
    """``prediction`` plus one probability column per class for every row of ``table``."""
    class_names = [str(c) for c in class_names]
    if len(class_names) < 2 or len(set(class_names)) != len(class_names):
        raise ConfigError(f"zero-shot needs at least two distinct class names, got {class_names}")
    tower = model.tower(other_text_column(model, column, class_column))
    classes = class_embeddings(tower, class_names, list(templates or DEFAULT_TEMPLATES), descriptions)
    rows = model.encode(table, column)
    probabilities = zero_shot_scores(np.nan_to_num(rows), classes, model.logit_scale_, model.logit_bias_)
    frame = pd.DataFrame(probabilities, columns=class_names)
    missing = np.isnan(rows).any(axis=1)
    frame.loc[missing, class_names] = np.nan
    prediction = np.asarray(class_names, dtype=object)[probabilities.argmax(axis=1)]
    prediction[missing] = None
    frame.insert(0, "prediction", prediction)
    return frame
