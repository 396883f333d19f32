"""The persistent embedding store: frozen encoders' features on disk, shared by fits and predictions."""

from transmodal.embedding_store.store import EmbeddingStore, StoreInfo, default_root, open_store

__all__ = ["EmbeddingStore", "StoreInfo", "default_root", "open_store"]
