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

At prediction Z comes from the row's X when present; when X is empty, Zhat is the mean Z of the
``k`` training rows whose aligned X embedding is nearest to the row's aligned Y embedding. The
frozen f, the aligned Y tower and the bank are saved with the predictor, which stays a normal model
folder.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from transmodal.errors import ConfigError
from transmodal.fitting import FIT_HOOKS, FitContext, FitHook

DEFAULT_K = 5
DEFAULT_BANK = 4096


def _load(folder):
    """An AlignmentModel or a MultimodalPredictor from a folder."""
    from transmodal.alignment.model import AlignmentModel, is_alignment_folder
    from transmodal.predictor import MultimodalPredictor

    if folder is None:
        return None
    return AlignmentModel.load(folder) if is_alignment_folder(folder) else MultimodalPredictor.load(folder)


@FIT_HOOKS.register("transfer_from")
class KnowledgeTransferHook(FitHook):
    """Builds the knowledge-transfer network from ``hyperparameters["transfer_from"]``."""

    def __init__(self) -> None:
        self.source: Any = None
        self.align: Any = None
        self.column = self.query = ""

    def active(self, ctx: FitContext) -> bool:
        return bool(ctx.config.transfer_from)

    def on_data(self, ctx: FitContext) -> None:
        from transmodal.build import encoder_spec

        options = dict(ctx.config.transfer_from)
        if "column" not in options or "model" not in options:
            raise ConfigError("transfer_from needs 'column' (X) and 'model' (a source model folder)")
        self.column = options["column"]
        inputs = {spec.name: spec for spec in ctx.predictor.inputs_}
        if self.column not in inputs:
            raise ConfigError(f"transfer_from column {self.column!r} is not an input of the table")
        self.query = options.get("query") or self._only_other(inputs)
        self.source = _load(options["model"])
        self.align = _load(options.get("align")) if options.get("align") else \
            (self.source if hasattr(self.source, "columns") else None)
        source_encoder = self.source.net_.encoder(self.column)
        encoders = dict(ctx.config.encoders)
        encoders[self.column] = {**self.source.encoder_settings_[self.column], "frozen": True}
        z_dim = source_encoder.output_dim
        if self.align is not None:
            if {self.column, self.query} - set(self.align.columns):
                raise ConfigError(f"transfer_from align model aligns {list(self.align.columns)}, "
                                  f"not {self.column!r} and {self.query!r}")
            tower = self.align.net_.tower(self.query)
            bank = min(int(options.get("bank_size", DEFAULT_BANK)), len(ctx.train.frame))
            encoders[self.query] = {
                "name": "transfer_query", "modality": inputs[self.query].modality,
                "base": encoder_spec(inputs[self.query], ctx.config.encoders),
                "tower": self.align.encoder_settings_[self.query],
                "projection": {"kind": tower.kind, "embed_dim": tower.embed_dim, "dropout": self.align.config_.dropout},
                "bank_size": bank, "key_dim": tower.embed_dim, "z_dim": z_dim, "k": int(options.get("k", DEFAULT_K)),
            }
            ctx.config.fusion_options = {"source": self.column, "query": self.query, "z_dim": z_dim,
                                         "inner": ctx.config.fusion, "inner_options": dict(ctx.config.fusion_options)}
            ctx.config.fusion = "transfer"
        ctx.config.encoders = encoders

    def _only_other(self, inputs: dict) -> str:
        others = [n for n, s in inputs.items() if n != self.column and s.modality != "tabular"]
        if len(others) != 1:
            raise ConfigError(f"transfer_from: say which column receives Z with 'query' (candidates {others})")
        return others[0]

    def on_net(self, ctx: FitContext) -> None:
        encoder = ctx.net.encoder(self.column)
        encoder.load_state_dict(self.source.net_.encoder(self.column).state_dict())
        encoder.freeze(True)
        if self.align is None:
            return
        query = ctx.net.encoder(self.query)
        query.tower.load_state_dict(self.align.net_.tower(self.query).state_dict())
        rows = np.sort(np.random.default_rng(ctx.seed).choice(len(ctx.train.frame), query.bank_keys.shape[0], replace=False))
        subset = ctx.train.frame.iloc[rows].reset_index(drop=True)
        from transmodal.data.readers import Table

        table = Table(subset, ctx.train.source, ctx.train.base_dir)
        keys = torch.as_tensor(self.align.encode(table, self.column))  # (N, D)
        query.bank_keys.copy_(torch.nan_to_num(keys))
        query.bank_values.copy_(self._source_features(ctx, encoder, rows))
        ctx.history["transfer_from"] = {"column": self.column, "query": self.query, "bank_size": len(rows)}

    def _source_features(self, ctx: FitContext, encoder, rows: np.ndarray) -> torch.Tensor:
        """Z = f(X) of the bank rows (N, Dz)."""
        spec = next(s for s in ctx.train_set.inputs if s.name == self.column)
        encoder.eval()
        chunks = []
        with torch.no_grad():
            for start in range(0, len(rows), 256):
                items = [ctx.train_set.item(spec, int(r)) for r in rows[start:start + 256]]
                chunks.append(encoder(encoder.prepare(items)).float())
        return torch.cat(chunks)
