"""``neural``: the fusion network (a :class:`~transmodal.predictor.MultimodalPredictor`) fitted with
the member's ``hyperparameters`` (any :class:`~transmodal.config.FitConfig`: frozen pretrained
encoders, whose features the embedding store keeps on disk across fits, or LoRA adapters).

Options: ``hyperparameters`` (the fit config), ``lora_text`` (``true``: limit ``transfer.inputs`` to
the text columns, so LoRA goes into every text encoder and nothing else; ``longest``: into the text
column with the most characters per row only, the others stay frozen and cached; with the
hyperparameter ``join_text`` the text inputs are the joined ones: ``lora_text: true`` with
``join_text: all`` puts LoRA into one encoder reading every text column as one sequence;
``joined``: into the joined input only, e.g. ``join_text: short`` joins the short text columns
and leaves the longest one frozen and cached; the member is skipped when nothing is joined), ``fit_share``
(the share of the member's time given to the predictor's fit as its ``time_limit``; the rest is for
reading the rows and building the network), ``encoding_share`` (the up-front encoding of frozen
inputs must end within this share of the member's time, or the member stops at once rather than
overrun it: :func:`transmodal.engine.encoding.encoding_deadline`), ``only_without_text`` (skipped
on a table with a text column; the presets now say when a member runs with the plan's
``only_with`` modalities instead, :class:`~transmodal.ensemble.presets.MemberPlan`). Each fold model trains on its
training rows with its validation rows as tuning data (early stopping), within the member's time;
the scores of those rows are the ones of the kept epoch's validation pass (not predicted again).

Saved: each fold predictor's saved config (the model spec, JSON) and its saved weights (tensors in
the ensemble's safetensors file); frozen pretrained weights stay by reference, their digests in
the manifest, exactly as a predictor folder keeps them.
"""

from __future__ import annotations

import copy
import importlib
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from transmodal.ensemble.members.base import MEMBERS, Member, MemberContext, MemberFiles, NoFeatures


@MEMBERS.register("neural")
class NeuralMember(Member):
    """A MultimodalPredictor per fold (one on a holdout split)."""

    kind = "neural"
    OPTIONS = {"hyperparameters": {}, "lora_text": False, "fit_share": 0.9, "encoding_share": 0.75,
               "only_without_text": False}

    def _hyperparameters(self, frame: pd.DataFrame) -> dict[str, Any]:
        hp = copy.deepcopy(self.options["hyperparameters"])
        if self.options["lora_text"]:
            text = text_inputs(self.context.column_types, hp.get("join_text"), frame)
            if self.options["lora_text"] == "longest":
                text = {name: columns for name, columns in text.items()
                        if name == longest_text_input(frame, text)}
            elif self.options["lora_text"] == "joined":
                text = {name: columns for name, columns in text.items() if len(columns) > 1}
            hp.setdefault("transfer", {"strategy": "lora", "r": 8})["inputs"] = list(text)
        return hp

    @classmethod
    def skip_reason(cls, context: MemberContext, options: dict[str, Any]) -> str | None:
        """``lora_text`` on a table without text columns (an empty ``transfer.inputs`` would put
        adapters into every other encoder instead); ``only_without_text`` on a table with one."""
        if options.get("lora_text") and not context.columns("text"):
            return "skipped: lora_text, and the table has no text column to adapt"
        if options.get("only_without_text") and context.columns("text"):
            return "skipped: only_without_text, and the table has text columns (the LoRA member reads them)"
        return None

    def prepare(self, frame: pd.DataFrame) -> None:
        """Import the fit's heavy libraries now, so that the first fold's time is training time.

        Raises:
            NoFeatures: see :meth:`skip_reason`.
        """
        reason = self.skip_reason(self.context, self.options)
        if reason:
            raise NoFeatures(reason)
        if self.options["lora_text"] == "joined" and not self._hyperparameters(frame)["transfer"]["inputs"]:
            raise NoFeatures("skipped: lora_text joined, and join_text joins no text columns of this table")
        for module in ("transmodal.engine.training", "transmodal.fitting.pipeline"):  # torch, Lightning
            importlib.import_module(module)

    def fit_model(self, x_train: pd.DataFrame, y_train, x_val: pd.DataFrame, y_val, time_limit):
        """Raises:
            EncodingTimeUp: the frozen inputs' encoding would not end within ``encoding_share`` of
                ``time_limit`` (a :class:`TimeoutError`: the member is stopped, the fit goes on).
        """
        import time

        from transmodal.engine.encoding import encoding_deadline
        from transmodal.predictor import MultimodalPredictor

        ctx = self.context
        predictor = MultimodalPredictor(ctx.label, problem_type=ctx.task.problem_type, eval_metric=ctx.eval_metric,
                                        allowed_root=ctx.allowed_root)
        deadline = time.monotonic() + time_limit * self.options["encoding_share"] if time_limit else None
        with encoding_deadline(deadline):
            return predictor.fit(x_train, tuning_data=x_val, column_types=dict(ctx.column_types),
                                 hyperparameters=self._hyperparameters(x_train), seed=ctx.seed,
                                 time_limit=max(time_limit * self.options["fit_share"], 1.0) if time_limit else None,
                                 report=False)  # no report passes over the tuning rows: the ensemble never reads them

    def validation_scores(self, predictor, x: pd.DataFrame) -> np.ndarray:
        """The kept epoch's scores of the tuning rows from its fit, when it kept one per row of ``x``
        (else they are predicted)."""
        task = self.context.task
        kept = (getattr(predictor, "tuning_scores_", None) or {}).get(task.name)
        if kept is None or len(kept) != len(x):
            return self.model_scores(predictor, x)
        if task.problem_type == "regression":
            return self._ensemble_space(np.asarray(kept).reshape(-1))
        classes = next(t.classes for t in predictor.tasks_ if t.name == task.name)
        return self._ensemble_space(pd.DataFrame(np.asarray(kept, dtype=np.float64), columns=classes))

    def model_scores(self, predictor, x: pd.DataFrame) -> np.ndarray:
        task = self.context.task
        frame = x.drop(columns=[task.name], errors="ignore")
        if task.problem_type == "regression":
            return self._ensemble_space(predictor.predict(frame))
        return self._ensemble_space(predictor.predict_proba(frame))

    def _ensemble_space(self, outputs) -> np.ndarray:
        """A fold predictor's outputs in the ensemble's space: regression values standardised
        ``(N,)``; class probabilities (a frame with a column per class) in the task's class order,
        0 for a class the fold never saw ``(N, C)``."""
        task = self.context.task
        if task.problem_type == "regression":
            return (np.asarray(outputs, dtype=np.float64) - task.target_mean) / task.target_std
        return outputs.reindex(columns=task.classes, fill_value=0.0).to_numpy(dtype=np.float64)  # (N, C)

    def save(self) -> MemberFiles:
        from transmodal.ensemble.members.predictors import add_predictor

        files = MemberFiles(meta={"folds": []})
        for i, predictor in enumerate(self.models):
            files.meta["folds"].append(add_predictor(files, predictor, f"fold{i}/"))
        return files

    @classmethod
    def load(cls, context: MemberContext, options: dict[str, Any], files: MemberFiles, path: Path | None = None,
             trust_remote_code: bool = False, allowed_root: str | Path | None = None, **_: Any) -> "NeuralMember":
        from transmodal.ensemble.members.predictors import read_predictor

        self = cls(context, options)
        self.models = [read_predictor(files, saved, f"fold{i}/", path, trust_remote_code, allowed_root)
                       for i, saved in enumerate(files.meta["folds"])]
        return self


def text_inputs(column_types: dict[str, str], join_text, frame: pd.DataFrame) -> dict[str, list[str]]:
    """The text inputs a fit with ``join_text`` (the member's hyperparameter) builds: input name ->
    its columns (a joined input reads several: :mod:`transmodal.data.joined_text`).

    Raises:
        ConfigError: ``join_text`` is not of a valid form (checked as the fit config checks it), or
            names a column that is not a text column of the table.
    """
    from transmodal.config import FitConfig
    from transmodal.data.joined_text import joined_columns
    from transmodal.data.schema import build_inputs

    join = FitConfig(join_text=join_text).join_text  # the form, before the predictor's fit builds its config
    inputs = build_inputs(column_types, joined_columns(join, column_types, frame))
    return {spec.name: list(spec.columns) for spec in inputs if spec.modality == "text"}


def longest_text_input(frame: pd.DataFrame, inputs: dict[str, list[str]]) -> str:
    """The text input with the most characters per row in ``frame`` (the one worth adapting when only
    one is; a joined input: the sum of its columns'; ties: the first)."""
    from transmodal.data.joined_text import characters_per_row

    names = list(inputs)
    return names[int(np.argmax([characters_per_row(frame, inputs[n]) for n in names]))]
