"""``AlignmentModel``: towers trained into a shared embedding space, saved as a model folder
(:mod:`transmodal.alignment.folder`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from transmodal.alignment.config import AlignConfig
from transmodal.alignment.folder import is_alignment_folder
from transmodal.data.readers import Table, read_table
from transmodal.data.schema import InputSpec
from transmodal.errors import ConfigError, DataError, NotFittedError

__all__ = ["AlignmentModel", "is_alignment_folder"]  # is_alignment_folder lives in alignment.folder


class AlignmentModel:
    """One tower per column, trained so that a row's cells land close together in a shared space.

    Args:
        columns: The columns to align (two for image-text; more for self-supervised pretraining,
            where the loss covers every pair).
        encoders: Per column or modality encoder choices (as ``hyperparameters["encoders"]``).
        lock: Columns whose towers keep their pretrained weights (LiT): the encoder is frozen and
            the shared space is its own feature space.
        loss: ``infonce`` (symmetric, learnable clamped temperature) or ``siglip``.
        hyperparameters: An :class:`AlignConfig` as a dict.
        column_types: ``{column: modality}`` overrides of the inferred modalities.
        allowed_root: When set, file paths outside this folder are refused.

    Example:
        >>> model = AlignmentModel(columns=("image", "name"), lock=("name",)).fit("emoji.csv")
        >>> model.zero_shot("test.csv", "image", ["animal", "food"], ["an emoji of {}"])
    """

    def __init__(self, columns: Sequence[str], encoders: dict[str, Any] | None = None, lock: Sequence[str] = (),
                 loss: str = "infonce", hyperparameters: dict[str, Any] | None = None,
                 column_types: dict[str, str] | None = None, allowed_root: str | Path | None = None) -> None:
        self.columns = tuple(columns)
        self.encoders = encoders
        self.lock = tuple(lock)
        self.loss = loss
        self.hyperparameters = hyperparameters
        self.column_types = column_types
        self.allowed_root = allowed_root

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        return {"columns": list(self.columns), "encoders": self.encoders, "lock": list(self.lock), "loss": self.loss,
                "hyperparameters": self.hyperparameters, "column_types": self.column_types,
                "allowed_root": None if self.allowed_root is None else str(self.allowed_root)}

    def _root(self) -> Path | None:
        return Path(self.allowed_root) if self.allowed_root is not None else None

    def _check_fitted(self) -> None:
        if not hasattr(self, "net_"):
            raise NotFittedError("this AlignmentModel is not fitted yet; call fit() or load()")

    # ---- fitting -----------------------------------------------------------------------------
    def fit(self, table, tuning_data=None, seed: int = 0, item_column: str | None = None) -> "AlignmentModel":
        """Train the towers on paired rows.

        Args:
            table: Paired rows (a DataFrame or a table path); rows missing a column are used for
                the pairs they have.
            tuning_data: Rows for early stopping (tuning MRR); a split by item when None.
            seed: Seed of every random choice.
            item_column: Rows sharing its value show the same item (e.g. an image id with several
                captions); rows sharing any aligned cell are positives in any case.

        Returns:
            self (``fit_log_``: the fit's status lines, the saved folder's ``fit.log``).
        """
        from transmodal.engine.run_log import captured_log

        with captured_log() as lines:
            self._fit(table, tuning_data, seed, item_column)
        self.fit_log_ = lines
        return self

    def _fit(self, table, tuning_data, seed: int, item_column: str | None) -> None:
        import torch

        from transmodal.alignment.training import fit_alignment, row_keys, split_by_item
        from transmodal.data.dataset import TableDataset

        self._check_columns()
        torch.manual_seed(seed)
        self.config_ = AlignConfig.from_dict({**(self.hyperparameters or {}),
                                              **({"encoders": self.encoders} if self.encoders else {})})
        pretrained = getattr(self, "pretrained_", None)
        train = read_table(table)
        self.column_types_ = self._infer_types(train)
        self.inputs_ = [InputSpec(c, self.column_types_[c], [c]) for c in self.columns]
        train = self._valid_rows(train)
        tune = self._valid_rows(read_table(tuning_data)) if tuning_data is not None else None
        if tune is None:
            train, tune = split_by_item(train, self.columns[0] if item_column is None else item_column,
                                         self.config_.holdout_fraction, seed)
        train_set = TableDataset(train, self.inputs_, None, self._root())
        tune_set = TableDataset(tune, self.inputs_, None, self._root())
        if pretrained is None:
            self._build_towers(train_set, seed)
        else:
            from transmodal.alignment.pretrained import prepare_finetuning

            prepare_finetuning(self)
        keys = {"train": row_keys(train.frame, list(self.columns), item_column),
                "val": row_keys(tune.frame, list(self.columns), item_column)}
        self.history_ = fit_alignment(self.net_, self.config_, train_set, tune_set, keys, seed)

    def _build_towers(self, train_set, seed: int) -> None:
        """Encoder settings fitted on the training rows, then the towers (training from scratch)."""
        from transmodal.build import fit_encoders

        # towers align a text model's sentence embedding: the default text encoder's last layer only
        settings = fit_encoders(train_set, self.config_.encoders, seed, last_layer=set(self.columns))
        for column in self.lock:
            settings[column]["frozen"] = True
        self.encoder_settings_ = settings
        self.net_ = self._build()

    @classmethod
    def from_pretrained(cls, name_or_path: str | Path, columns: Sequence[str], column_types: dict[str, str] | None = None,
                        lock: Sequence[str] = (), lora: Sequence[str] = (), lora_options: dict[str, Any] | None = None,
                        loss: str | None = None, hyperparameters: dict[str, Any] | None = None,
                        allowed_root: str | Path | None = None) -> "AlignmentModel":
        """A pretrained CLIP, SigLIP or CLAP model on two columns, usable with no training.

        Args:
            name_or_path: A folder written by ``save_pretrained`` (model and processor files) or a
                model id in the local Hugging Face cache.
            columns: The two columns, the image (or audio) column first unless ``column_types`` says.
            lock: Columns whose towers stay fixed when :meth:`fit` fine-tunes (LiT).
            lora: Columns whose towers get LoRA adapters when :meth:`fit` fine-tunes (only they train).
            lora_options: ``method``, ``r``, ``lora_alpha``, ``lora_dropout`` (as ``transfer`` options).
            loss: The fine-tuning loss (default: ``siglip`` for SigLIP, ``infonce`` otherwise).
            hyperparameters: An :class:`AlignConfig` as a dict (fine-tuning settings).

        Raises:
            ConfigError: not a CLIP/SigLIP/CLAP checkpoint, or the columns do not fit its towers.
            ModelLoadError: the checkpoint cannot be read.
        """
        from transmodal.alignment.pretrained import build_pretrained

        return build_pretrained(cls, str(name_or_path), columns, column_types, lock, lora, lora_options, loss,
                                hyperparameters, allowed_root)

    def _check_columns(self) -> None:
        if len(self.columns) < 2 or len(set(self.columns)) != len(self.columns):
            raise ConfigError(f"AlignmentModel needs at least two distinct columns, got {list(self.columns)}")
        unknown = sorted(set(self.lock) - set(self.columns))
        if unknown:
            raise ConfigError(f"lock names {unknown}, which are not among the columns {list(self.columns)}")
        if len(self.lock) == len(self.columns) and not getattr(self, "pretrained_", None):
            raise ConfigError("every tower is locked, so nothing would train; unlock at least one column")

    def _infer_types(self, table: Table) -> dict[str, str]:
        from transmodal.data.schema import infer_modality

        missing = [c for c in self.columns if c not in table.frame.columns]
        if missing:
            raise DataError(f"{table.source}: column(s) {missing} not found; columns are {list(table.frame.columns)}")
        if getattr(self, "pretrained_", None):
            return dict(self.column_types_)
        overrides = dict(self.column_types or {})
        types = {}
        for column in self.columns:
            modality = overrides.get(column) or infer_modality(table.frame[column])
            types[column] = "text" if modality in ("categorical", "numeric") else modality
        return types

    def _valid_rows(self, table: Table) -> Table:
        """Raise on unreadable cells; drop rows that have fewer than two of the columns."""
        from transmodal.data.validation import validate_features

        bad = validate_features(table, self.column_types_, self._root())
        if bad:
            raise DataError(f"{table.source}: some cells cannot be used", bad)
        present = table.frame[list(self.columns)].notna().sum(axis=1) >= 2
        if not present.any():
            raise DataError(f"{table.source}: no row has two of the columns {list(self.columns)}")
        return Table(table.frame[present].reset_index(drop=True), table.source, table.base_dir)

    def _build(self):
        from transmodal.alignment.towers import AlignmentNet
        from transmodal.encoders.projection import Tower, projection_kind
        from transmodal.encoders.base import build_encoder
        from transmodal.losses.contrastive import CONTRASTIVE_LOSSES

        towers = {}
        pretrained = getattr(self, "pretrained_", None) is not None
        for spec in self.inputs_:
            encoder = build_encoder(spec.modality, self.encoder_settings_[spec.name])
            # a pretrained aligned model's towers already project into its shared space
            kind = "identity" if pretrained else projection_kind(self.config_.projection, encoder, spec.name in self.lock)
            towers[spec.name] = Tower(encoder, kind, self.config_.embed_dim, self.config_.dropout)
        dims = {c: t.embed_dim for c, t in towers.items()}
        locked_dims = {dims[c] for c in self.lock}
        if len(locked_dims) > 1:
            raise ConfigError(f"locked towers have different sizes {dims}; lock at most one size")
        if pretrained and len(set(dims.values())) > 1:
            raise ConfigError(f"the pretrained towers project to different sizes {dims}")
        if locked_dims and not pretrained:
            size = locked_dims.pop()
            towers = {c: t if c in self.lock else Tower(t.encoder, t.kind, size, self.config_.dropout)
                      for c, t in towers.items()}
        loss_cls = CONTRASTIVE_LOSSES.get(self.loss)
        return AlignmentNet(towers, loss_cls(init_temperature=self.config_.init_temperature) if self.loss == "infonce"
                            else loss_cls())

    # ---- using the space ---------------------------------------------------------------------
    def tower(self, column: str):
        """The tower of ``column``.

        Raises:
            ConfigError: ``column`` is not aligned by this model.
        """
        self._check_fitted()
        if column not in self.columns:
            raise ConfigError(f"{column!r} is not an aligned column; use one of {list(self.columns)}")
        return self.net_.tower(column)

    def encode(self, table, column: str, batch_size: int = 64) -> np.ndarray:
        """Shared-space embeddings (N, D) of ``table[column]``, L2-normalised; NaN rows where missing."""
        import torch

        from transmodal.alignment.towers import SingleTowerView
        from transmodal.alignment.training import loader
        from transmodal.data.dataset import TableDataset
        from dataclasses import replace

        tower = self.tower(column)
        table = read_table(table)
        if column not in table.frame.columns:
            raise DataError(f"{table.source}: column {column!r} not found")
        dataset = TableDataset(table, [InputSpec(column, self.column_types_[column], [column])], None, self._root())
        out = np.full((len(table.frame), tower.embed_dim), np.nan, dtype=np.float32)
        self.net_.eval()
        config = replace(self.config_, batch_size=batch_size)
        net_view = SingleTowerView(column, tower)
        with torch.no_grad():
            for batch in loader(dataset, net_view, config, shuffle=False):
                mask = batch["masks"][column].numpy()
                embeddings = tower(batch["inputs"][column]).float().numpy()
                out[batch["index"].numpy()[mask]] = embeddings[mask]
        return out

    @property
    def logit_scale_(self) -> float:
        """The learned inverse temperature."""
        self._check_fitted()
        return float(self.net_.loss.scale.detach())

    @property
    def logit_bias_(self) -> float | None:
        """The learned logit bias of the sigmoid (SigLIP) loss, None for InfoNCE."""
        self._check_fitted()
        bias = getattr(self.net_.loss, "bias", None)
        return None if bias is None else float(bias.detach())

    def zero_shot(self, table, column: str, class_names: Sequence[str], templates: Sequence[str] | None = None,
                  class_column: str | None = None, descriptions: dict[str, Sequence[str]] | None = None) -> pd.DataFrame:
        """Classify ``table[column]`` among ``class_names`` described to the other (text) tower;
        ``descriptions`` ``{class: [text, ...]}`` describe classes in place of their names.

        Returns:
            A DataFrame with ``prediction`` and one probability column per class.
        """
        from transmodal.alignment.zero_shot import zero_shot_frame

        return zero_shot_frame(self, table, column, class_names, templates, class_column, descriptions)

    def retrieve(self, queries, query_column: str, gallery, gallery_column: str, k: int = 10):
        """Top-``k`` gallery rows per query: ``(indices (Q, k), scores (Q, k))``, best first."""
        from transmodal.alignment.retrieval import top_k

        return top_k(self.encode(queries, query_column), self.encode(gallery, gallery_column), k)

    def evaluate_retrieval(self, table, query_column: str, gallery_column: str,
                           item_column: str | None = None) -> dict[str, float]:
        """R@1/5/10, median rank and MRR of retrieving ``gallery_column`` cells from ``query_column``
        cells of the same table; a gallery row matches when it shares ``item_column``'s value (or is
        the same row when None)."""
        from transmodal.alignment.retrieval import evaluate_table

        return evaluate_table(self, read_table(table), query_column, gallery_column, item_column)

    # ---- persistence (the folder's contents: transmodal.alignment.folder) --------------------
    def saved_state(self, copy_base: bool = False) -> dict[str, Any]:
        """Weights, minus what rebuilds from a pretrained reference: frozen pretrained encoders and
        the frozen base weights of towers with adapters (all kept when ``copy_base``)."""
        from transmodal.alignment.folder import saved_state

        return saved_state(self, copy_base)

    def save(self, path: str | Path, base_weights: str = "reference") -> Path:
        """Write the model folder (safetensors + JSON + manifest); returns its path.

        Written beside ``path`` and renamed into place under a lock; ``path`` must be new, empty or a
        transmodal model folder (``ConfigError`` otherwise).

        Args:
            base_weights: ``reference``: frozen pretrained weights are not saved; those read from a
                local path have their digests recorded in the manifest and checked on load.
                ``copy``: every weight is saved in the folder (the checkpoint's config and
                processor files are still read from it, its weights never).
        """
        from transmodal.alignment.folder import save_model

        self._check_fitted()
        return save_model(self, path, base_weights)

    @classmethod
    def load(cls, path: str | Path) -> "AlignmentModel":
        """Load a folder written by :meth:`save` (verifies the manifest first).

        Raises:
            ModelLoadError: not an alignment model folder, or its weights do not match.
        """
        from transmodal.alignment.folder import load_model

        return load_model(cls, path)

    def __repr__(self) -> str:
        return f"AlignmentModel(columns={list(self.columns)!r}, lock={list(self.lock)!r}, loss={self.loss!r})"
