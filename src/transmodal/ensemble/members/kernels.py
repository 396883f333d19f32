"""Kernels of ``kernel_ridge`` and the kernel ridge solve with an unpenalised intercept.

A row is :class:`KernelRows`: its dense features (e.g. principal components of frozen
embeddings) and, optionally, its sparse linear features (TF-IDF rows of the text columns, one-hot
categories, standardised numbers). The kernel between two sets of rows is a weighted sum
(:class:`KernelWeights`):

- ``rbf * exp(-|a - b|^2 / width)`` on the dense features;
- ``linear * <a, b>`` on the linear features (ridge regression on them, in its dual form);
- ``squared * cos(a, b)^2`` on the linear features (every product of two features, normalised by
  the rows' lengths: interactions such as a title's words with its format or year).

:func:`solve` centres the kernel (an intercept that is not penalised, as scikit-learn's ``Ridge``
fits) and returns dual weights that sum to 0, so a prediction is ``K(rows, training rows) @ dual +
mean`` with the kernel left uncentred. A prediction computes that kernel in blocks of rows against
one :class:`TrainedRows`: what the kernel reads of the training rows (their squared lengths, their
linear features split into frequent and rare columns, their lengths), computed once for every block.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass
class KernelRows:
    """Rows as the kernels read them: ``dense`` ``(N, k)`` and ``linear`` ``(N, T)`` (sparse; None
    without a linear part). Indexing by rows takes both."""

    dense: np.ndarray
    linear: Any = None

    def __getitem__(self, rows) -> "KernelRows":
        return KernelRows(self.dense[rows], None if self.linear is None else self.linear[rows])

    def __len__(self) -> int:
        return self.dense.shape[0]

    @property
    def shape(self) -> tuple[int, int]:
        """``(N, k + T)``."""
        return self.dense.shape[0], self.dense.shape[1] + (0 if self.linear is None else self.linear.shape[1])


@dataclass(frozen=True)
class KernelWeights:
    """Weights of the kernel's parts (0: the part is left out)."""

    rbf: float = 1.0
    linear: float = 0.0
    squared: float = 0.0

    @property
    def reads_linear(self) -> bool:
        """Whether a part reads the linear features."""
        return bool(self.linear or self.squared)


def squared_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``(len(a), len(b))`` squared Euclidean distances (float64, clipped at 0)."""
    b = np.asarray(b, dtype=np.float64)
    return _squared_distances(a, b, (b * b).sum(axis=1))


def _squared_distances(a: np.ndarray, b: np.ndarray, b_squares: np.ndarray) -> np.ndarray:
    """:func:`squared_distances` to float64 rows ``b`` whose squared lengths ``b_squares`` ``(len(b),)``
    are given."""
    a = np.asarray(a, dtype=np.float64)
    out = (a * a).sum(axis=1)[:, None] + b_squares[None, :] - 2.0 * a @ b.T
    return np.maximum(out, 0.0)


class GramColumns:
    """The right-hand rows ``b`` of :func:`linear_gram`, read once for any number of left-hand rows.

    A sparse product whose result is dense is slow when some columns are in most rows (frequent
    character n-grams): book price, 4,989 rows of 208,411 TF-IDF columns, ~58 s on 2 cores. So the
    columns present in more than ``dense_rows`` of ``b``'s rows (at least 20) are multiplied as
    dense blocks of ``block`` columns (BLAS), the others as sparse matrices: ~15 s there. Dense rows
    ``b`` (no ``tocsc``) are multiplied as they are.
    """

    def __init__(self, b, dense_rows: float = 0.02, block: int = 4096) -> None:
        if not hasattr(b, "tocsc"):
            self.dense = np.asarray(b, dtype=np.float64)  # (n, T)
            return
        self.dense = None
        b = b.tocsc()
        present = np.diff(b.indptr)  # (T,) rows of b holding each column
        frequent = present > max(20, dense_rows * b.shape[0])
        self.rare = np.flatnonzero(~frequent)
        self.rare_rows = b[:, self.rare].tocsr().T  # (R, n) sparse
        columns = np.flatnonzero(frequent)
        self.blocks = [(chosen, b[:, chosen]) for chosen in
                       (columns[start:start + block] for start in range(0, len(columns), block))]

    def gram(self, a) -> np.ndarray:
        """``(len(a), n)`` inner products of rows ``a`` (sparse when ``b`` was) with ``b``'s, dense float64."""
        if self.dense is not None:
            return np.asarray(a, dtype=np.float64) @ self.dense.T
        a = a.tocsc()
        out = np.asarray((a[:, self.rare].tocsr() @ self.rare_rows).toarray(), dtype=np.float64)
        for chosen, columns in self.blocks:
            out += a[:, chosen].toarray() @ columns.toarray().T  # (len(a), n), float32 products
        return out


def linear_gram(a, b, dense_rows: float = 0.02, block: int = 4096) -> np.ndarray:
    """``(len(a), len(b))`` inner products of sparse (or dense) rows, dense float64 (frequent
    columns multiplied densely: :class:`GramColumns`)."""
    return GramColumns(b, dense_rows, block).gram(a)


def row_norms(x) -> np.ndarray:
    """``(N,)`` Euclidean lengths of sparse or dense rows (1 for an empty row)."""
    squares = x.multiply(x).sum(axis=1) if hasattr(x, "multiply") else (np.asarray(x) ** 2).sum(axis=1)
    norms = np.sqrt(np.asarray(squares, dtype=np.float64).reshape(-1))
    return np.where(norms > 0, norms, 1.0)


@dataclass
class TrainedRows:
    """What :func:`kernel` reads of its right-hand rows (the training rows of a fold model),
    computed once (by :meth:`of`) for every block of rows compared with them."""

    rows: int
    dense: np.ndarray  # (n, k) float64
    squares: np.ndarray  # (n,) squared lengths of the dense rows
    columns: GramColumns | None  # the linear features, None when no part reads them
    norms: np.ndarray | None  # (n,) lengths of the linear features, None without the squared part

    @classmethod
    def of(cls, rows: KernelRows, weights: KernelWeights) -> "TrainedRows":
        """The parts ``weights`` read of ``rows``."""
        dense = np.asarray(rows.dense, dtype=np.float64)
        return cls(len(rows), dense, (dense * dense).sum(axis=1),
                   GramColumns(rows.linear) if weights.reads_linear else None,
                   row_norms(rows.linear) if weights.squared else None)


def kernel(a: KernelRows, b: KernelRows | TrainedRows, weights: KernelWeights, width: float) -> np.ndarray:
    """``(len(a), len(b))`` the weighted sum of the kernel parts between rows ``a`` and ``b`` (``b``
    as :class:`TrainedRows` of the same ``weights`` when the kernel of many blocks ``a`` is computed)."""
    if not isinstance(b, TrainedRows):
        b = TrainedRows.of(b, weights)
    out = np.zeros((len(a), b.rows), dtype=np.float64)
    if weights.rbf:
        out += weights.rbf * np.exp(-_squared_distances(a.dense, b.dense, b.squares) / width)
    if weights.reads_linear:
        gram = b.columns.gram(a.linear)
        if weights.linear:
            out += weights.linear * gram
        if weights.squared:
            out += weights.squared * (gram / np.outer(row_norms(a.linear), b.norms)) ** 2
    return out


def median_width(x: KernelRows, scale: float) -> float:
    """The RBF part's squared length: ``scale`` times the median squared distance of the rows."""
    if not x.dense.shape[1]:
        return 1.0
    return float(scale) * max(float(np.median(squared_distances(x.dense, x.dense))), 1e-12)


def solve(gram: np.ndarray, y: np.ndarray, alpha: float, centre: bool) -> tuple[np.ndarray, float]:
    """Dual weights ``(n,)`` and the mean of kernel ridge on the training rows' kernel ``gram``
    ``(n, n)`` (overwritten). Without ``centre``: ``(K + alpha I) dual = y - mean(y)``. With
    ``centre``: the centred kernel ``H K H`` (``H`` removes the mean), whose dual weights sum to 0,
    so ``K(rows, training) @ dual + mean`` with ``mean = mean(y) - mean_columns(K) @ dual`` is the
    centred prediction."""
    import scipy.linalg

    mean = float(np.mean(y))
    column_means = None
    if centre:
        column_means = gram.mean(axis=0)  # (n,)
        gram -= column_means[None, :]
        gram -= column_means[:, None]
        gram += column_means.mean()
    gram[np.diag_indices_from(gram)] += alpha
    dual = scipy.linalg.solve(gram, y - mean, assume_a="pos", overwrite_a=True, check_finite=False)
    if column_means is not None:
        mean -= float(column_means @ dual)
    return dual, mean
