"""Resumable training: safetensors checkpoints, a resumable data order and the ``resume`` fit hook."""
