"""Issue 17 d), diagnosis: how good is the neighbour estimate Zhat on the training speakers vs the
held-out speaker? Reads the teacher and alignment that ``benchmarks.knowledge_transfer_trust --keep
DIR`` kept, builds the bank as the knowledge-transfer network does (4,096 training rows drawn with
seed 0; keys = aligned image embeddings, values = the teacher's image features Z) and, for the tuning
rows (training speakers) and theo's test rows, looks up the 5 nearest bank rows of each row's aligned
audio embedding. Reports the teacher's head applied to Zhat (the mean Z of those neighbours), the
5-NN majority digit, the nearest neighbour's digit and the share of right neighbours.

Run: ``.venv/bin/python -m benchmarks.knowledge_transfer_zhat DIR`` (light: a few seconds of encoding).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from benchmarks.cross_modal_av_digits import table
from benchmarks.datasets.av_digits import build_av_digits

K, BANK, BOTH = 5, 4096, ["image", "audio", "digit"]


def source_features(teacher, frame) -> "torch.Tensor":
    """Z = the teacher's image encoder on ``frame["image"]`` (N, Dz)."""
    import torch
    from PIL import Image

    encoder = teacher.net_.encoder("image").eval()
    with torch.no_grad():
        return torch.cat([encoder(encoder.prepare([Image.open(p) for p in frame["image"][i:i + 256]])).float()
                          for i in range(0, len(frame), 256)])


def quality(teacher, align, bank, z, frame) -> dict[str, float]:
    """Accuracies of the neighbour estimate for the rows of ``frame``."""
    import torch

    keys = torch.as_tensor(np.nan_to_num(align.encode(bank, "image")))  # (N, D)
    top = (torch.as_tensor(align.encode(frame, "audio")) @ keys.t()).topk(K, dim=1).indices  # (B, K)
    zhat = z[top].mean(dim=1)  # (B, Dz)
    with torch.no_grad():
        outputs = teacher.net_.decide({"image": zhat}, {"image": torch.ones(len(zhat), dtype=torch.bool)})[1]
    truth = frame["digit"].to_numpy()
    predicted = np.asarray(teacher.classes_)[outputs["digit"].argmax(1).numpy()].astype(truth.dtype)
    votes = bank["digit"].to_numpy()[top.numpy()]  # (B, K)
    majority = np.array([np.bincount(v, minlength=10).argmax() for v in votes])
    return {"teacher_head_on_zhat": float((predicted == truth).mean()), "knn_majority": float((majority == truth).mean()),
            "nearest": float((votes[:, 0] == truth).mean()), "right_neighbours": float((votes == truth[:, None]).mean())}


def main(argv: list[str] | None = None) -> int:
    from transmodal import MultimodalPredictor
    from transmodal.alignment.model import AlignmentModel

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="The --keep folder of benchmarks.knowledge_transfer_trust.")
    args = parser.parse_args(argv)
    tables = build_av_digits(degrade=False, speaker_holdout="theo")
    teacher = MultimodalPredictor.load(args.folder / "teacher")
    align = AlignmentModel.load(args.folder / "align")
    train = table(tables["train"], BOTH)
    bank = train.iloc[np.sort(np.random.default_rng(0).choice(len(train), BANK, replace=False))].reset_index(drop=True)
    z = source_features(teacher, bank)
    for name, split in (("tuning rows (training speakers)", "tuning"), ("test rows (theo)", "test")):
        print(name, quality(teacher, align, bank, z, table(tables[split], BOTH)), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
