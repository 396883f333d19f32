"""Feature state the members of one ensemble fit share, built once on the same rows.

``tfidf_linear`` and ``lightgbm`` both read the text columns through the same
:class:`~transmodal.ensemble.members.features.TextTfidf` (word and character n-grams); fitting and
applying it to every training row is the largest part of either member's time. During a fit the
:class:`FitMemo` in the :class:`~transmodal.ensemble.members.base.MemberContext` keeps the fitted
TF-IDF and its matrix of the training rows, so the second member reads them instead of building
them again. The same holds for frozen embeddings (``embeddings`` option): members with the same
encoders share one :class:`~transmodal.ensemble.members.embeddings.FrozenEmbeddings`, and its
features of the training rows are read once (reading them checks and decodes every image: ~7 s
for 7,664 photos even when the embedding store holds their features). The ensemble closes the memo when the fit ends: a fitted model holds no training rows,
and prediction never reads or fills it.
"""

from __future__ import annotations

from typing import Any, Callable

import pandas as pd

from transmodal.ensemble.members.features import TextTfidf


class FitMemo(dict):
    """``{key: value}`` of one fit's shared feature state; :meth:`close` empties it for good."""

    active: bool = True

    def close(self) -> None:
        """Drop everything held and keep nothing from now on."""
        self.clear()
        self.active = False


def open_memo(context) -> FitMemo | None:
    """The context's memo while its fit runs, else None."""
    memo = getattr(context, "memo", None)
    return memo if memo is not None and memo.active else None


def memo_built(context, key: tuple, build: Callable[[], Any]) -> Any:
    """``build()``, kept once per fit under ``key`` when the context has an open memo; outside a
    fit it is built every time."""
    memo = open_memo(context)
    if memo is None:
        return build()
    if key not in memo:
        memo[key] = build()
    return memo[key]


def text_tfidf(context, frame: pd.DataFrame) -> TextTfidf:
    """The TF-IDF of ``context``'s text columns fitted on ``frame`` (the fit's rows); built once
    per fit when the context has an open memo."""
    columns = context.columns("text")
    return memo_built(context, ("tfidf", tuple(columns)), lambda: TextTfidf(columns).fit(frame))


def memo_rows(context, owner: Any, frame: pd.DataFrame, compute: Callable[[pd.DataFrame], Any]) -> Any:
    """``compute(frame)``, kept once per fit for the same ``owner`` (the object whose features they
    are) and the same frame object; outside a fit it is computed every time."""
    memo = open_memo(context)
    if memo is None:
        return compute(frame)
    key = ("rows", id(owner))
    held = memo.get(key)
    if held is not None and held[0] is frame and held[1] is owner:
        return held[2]
    value = compute(frame)
    memo[key] = (frame, owner, value)  # frame and owner held too, so their ids cannot be reused while held
    return value


def tfidf_rows(context, text: TextTfidf, frame: pd.DataFrame) -> Any:
    """``text.transform(frame)`` (sparse ``(N, terms)``), computed once per fit for the same
    TF-IDF and the same frame object; outside a fit it is computed every time."""
    return memo_rows(context, text, frame, text.transform)
