"""A torch Dataset over a table, and the collate function that turns rows into model batches.

A batch is a dict::

    {"index": LongTensor (B,),                         # row positions in the table
     "inputs": {input_name: dict[str, Tensor]},        # encoder.prepare(...) per input
     "masks": {input_name: BoolTensor (B,)},           # False where the row lacks that input
     "targets": {task_name: Tensor (B,) or (B, K)}}    # only when the table has labels

Files are decoded lazily per row, so a table larger than memory streams through.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from transmodal.data.cells import CellError, decode_cell, is_missing
from transmodal.data.joined_text import join_cells
from transmodal.data.readers import Table
from transmodal.data.schema import InputSpec


class TableDataset(Dataset):
    """Rows of a table, decoded per input.

    Args:
        table: The table.
        inputs: The model inputs to decode.
        targets: Task name -> encoded targets (see ``TaskSpec.encode``), or None.
        allowed_root: Refuse file paths outside this folder.
    """

    def __init__(self, table: Table, inputs: Sequence[InputSpec],
                 targets: dict[str, np.ndarray] | None = None, allowed_root: Path | None = None) -> None:
        self.table = table
        self.inputs = list(inputs)
        self.targets = targets or {}
        self.allowed_root = allowed_root
        self.skip_inputs: set[str] = set()  # inputs whose features come from an embedding cache
        self._columns = {spec.name: {c: table.frame[c].tolist() for c in spec.columns} for spec in self.inputs}

    def __len__(self) -> int:
        return len(self.table.frame)

    def text_lengths(self) -> np.ndarray:
        """Characters of text per row over every text input (num_rows,), 0 where missing."""
        lengths = np.zeros(len(self), dtype=np.int64)
        for spec in self.inputs:
            if spec.modality == "text":
                for values in self._columns[spec.name].values():
                    lengths += np.array([0 if is_missing(v) else len(str(v)) for v in values], dtype=np.int64)
        return lengths

    def raw_value(self, spec: InputSpec, row: int) -> Any:
        """The undecoded cell of a one-column input ``spec`` in ``row`` (a text input over several
        columns: their joined text, :func:`~transmodal.data.joined_text.join_cells`; None when the
        row lacks every one)."""
        columns = self._columns[spec.name]
        if len(spec.columns) > 1 and spec.modality == "text":
            try:
                return join_cells(spec.columns, [columns[c][row] for c in spec.columns])
            except CellError:
                return None  # validated tables have no bad cells
        return columns[spec.columns[0]][row]

    def content_digest(self, spec: InputSpec, row: int) -> bytes | None:
        """The content digest of input ``spec`` in ``row`` (file bytes, text, tabular values), or
        None when the row lacks it or a file cannot be read; the key of the embedding store."""
        from transmodal.data.cell_digest import cell_digest, tabular_digest

        if spec.modality != "tabular":
            value = self.raw_value(spec, row)
            return None if is_missing(value) else cell_digest(spec.modality, value, self.table.base_dir,
                                                              self.allowed_root)
        item = self.item(spec, row)
        return None if item is None else tabular_digest(item)

    def _decode(self, modality: str, value: Any) -> Any:
        if is_missing(value):
            return None
        try:
            return decode_cell(modality, value, self.table.base_dir, self.allowed_root)
        except CellError:
            return None  # validated tables have no bad cells; a file changed since is missing

    def item(self, spec: InputSpec, row: int) -> Any:
        """The decoded item of input ``spec`` in ``row`` (None when missing)."""
        columns = self._columns[spec.name]
        if spec.modality != "tabular":
            return self._decode(spec.modality, self.raw_value(spec, row))
        values = {c: self._decode(spec.column_types[c], columns[c][row]) for c in spec.columns}
        return values if any(v is not None for v in values.values()) else None

    def __getitem__(self, row: int) -> dict[str, Any]:
        items = {spec.name: None if spec.name in self.skip_inputs else self.item(spec, row) for spec in self.inputs}
        present = {spec.name: self._present(spec, row, items[spec.name]) for spec in self.inputs}
        targets = {name: values[row] for name, values in self.targets.items()}
        return {"index": row, "items": items, "present": present, "targets": targets}

    def _present(self, spec: InputSpec, row: int, item: Any) -> bool:
        if spec.name not in self.skip_inputs:
            return item is not None
        columns = self._columns[spec.name]
        return any(not is_missing(columns[c][row]) for c in spec.columns)


class Collator:
    """Turns a list of dataset rows into a batch, with each encoder's ``prepare``.

    Args:
        encoders: Input name -> encoder (only ``prepare`` is used, on CPU). Inputs whose items are
            all None while some rows have them are served from an embedding cache (not prepared).
    """

    def __init__(self, encoders: dict[str, Any]) -> None:
        self.encoders = encoders

    def __call__(self, rows: list[dict[str, Any]]) -> dict[str, Any]:
        names = list(rows[0]["items"])
        batch: dict[str, Any] = {
            "index": torch.tensor([r["index"] for r in rows], dtype=torch.long),
            "inputs": {},
            "masks": {n: torch.tensor([r["present"][n] for r in rows], dtype=torch.bool) for n in names},
            "targets": {},
        }
        for name in names:
            items = [r["items"][name] for r in rows]
            if all(item is None for item in items) and batch["masks"][name].any():
                continue  # served from the embedding cache
            batch["inputs"][name] = self.encoders[name].prepare(items)
        for task in rows[0]["targets"]:
            values = np.stack([np.asarray(r["targets"][task]) for r in rows])
            batch["targets"][task] = torch.from_numpy(values)
        return batch
