"""Sharing architectures: how several task heads share the fused representation."""
