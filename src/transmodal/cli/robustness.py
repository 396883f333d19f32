"""``transmodal robustness`` and ``transmodal importance``: noise curves and modality contributions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import List, Optional

import typer

from transmodal.cli.app import app


def parse_levels(text: str) -> list[float]:
    """``"0,0.1,0.5"`` -> ``[0.0, 0.1, 0.5]``; ``"0:1:0.1"`` -> 0 to 1 in steps of 0.1."""
    from transmodal.errors import ConfigError

    try:
        if ":" in text:
            start, stop, step = (float(x) for x in text.split(":"))
            count = int(round((stop - start) / step)) + 1
            return [round(start + i * step, 10) for i in range(count)]
        return [float(x) for x in text.split(",") if x.strip()]
    except ValueError as err:
        raise ConfigError(f"--levels expects '0,0.1,...' or 'start:stop:step', got {text!r}") from err


@app.command()
def robustness(
    model: Path = typer.Argument(..., help="Model folder."),
    table: Path = typer.Argument(..., help="Labelled table."),
    modality: List[str] = typer.Option([], "--modality", "-m", help="Input to corrupt (repeat); all when omitted."),
    kind: str = typer.Option("gaussian", "--kind", help="gaussian, dropout, missing, or a modality's own noise."),
    levels: str = typer.Option("0:1:0.1", "--levels", help="Noise levels: '0,0.1,0.5' or 'start:stop:step'."),
    reference: Optional[Path] = typer.Option(None, "--reference", help="Late-fusion model folder, for effective robustness."),
    seed: int = typer.Option(0, "--seed", help="Seed of the noise."),
    as_json: bool = typer.Option(False, "--json", help="Print the curves as JSON."),
) -> None:
    """The eval metric of MODEL on TABLE as test-time noise on each input grows."""
    from transmodal.experiments.robustness import robustness_curves
    from transmodal.predictor import MultimodalPredictor

    predictor = MultimodalPredictor.load(model)
    names = list(modality) or None
    noise = parse_levels(levels)
    late = robustness_curves(MultimodalPredictor.load(reference), str(table), names, noise, kind, seed) \
        if reference else None
    curves = robustness_curves(predictor, str(table), names, noise, kind, seed, reference=late)
    if as_json:
        typer.echo(json.dumps(curves, indent=2))
        return
    for name, curve in curves.items():
        typer.echo(f"{name} ({curve['kind']} noise, {curve['metric']}):")
        for level, score in zip(curve["levels"], curve["scores"]):
            typer.echo(f"  {level:>5.2f}  {score:.4f}")
        effective = curve["effective_robustness"]
        typer.echo(f"  relative robustness  {curve['relative_robustness']:.4f}")
        typer.echo(f"  effective robustness {'n/a (give --reference)' if effective is None else f'{effective:.4f}'}")


@app.command()
def importance(
    model: Path = typer.Argument(..., help="Model folder."),
    table: Path = typer.Argument(..., help="Labelled table."),
    repeats: int = typer.Option(3, "--repeats", help="Permutations per input."),
    seed: int = typer.Option(0, "--seed", help="Seed of the permutations."),
    as_json: bool = typer.Option(False, "--json", help="Print as JSON."),
) -> None:
    """How much the eval metric drops when each input is removed (mask) or shuffled (permutation)."""
    from transmodal.experiments.importance import modality_importance
    from transmodal.predictor import MultimodalPredictor

    predictor = MultimodalPredictor.load(model)
    result = {method: modality_importance(predictor, str(table), method, repeats, seed)
              for method in ("mask", "permutation")}
    if as_json:
        typer.echo(json.dumps(result, indent=2))
        return
    typer.echo(f"drop of {predictor.eval_metric_} (higher = the input matters more)")
    typer.echo(f"{'input':<24}{'mask':>10}{'permutation':>13}")
    for name in sorted(result["mask"], key=lambda n: -result["mask"][n]):
        typer.echo(f"{name:<24}{result['mask'][name]:>10.4f}{result['permutation'][name]:>13.4f}")
