"""A predictor network whose head is the class names' text embeddings: zero-shot as a predictor.

``MultimodalPredictor.from_zero_shot(aligned, column=..., classes=[...], templates=[...])`` calls
:func:`zero_shot_network`: the network is the aligned model's tower of ``column`` (its encoder, with
the same settings and weights), the ``aligned`` fusion holding the tower's projection (identity for
a pretrained CLIP/SigLIP/CLAP model) and normalising, and one task head whose weight rows are the
classes' prompt embeddings (averaged over the templates, as :func:`~transmodal.alignment.zero_shot.class_embeddings`
makes them) times the model's logit scale, with SigLIP's logit bias as the head's bias (0 otherwise).
Its logits are therefore the model's own zero-shot logits; ``predict_proba`` is their softmax (for a
SigLIP model that is the softmax of the sigmoid model's logits: the same ranking, probabilities
summing to 1). Everything else is a normal predictor: it saves, loads, and ``fit`` on labelled rows
starts from this head (zero-shot -> few-shot).
"""

from __future__ import annotations

from typing import Any, Sequence

import torch

from transmodal.errors import ConfigError


def zero_shot_network(aligned, column: str, classes: Sequence[str], templates: Sequence[str] | None,
                      label: str, class_column: str | None = None,
                      descriptions: dict[str, Sequence[str]] | None = None) -> tuple[Any, Any, Any, dict[str, Any]]:
    """``(spec, config, net, history)`` of a zero-shot predictor of ``label`` (see the module docstring).

    Args:
        aligned: A fitted or pretrained :class:`~transmodal.alignment.model.AlignmentModel`.
        column: The aligned column the predictor reads.
        classes: Class names (sorted in the predictor's output order, as a fit would order them).
        templates: Prompts with ``{}``; several are averaged (default ``"{}"``).
        label: The label column name (used by ``evaluate`` and a few-shot ``fit``).
        class_column: The column whose tower embeds the class prompts (default: the other text column).
        descriptions: ``{class: [text, ...]}`` describing classes in place of their names.

    Raises:
        ConfigError: fewer than two distinct classes, a template without ``{}``, or an unknown column.
    """
    from transmodal.alignment.zero_shot import DEFAULT_TEMPLATES, class_embeddings, other_text_column
    from transmodal.build import build_net
    from transmodal.config import FitConfig
    from transmodal.data.schema import InputSpec
    from transmodal.fusion.base import module_key
    from transmodal.heads.task import TaskSpec
    from transmodal.saved.spec import Architecture, ModelSpec

    names = sorted({str(c) for c in classes})
    if len(names) < 2 or len(names) != len(list(classes)):
        raise ConfigError(f"a zero-shot predictor needs at least two distinct class names, got {list(classes)}")
    if label == column:
        raise ConfigError(f"the label {label!r} cannot be the column the predictor reads")
    templates = list(templates or DEFAULT_TEMPLATES)
    tower = aligned.tower(column)
    prompts_tower = aligned.tower(other_text_column(aligned, column, class_column))
    descriptions = {str(k): [str(t) for t in v] for k, v in (descriptions or {}).items()}
    weights = class_embeddings(prompts_tower, names, templates, descriptions)  # (K, D)
    modality = aligned.column_types_[column]
    adapters = {column: dict(aligned.adapters_[column])} if column in getattr(aligned, "adapters_", {}) else {}
    spec = ModelSpec(column_types={column: modality}, inputs=[InputSpec(column, modality, [column])],
                     tasks=[TaskSpec(label, "binary" if len(names) == 2 else "multiclass", names)],
                     encoders={column: dict(aligned.encoder_settings_[column])},
                     architecture=Architecture("aligned", {"projection": tower.kind,
                                                           "projection_dropout": float(aligned.config_.dropout)},
                                               int(tower.embed_dim)),
                     eval_metric="accuracy", adapters=adapters)
    config = FitConfig.from_dict({"fusion": "aligned", "hidden_dim": int(tower.embed_dim)})
    net = build_net(spec, config)
    if adapters:
        from transmodal.encoders.adapters import inject

        inject(net.encoder(column), adapters[column])
    net.encoder(column).load_state_dict(tower.encoder.state_dict())
    net.fusion.projection(column).load_state_dict(tower.projection.state_dict())
    bias = aligned.logit_bias_
    head = net.heads[module_key(label)].linear
    with torch.no_grad():
        head.weight.copy_(aligned.logit_scale_ * weights)  # (K, D): scaled cosine similarities
        head.bias.fill_(0.0 if bias is None else bias)
    net.eval()
    history = {"zero_shot": {"column": column, "classes": names, "templates": templates, "descriptions": descriptions,
                             "class_column": class_column, "logit_scale": aligned.logit_scale_, "logit_bias": bias,
                             "aligned": getattr(aligned, "pretrained_", None) or {"columns": list(aligned.columns)}}}
    return spec, config, net, history


def few_shot_tables(predictor, train, tune):
    """The labelled tables of a few-shot fit from a zero-shot predictor, reduced to its column and
    label (other columns would become new inputs the zero-shot network has no place for).

    Raises:
        DataError: a table lacks the column or the label.
    """
    from transmodal.data.readers import Table
    from transmodal.errors import DataError

    keep = [*predictor.column_types_, *predictor.labels]

    def reduce(table):
        if table is None:
            return None
        missing = [c for c in keep if c not in table.frame.columns]
        if missing:
            raise DataError(f"{table.source}: a few-shot fit from this zero-shot predictor needs the column(s) {missing}")
        return Table(table.frame[keep], table.source, table.base_dir)

    return reduce(train), reduce(tune)
