"""The knowledge-transfer network: ``hyperparameters={"transfer_from": {"column": X, "model": DIR}}``.

A predictor for a column Y also receives Z = f(X), a representation of another column X from a
frozen source model, and fuses them as Y' = g(Y, Z). ``transfer_from`` keys:

- ``column``: X (a column of the table).
- ``model``: the source of f: an alignment model folder (f = its X tower's encoder) or a saved
  predictor folder (f = its encoder of X).
- ``align``: an alignment model folder of X and Y, for rows without X (default: ``model`` when it
  is an alignment model). Without one, a missing X falls back to the fusion's learned placeholder.
- ``query``: Y (default: the only other non-tabular input); ``k``: neighbours (default 5);
  ``bank_size``: training rows kept in the bank (default 4096).
- ``neighbour_share`` (default 0.5): share of the training rows with X that get the neighbour
  estimate Zhat instead of Z, so that the network learns how far to trust Zhat (Zhat is then an
  input of the fusion of its own, apart from Z: see :mod:`transmodal.fusion.transfer`); ``neighbour_noise`` (default 0.3): share of those whose estimate
  comes from another row (wrong neighbours, as for rows unlike the training rows, e.g. an unseen
  speaker: the training rows' own neighbours are nearly always right). 0 and 0 train as before
  (Zhat only for rows that lack X).
- ``alone_share`` (default 0.5, with a neighbour share only): share of the training rows shown Y
  alone or X's Z alone, so that the network can also predict from either alone; at prediction a row
  with X then averages the full view and Z alone (a new speaker's Y cannot pull a right Z off course),
  see :mod:`transmodal.fusion.views`. 0 trains and predicts as before.
- ``query_alone_weight`` (default: 2 with a neighbour share, else 0): weight of an extra loss on
  every training row's Y-alone view (``transfer/query_alone``: Y through the same fusion and heads, Z
  and Zhat hidden), so that Y's own path trains on every row as in a Y-only predictor instead of on a
  share of them. Set above 0 it needs a neighbour share (the estimate slot) when there is an
  alignment; without an alignment, Y alone is Y with every other input masked. Chosen on a
  validation speaker (AV-digits, george, seed 0, ``benchmarks.knowledge_transfer_validation``):
  image column emptied 0.497 without it, 0.513 with weight 1, 0.516 with weight 2; images present
  0.993, 0.996, 0.996.
- ``average_query_alone`` (default false): at prediction, rows without X average the full view (Y
  with Zhat) and Y alone (needs the estimate slot, and Y alone trained by ``alone_share`` or
  ``query_alone_weight``).

When the rows to predict come from new sources (an unseen speaker) and the tuning rows do not, the
tuning score cannot show how the network does without X (Z and Zhat are both right on the tuning
rows, so it is ~1.0 from the first epoch and the first epoch is kept): set the hyperparameter
``select_epoch: false`` to train the whole epoch budget (AV-digits, validation speaker: 0.24 without
the image when the second epoch was kept, 0.50 after the six epochs).

At prediction Z comes from the row's X when present; when X is empty, Zhat is the mean Z of the
``k`` training rows whose aligned X embedding is nearest to the row's aligned Y embedding. The
frozen f, the aligned Y tower and the bank are saved with the predictor, which stays a normal model
folder. ``initialise`` chooses the encoders and the ``transfer`` fusion (recorded in the model spec's
architecture); ``load_weights`` copies f and the tower and fills the bank.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from transmodal.config import section_from_dict
from transmodal.errors import ConfigError
from transmodal.fitting.state import Extension, FitRequest, FitState
from transmodal.saved.spec import Architecture

DEFAULT_K = 5
DEFAULT_BANK = 4096
DEFAULT_QUERY_ALONE_WEIGHT = 2.0  # with a neighbour share (see the module docstring)


@dataclass(frozen=True)
class TransferFromSettings:
    """``hyperparameters["transfer_from"]``, typed (see the module docstring)."""

    column: str  # X
    model: str  # source model folder: alignment model or saved predictor
    align: str | None = None  # alignment model of X and Y for rows without X
    query: str | None = None  # Y
    k: int = DEFAULT_K
    bank_size: int = DEFAULT_BANK
    neighbour_share: float = 0.5  # training rows with X that get Zhat instead of Z
    neighbour_noise: float = 0.3  # of those, rows given another row's Zhat (wrong neighbours)
    alone_share: float = 0.5  # training rows shown Y alone or Z alone (with a neighbour share only)
    query_alone_weight: float | None = None  # extra loss on every row's Y alone (None: 2 with a neighbour share)
    average_query_alone: bool = False  # rows without X: mean of the full view and Y alone at prediction

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "TransferFromSettings":
        """Check the section.

        Raises:
            ConfigError: ``column`` or ``model`` missing, an unknown key or a wrong type.
        """
        if "column" not in values or "model" not in values:
            raise ConfigError("transfer_from needs 'column' (X) and 'model' (a source model folder)")
        settings = section_from_dict(cls, {k: str(v) if k in ("model", "align") and v is not None else v
                                           for k, v in values.items()}, "transfer_from")
        for name in ("neighbour_share", "neighbour_noise", "alone_share"):
            value = getattr(settings, name)
            if not (isinstance(value, (int, float)) and 0 <= value < 1):
                raise ConfigError(f"transfer_from.{name} must be in [0, 1), got {value!r}")
        weight = settings.query_alone_weight
        if weight is not None and (isinstance(weight, bool) or not (isinstance(weight, (int, float))
                                                                     and 0 <= weight < float("inf"))):
            raise ConfigError(f"transfer_from.query_alone_weight must be a number >= 0, got {weight!r}")
        if settings.average_query_alone and not (settings.alone_share > 0 or settings.weight(True) > 0):
            raise ConfigError("transfer_from.average_query_alone needs Y alone trained: set alone_share or "
                              "query_alone_weight above 0")
        return settings

    def weight(self, slot: bool) -> float:
        """The Y-alone loss weight used: the one given, else 2 with the estimate slot and 0 without."""
        if self.query_alone_weight is not None:
            return float(self.query_alone_weight)
        return DEFAULT_QUERY_ALONE_WEIGHT if slot else 0.0

    def check_slot(self, slot: bool) -> None:
        """Views need the estimate slot when there is an alignment (``slot``: neighbour_share > 0).

        Raises:
            ConfigError: ``query_alone_weight`` or ``average_query_alone`` without it.
        """
        if not slot and ((self.query_alone_weight or 0) > 0 or self.average_query_alone):
            raise ConfigError("transfer_from.query_alone_weight and average_query_alone need neighbour_share > 0 "
                              "(Zhat in a slot of its own, so that Y can be shown alone); set neighbour_share "
                              "or leave them at 0 / false")


def load_model(folder):
    """An AlignmentModel or a fitted predictor (:class:`~transmodal.saved.loader.FittedModel`) from a folder."""
    from transmodal.alignment.model import AlignmentModel, is_alignment_folder
    from transmodal.saved.loader import load_fitted

    return AlignmentModel.load(folder) if is_alignment_folder(folder) else load_fitted(folder)


class KnowledgeTransfer(Extension):
    """Builds the knowledge-transfer network from ``hyperparameters["transfer_from"]``."""

    def __init__(self) -> None:
        self.source: Any = None
        self.align: Any = None
        self.column = self.query = ""
        self.options: TransferFromSettings | None = None

    @classmethod
    def wanted(cls, request: FitRequest) -> bool:
        return bool(request.config.transfer_from)

    def initialise(self, state: FitState) -> None:
        from transmodal.build import encoder_spec

        options = self.options = TransferFromSettings.from_dict(state.config.transfer_from)
        self.column = options.column
        inputs = {spec.name: spec for spec in state.inputs}
        if self.column not in inputs:
            raise ConfigError(f"transfer_from column {self.column!r} is not an input of the table")
        self.query = options.query or self._only_other(inputs)
        self.source = load_model(options.model)
        self.align = load_model(options.align) if options.align else \
            (self.source if hasattr(self.source, "columns") else None)
        z_dim = self.source.net_.encoder(self.column).output_dim
        choices = state.encoder_choices
        user_choices = dict(choices)
        choices[self.column] = {**self.source.encoder_settings_[self.column], "frozen": True}
        if self.align is None:
            return
        if {self.column, self.query} - set(self.align.columns):
            raise ConfigError(f"transfer_from align model aligns {list(self.align.columns)}, "
                              f"not {self.column!r} and {self.query!r}")
        options.check_slot(options.neighbour_share > 0)
        tower = self.align.net_.tower(self.query)
        bank = min(options.bank_size, len(state.train.frame))
        choices[self.query] = {
            "name": "transfer_query", "modality": inputs[self.query].modality,
            "base": encoder_spec(inputs[self.query], user_choices),
            "tower": self.align.encoder_settings_[self.query],
            "projection": {"kind": tower.kind, "embed_dim": tower.embed_dim, "dropout": self.align.config_.dropout},
            "bank_size": bank, "key_dim": tower.embed_dim, "z_dim": z_dim, "k": options.k,
        }
        inner = state.architecture
        state.architecture = Architecture(
            "transfer", {"source": self.column, "query": self.query, "z_dim": z_dim, "inner": inner.fusion,
                         "inner_options": dict(inner.fusion_options),
                         "neighbour_share": float(options.neighbour_share),
                         "neighbour_noise": float(options.neighbour_noise),
                         "estimate_slot": options.neighbour_share > 0,
                         "alone_share": float(options.alone_share),
                         "average_query_alone": bool(options.average_query_alone)}, inner.hidden_dim)

    def _only_other(self, inputs: dict) -> str:
        others = [n for n, s in inputs.items() if n != self.column and s.modality != "tabular"]
        if len(others) != 1:
            raise ConfigError(f"transfer_from: say which column receives Z with 'query' (candidates {others})")
        return others[0]

    def load_weights(self, state: FitState) -> None:
        from transmodal.encoders.adapters import folded_state

        encoder = state.net.encoder(self.column)
        encoder.load_state_dict(folded_state(self.source.net_.encoder(self.column)))  # f as the source predicts
        encoder.freeze(True)
        state.records["transfer_from"] = {"column": self.column, "query": self.query, "bank_size": 0}
        if self.align is None:
            return
        query = state.net.encoder(self.query)
        query.tower.load_state_dict(folded_state(self.align.net_.tower(self.query)))
        rows = np.sort(np.random.default_rng(state.seed).choice(len(state.train.frame), query.bank_keys.shape[0],
                                                                replace=False))
        from transmodal.data.readers import Table

        subset = Table(state.train.frame.iloc[rows].reset_index(drop=True), state.train.source, state.train.base_dir)
        keys = torch.as_tensor(self.align.encode(subset, self.column))  # (N, D)
        query.bank_keys.copy_(torch.nan_to_num(keys))
        query.bank_values.copy_(self._source_features(state, encoder, rows))
        state.records["transfer_from"]["bank_size"] = len(rows)

    def attach(self, state: FitState) -> None:
        if self.options is None:
            return
        weight = self.options.weight(self.align is not None and self.options.neighbour_share > 0)
        state.records.setdefault("transfer_from", {})["query_alone_weight"] = weight
        if weight > 0:
            state.training.extra_losses.append(QueryAloneTerm(weight, self.query))

    def _source_features(self, state: FitState, encoder, rows: np.ndarray) -> torch.Tensor:
        """Z = f(X) of the bank rows (N, Dz)."""
        spec = next(s for s in state.train_set.inputs if s.name == self.column)
        encoder.eval()
        chunks = []
        with torch.no_grad():
            for start in range(0, len(rows), 256):
                items = [state.train_set.item(spec, int(r)) for r in rows[start:start + 256]]
                chunks.append(encoder(encoder.prepare(items)).float())
        return torch.cat(chunks)


class QueryAloneTerm:
    """Extra loss ``{"transfer/query_alone": w * task loss of Y alone}`` on every training row with Y:
    the row's Y through the same fusion (Z and Zhat hidden: their placeholders stand in) and heads."""

    def __init__(self, weight: float, query: str) -> None:
        self.weight, self.query = weight, query

    def __call__(self, module, batch: dict[str, Any], out: dict[str, Any]) -> dict[str, torch.Tensor]:
        from transmodal.fusion.views import QUERY_ALONE

        net = module.net
        rows = out["masks"][self.query]  # (B,) bool
        if not bool(rows.any()):
            return {}
        features = {n: f[rows] for n, f in out["features"].items()}  # (R, D_n)
        masks = {n: m[rows] for n, m in out["masks"].items()}  # (R,)
        if hasattr(net.fusion, "view") and getattr(net.fusion, "source", None) is not None:
            fused = net.fusion.view(features, masks, QUERY_ALONE)  # (R, H)
        else:  # no alignment: the plain fusion with every other input masked
            fused = net.fusion(features, {n: m if n == self.query else torch.zeros_like(m) for n, m in masks.items()})
        targets = {t: v[rows] for t, v in batch["targets"].items()}  # task -> (R,) or (R, K)
        losses = module.task_losses({"targets": targets}, {"outputs": net.head_outputs(fused)})
        return {"transfer/query_alone": self.weight * sum(losses.values())}
