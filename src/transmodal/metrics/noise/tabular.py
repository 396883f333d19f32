"""Tabular noises on ``numeric`` (B, N), standardised: gaussian noise and value dropout."""

from __future__ import annotations

from transmodal.metrics.noise.base import normal, register_noise, uniform


@register_noise("tabular", "gaussian")
def gaussian(inputs, level, generator):
    """Gaussian noise of standard deviation `level` on the standardised numeric values."""
    numeric = inputs["numeric"]
    return {**inputs, "numeric": numeric + normal(tuple(numeric.shape), generator).to(numeric) * level}


@register_noise("tabular", "dropout")
def dropout(inputs, level, generator):
    """Mark a fraction `level` of the numeric and categorical values missing."""
    out = dict(inputs)
    if "numeric" in inputs and inputs["numeric"].numel():
        numeric = inputs["numeric"]
        drop = (uniform(tuple(numeric.shape), generator) < level).to(numeric.device)
        out["numeric"] = numeric.masked_fill(drop, 0.0)
        if "numeric_missing" in inputs:
            out["numeric_missing"] = inputs["numeric_missing"].masked_fill(drop, 1.0)
    if "categorical" in inputs and inputs["categorical"].numel():
        categorical = inputs["categorical"]
        drop = (uniform(tuple(categorical.shape), generator) < level).to(categorical.device)
        out["categorical"] = categorical.masked_fill(drop, 0)
    return out
