"""``fit(..., checkpoint_dir=DIR, resume=True, checkpoint_every=N)``: checkpoints during fit and
resuming from them.

With ``checkpoint_dir`` a fit writes ``DIR/last.safetensors`` every ``checkpoint_every`` steps (default
50) and at each epoch end, plus ``DIR/run.json`` (the configuration and seed). With ``resume=True`` a
fit continues from that checkpoint: same weights, optimizer, scheduler, RNG and data order, so the
result equals an uninterrupted run. Resuming with a different configuration, seed or data raises:
``run.json`` also holds a SHA-256 fingerprint of the training (and tuning) table as given, taken in
``prepare_tables`` before the automatic holdout split.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from transmodal.config import save_json
from transmodal.errors import ConfigError
from transmodal.fitting.state import Extension, FitRequest, FitState

CHECKPOINT_FILE = "last.safetensors"
RUN_FILE = "run.json"
DEFAULT_EVERY = 50


class Resume(Extension):
    """Checkpoints during fit and resumes from them."""

    options = ("checkpoint_dir", "resume", "checkpoint_every")

    @classmethod
    def wanted(cls, request: FitRequest) -> bool:
        if request.options.get("resume") and request.options.get("checkpoint_dir") is None:
            raise ConfigError("resume=True needs checkpoint_dir= (the folder the checkpoints are written to)")
        return request.options.get("checkpoint_dir") is not None

    def prepare_tables(self, state: FitState) -> None:
        self.data = {"train": table_fingerprint(state.train.frame),
                     "tune": None if state.tune is None else table_fingerprint(state.tune.frame)}

    def attach(self, state: FitState) -> None:
        from transmodal.checkpointing.callback import ResumeCheckpoint
        from transmodal.checkpointing.io import SafetensorsCheckpointIO

        from transmodal.persistence import prepare_checkpoint_folder

        folder = prepare_checkpoint_folder(state.options["checkpoint_dir"])  # marked as transmodal's
        run = {"seed": state.seed, "config": json.loads(json.dumps(state.config.to_dict(), default=str)),
               "data": self.data}
        path = folder / CHECKPOINT_FILE
        trainer_options = state.training.trainer_options
        if state.options.get("resume") and path.is_file():
            _check_same_run(folder / RUN_FILE, run)
            trainer_options["ckpt_path"] = str(path)
        save_json(run, folder / RUN_FILE)
        every = state.options.get("checkpoint_every")
        state.training.callbacks.append(ResumeCheckpoint(path, DEFAULT_EVERY if every is None else int(every)))
        trainer_options.setdefault("plugins", []).append(SafetensorsCheckpointIO())


def table_fingerprint(frame) -> str:
    """SHA-256 of a table's column names, dtypes and every cell (row order included)."""
    import pandas as pd

    digest = hashlib.sha256(json.dumps([[str(c), str(t)] for c, t in frame.dtypes.items()]).encode())
    try:
        digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    except TypeError:  # unhashable cells (lists in a multilabel column): hash their text
        digest.update(frame.to_csv(index=False).encode("utf-8", "surrogatepass"))
    return digest.hexdigest()


def _check_same_run(path: Path, run: dict) -> None:
    if not path.is_file():
        return
    saved = json.loads(path.read_text(encoding="utf-8"))
    if saved.get("data") != run["data"]:
        tables = [k for k in ("train", "tune") if (saved.get("data") or {}).get(k) != run["data"][k]]
        raise ConfigError(f"cannot resume from {path.parent}: the checkpoint was made on other data (the "
                          f"{' and '.join(tables) or 'training'} table differs); resume with the same table(s) "
                          "or start a new checkpoint_dir")
    saved.pop("data", None)
    run = {k: v for k, v in run.items() if k != "data"}
    if saved != run:
        changed = sorted(k for k in set(saved.get("config", {})) | set(run["config"])
                         if saved.get("config", {}).get(k) != run["config"].get(k))
        if saved.get("seed") != run["seed"]:
            changed.append("seed")
        raise ConfigError(f"cannot resume from {path.parent}: the checkpoint was made with different settings "
                          f"({', '.join(changed)}); use the same ones or start a new checkpoint_dir")
