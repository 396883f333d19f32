"""Views of a knowledge-transfer row: which of Y, Z and Zhat the ``transfer`` fusion's inner
fusion sees (issue 17).

A row of the knowledge-transfer network carries Y's own features, and X's features Z (X present) or
the neighbour estimate Zhat (X missing, in the estimate slot). Its views:

- ``full``: everything the row has (Y with Z, or Y with Zhat);
- ``query_alone``: Y only (Z and Zhat hidden);
- ``source_alone``: Z only (Y hidden; for rows with Z).

While training, ``alone_share`` of the rows are shown one view alone (``query_alone``, or
``source_alone`` for rows with Z, at even odds), so the network also learns to predict from each
input alone. At prediction a row's output can then be the mean over several views (see
:meth:`transmodal.fusion.transfer.TransferFusion.blended` and :func:`default_views`): with Z, the
full view and Z alone, so that Y's features of a new speaker cannot pull a right Z off course.
"""

from __future__ import annotations

import torch

FULL, QUERY_ALONE, SOURCE_ALONE = "full", "query_alone", "source_alone"
VIEWS = (FULL, QUERY_ALONE, SOURCE_ALONE)


def default_views(alone_share: float, average_query_alone: bool = False) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The views averaged at prediction for rows with Z and rows with Zhat. Without single-view
    training (``alone_share`` 0) the alone views were never trained: the full view only. With it,
    rows with Z average the full view and Z alone; rows with Zhat keep the full view, or, with
    ``average_query_alone`` (Y alone trained, by an alone share or an extra loss), average the full
    view and Y alone.

    Chosen on a validation speaker (AV-digits, george held out of training as well as theo,
    ``benchmarks.knowledge_transfer_validation``, seed 0, alone_share 0.3 / 0.5): images present,
    full view 0.837 / 0.907, Z alone 0.979 / 0.990, their mean 0.993 / 0.991 (Y's features of a new
    speaker pull a right Z off course); image column emptied, full view 0.474 / 0.507, Y alone
    0.387 / 0.455, their mean 0.447 / 0.477 (so not averaged by default)."""
    with_estimate = (FULL, QUERY_ALONE) if average_query_alone else (FULL,)
    if alone_share <= 0:
        return (FULL,), with_estimate
    return (FULL, SOURCE_ALONE), with_estimate


def view_masks(masks: dict[str, torch.Tensor], view: str, source: str, query: str,
               slot: str) -> dict[str, torch.Tensor]:
    """The presence masks (B,) of the inner fusion's inputs for ``view`` of every row.

    Args:
        masks: Presence masks with Z in ``source`` and Zhat in ``slot`` (each row has at most one).
        view: One of :data:`VIEWS`.
        source, query, slot: Input names of X, Y and the estimate slot.

    Raises:
        ValueError: an unknown view.
    """
    if view not in VIEWS:
        raise ValueError(f"unknown view {view!r}; choose from {list(VIEWS)}")
    masks = dict(masks)
    if view == QUERY_ALONE:
        masks[source] = torch.zeros_like(masks[source])
        masks[slot] = torch.zeros_like(masks[slot])
    elif view == SOURCE_ALONE:
        masks[query] = masks[query] & ~masks[source]  # Y hidden where Z is there to stand alone
        masks[slot] = masks[slot] & ~masks[source]
    return masks


def alone_rows(masks: dict[str, torch.Tensor], source: str, query: str, slot: str,
               share: float) -> dict[str, torch.Tensor]:
    """Training: ``share`` of the rows that have Y keep one view alone: Y alone, or (rows with Z,
    at even odds) Z alone."""
    if share <= 0:
        return masks
    have_query = masks[query]  # (B,)
    chosen = (torch.rand(have_query.shape, device=have_query.device) < share) & have_query
    coin = torch.rand(have_query.shape, device=have_query.device) < 0.5
    source_alone = chosen & masks[source] & coin
    query_alone = chosen & ~source_alone
    masks = dict(masks)
    masks[source] = masks[source] & ~query_alone
    masks[slot] = masks[slot] & ~query_alone
    masks[query] = masks[query] & ~source_alone
    return masks
