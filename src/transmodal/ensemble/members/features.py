"""Table columns as features for the classical members, and their saved state (JSON + tensors).

- :class:`TextTfidf`: TF-IDF of word 1-2-grams and character 2-5-grams (within word boundaries),
  one pair of vectorizers per text column (scikit-learn); saved as the vocabulary (JSON, terms
  in index order) and the IDF weights (a tensor).
- :class:`Categories`: the categories of each categorical column (JSON), as one-hot columns or
  as integer codes (LightGBM's categorical features).
- :class:`Numbers`: numeric columns with their training mean and std (tensors); missing cells
  are the mean plus a missing-indicator column. With ``signed_log`` the values are first mapped by
  ``sign(x) * log1p(|x|)`` (counts with a long tail, e.g. a number of ratings running to 6,090,
  become roughly linear in what a linear model can use).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

WORD = {"analyzer": "word", "ngram_range": (1, 2), "min_df": 2, "max_features": 50000, "sublinear_tf": True,
        "dtype": np.float32}
CHAR = {"analyzer": "char_wb", "ngram_range": (2, 5), "min_df": 2, "max_features": 100000, "sublinear_tf": True,
        "dtype": np.float32}


def _texts(frame: pd.DataFrame, column: str) -> list[str]:
    return [v if isinstance(v, str) else "" for v in frame[column].tolist()]


class TextTfidf:
    """Word and character TF-IDF of each text column, stacked side by side (sparse)."""

    def __init__(self, columns: list[str]) -> None:
        self.columns = list(columns)
        self.vectorizers: dict[str, Any] = {}

    def fit(self, frame: pd.DataFrame) -> "TextTfidf":
        from sklearn.feature_extraction.text import TfidfVectorizer

        for column in self.columns:
            texts = _texts(frame, column)
            for kind, params in (("word", WORD), ("char", CHAR)):
                vectorizer = TfidfVectorizer(**params)
                try:
                    vectorizer.fit(texts)
                except ValueError:  # no term kept (e.g. every cell empty): the column adds nothing
                    vectorizer = None
                self.vectorizers[f"{column}/{kind}"] = vectorizer
        return self

    def transform(self, frame: pd.DataFrame):
        """Sparse ``(N, terms)`` matrix (CSR, float32)."""
        import scipy.sparse as sp

        parts = [v.transform(_texts(frame, key.rsplit("/", 1)[0])) for key, v in self.vectorizers.items()
                 if v is not None]
        return sp.hstack(parts, format="csr", dtype=np.float32) if parts else sp.csr_matrix((len(frame), 0))

    def save(self, prefix: str, tensors: dict[str, np.ndarray]) -> dict[str, Any]:
        """Vocabularies (returned, JSON) and IDF weights (into ``tensors``)."""
        meta = {}
        for key, vectorizer in self.vectorizers.items():
            if vectorizer is None:
                meta[key] = None
                continue
            terms = sorted(vectorizer.vocabulary_, key=vectorizer.vocabulary_.get)
            meta[key] = terms
            tensors[f"{prefix}{key}/idf"] = vectorizer.idf_.astype(np.float32)
        return {"columns": self.columns, "vocabularies": meta}

    @classmethod
    def load(cls, meta: dict[str, Any], prefix: str, tensors: dict[str, np.ndarray]) -> "TextTfidf":
        from sklearn.feature_extraction.text import TfidfVectorizer

        self = cls(meta["columns"])
        for key, terms in meta["vocabularies"].items():
            if terms is None:
                self.vectorizers[key] = None
                continue
            params = WORD if key.endswith("/word") else CHAR
            vectorizer = TfidfVectorizer(**params)
            vectorizer.vocabulary_ = {term: i for i, term in enumerate(terms)}
            vectorizer.idf_ = np.asarray(tensors[f"{prefix}{key}/idf"], dtype=np.float64)
            self.vectorizers[key] = vectorizer
        return self


class Categories:
    """The training categories of each categorical column (as strings; missing is no category)."""

    def __init__(self, columns: list[str], levels: dict[str, list[str]] | None = None) -> None:
        self.columns = list(columns)
        self.levels = levels or {}

    def fit(self, frame: pd.DataFrame) -> "Categories":
        for column in self.columns:
            values = frame[column].dropna().astype(str)
            self.levels[column] = sorted(values.unique().tolist())
        return self

    def codes(self, frame: pd.DataFrame) -> np.ndarray:
        """``(N, columns)`` float codes (NaN for missing or unseen categories)."""
        out = np.full((len(frame), len(self.columns)), np.nan, dtype=np.float32)
        for j, column in enumerate(self.columns):
            index = {level: i for i, level in enumerate(self.levels[column])}
            values = frame[column].tolist()
            out[:, j] = [index.get(str(v), np.nan) if not _missing(v) else np.nan for v in values]
        return out

    def one_hot(self, frame: pd.DataFrame):
        """Sparse ``(N, sum of levels)`` one-hot matrix (unseen and missing: all zeros)."""
        import scipy.sparse as sp

        blocks = []
        codes = self.codes(frame)
        for j, column in enumerate(self.columns):
            known = ~np.isnan(codes[:, j])
            rows = np.flatnonzero(known)
            blocks.append(sp.csr_matrix((np.ones(len(rows), dtype=np.float32), (rows, codes[known, j].astype(int))),
                                        shape=(len(frame), len(self.levels[column]))))
        return sp.hstack(blocks, format="csr") if blocks else sp.csr_matrix((len(frame), 0), dtype=np.float32)

    def save(self) -> dict[str, Any]:
        return {"columns": self.columns, "levels": self.levels}

    @classmethod
    def load(cls, meta: dict[str, Any]) -> "Categories":
        return cls(meta["columns"], {k: list(v) for k, v in meta["levels"].items()})


class Numbers:
    """Numeric columns: raw values (NaN for missing), or standardised with missing indicators.

    Args:
        columns: The numeric columns.
        signed_log: Read every value as ``sign(x) * log1p(|x|)``.
    """

    def __init__(self, columns: list[str], signed_log: bool = False) -> None:
        self.columns = list(columns)
        self.signed_log = bool(signed_log)
        self.mean = np.zeros(len(columns), dtype=np.float32)
        self.std = np.ones(len(columns), dtype=np.float32)

    def raw(self, frame: pd.DataFrame) -> np.ndarray:
        """``(N, columns)`` float32 with NaN for missing or non-numeric cells."""
        if not self.columns:
            return np.zeros((len(frame), 0), dtype=np.float32)
        values = np.array(frame[self.columns].apply(pd.to_numeric, errors="coerce"), dtype=np.float64)  # a copy
        values[~np.isfinite(values)] = np.nan
        if self.signed_log:
            values = np.sign(values) * np.log1p(np.abs(values))  # NaN stays NaN
        return values.astype(np.float32)

    def fit(self, frame: pd.DataFrame) -> "Numbers":
        raw = self.raw(frame)
        if self.columns:
            with np.errstate(all="ignore"):
                self.mean = np.nan_to_num(np.nanmean(raw, axis=0)).astype(np.float32)
                std = np.nan_to_num(np.nanstd(raw, axis=0))
            self.std = np.where(std > 0, std, 1.0).astype(np.float32)
        return self

    def scaled(self, frame: pd.DataFrame, indicators: bool = True) -> np.ndarray:
        """``(N, 2 * columns)``: standardised values (missing: 0) and missing indicators
        (``indicators`` false: ``(N, columns)``, the values only)."""
        raw = self.raw(frame)
        missing = np.isnan(raw)
        scaled = np.where(missing, 0.0, (raw - self.mean) / self.std)
        return np.hstack([scaled, missing] if indicators else [scaled]).astype(np.float32)

    def save(self, prefix: str, tensors: dict[str, np.ndarray]) -> dict[str, Any]:
        tensors[f"{prefix}numbers/mean"] = self.mean
        tensors[f"{prefix}numbers/std"] = self.std
        return {"columns": self.columns, "signed_log": self.signed_log}

    @classmethod
    def load(cls, meta: dict[str, Any], prefix: str, tensors: dict[str, np.ndarray]) -> "Numbers":
        self = cls(meta["columns"], meta.get("signed_log", False))  # older folders: no signed_log
        self.mean = np.asarray(tensors[f"{prefix}numbers/mean"], dtype=np.float32)
        self.std = np.asarray(tensors[f"{prefix}numbers/std"], dtype=np.float32)
        return self


def load_log_numbers(meta: dict[str, Any], tensors: dict[str, np.ndarray]) -> Numbers:
    """The signed-log :class:`Numbers` a member saved as ``meta["log_numbers"]`` (tensors under
    ``log/``); none (no columns) for a folder saved before its member had them."""
    if "log_numbers" not in meta:
        return Numbers([], signed_log=True)
    return Numbers.load(meta["log_numbers"], "log/", tensors)


def linear_features(tfidf, categories: Categories, numbers: Numbers, log_numbers: Numbers, frame: pd.DataFrame):
    """``(N, T)`` sparse: what a linear model reads of a table's own columns: the text columns'
    TF-IDF rows ``tfidf``, one-hot categories, standardised numbers with missing indicators, and the
    standardised signed logs of ``log_numbers``' columns (none: no columns)."""
    import scipy.sparse as sp

    return sp.hstack([tfidf, categories.one_hot(frame), sp.csr_matrix(numbers.scaled(frame)),
                      sp.csr_matrix(log_numbers.scaled(frame, indicators=False))], format="csr", dtype=np.float32)


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value))
