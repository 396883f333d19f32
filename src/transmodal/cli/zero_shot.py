"""``transmodal zero-shot``: classify a column with no labelled rows, from an aligned model folder or
a pretrained CLIP, SigLIP or CLAP checkpoint, and optionally save the result as a predictor."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from transmodal.cli.align import split_items
from transmodal.cli.app import app

TABLE_SUFFIXES = (".csv", ".tsv", ".txt")
PROMPT_COLUMN = "prompt"  # the text column a pretrained checkpoint's text tower is mapped onto


def aligned_model(model_or_id: str, column: str):
    """An alignment model folder, or a pretrained checkpoint (folder or cached id) mapped onto
    ``(column, "prompt")``."""
    from transmodal.alignment.model import AlignmentModel, is_alignment_folder

    if is_alignment_folder(model_or_id):
        return AlignmentModel.load(model_or_id)
    prompt = PROMPT_COLUMN if column != PROMPT_COLUMN else f"{PROMPT_COLUMN}_text"
    return AlignmentModel.from_pretrained(model_or_id, columns=(column, prompt))


@app.command("zero-shot")
def zero_shot(
    model: str = typer.Argument(..., help="Aligned model folder, or a CLIP/SigLIP/CLAP checkpoint folder or cached id."),
    table: Path = typer.Argument(..., help="Rows to classify."),
    column: str = typer.Option(..., "--column", help="The column to classify (image, audio or text)."),
    classes: str = typer.Option(..., "--classes", help="Class names, comma-separated."),
    template: List[str] = typer.Option([], "--template", help='Prompt with {} for the class, e.g. "a photo of {}"; '
                                                            "repeat for an ensemble."),
    label: str = typer.Option("label", "--label", help="Label column name of the saved predictor."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="A .csv file: write predictions and probabilities "
                                                                 "there; any other path: save the zero-shot "
                                                                 "predictor in that folder."),
) -> None:
    """Classify TABLE's --column among --classes with no labelled examples.

    Without --out the predictions and probabilities are printed as CSV. With --out DIR the
    zero-shot predictor is saved there: `transmodal predict DIR new.csv` and `evaluate` use it, and
    in Python `MultimodalPredictor.load(DIR).fit(few_rows)` fine-tunes it from its zero-shot head.
    """
    from transmodal.predictor import MultimodalPredictor

    names, templates = split_items(classes, "--classes"), template or None
    aligned = aligned_model(model, column)
    frame = aligned.zero_shot(str(table), column, names, templates)
    if out is not None and out.suffix.lower() not in TABLE_SUFFIXES:
        predictor = MultimodalPredictor.from_zero_shot(aligned, column=column, classes=names, templates=templates,
                                                       label=label)
        predictor.save(out)
        typer.echo(frame.to_csv(index=False), nl=False)
        typer.echo(f"saved a zero-shot predictor of {label!r} over {column!r} ({len(names)} classes) to {out}", err=True)
    elif out is not None:
        frame.to_csv(out, index=False)
        typer.echo(f"wrote {len(frame)} predictions to {out}")
    else:
        typer.echo(frame.to_csv(index=False), nl=False)
