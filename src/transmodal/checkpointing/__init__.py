"""Resumable training: safetensors checkpoints and their callback; the ``Resume`` fit extension
(:mod:`transmodal.fitting.extensions.resume`) wires them into a fit; the resumable data order lives in
:mod:`transmodal.engine.sampler`."""
