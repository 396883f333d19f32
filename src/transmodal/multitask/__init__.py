"""Multi-task learning: several label columns trained together by one multimodal network.

Two extension points, each a registry filled by one file per method:

- :data:`~transmodal.multitask.architectures.base.ARCHITECTURES`: how the tasks share the fused
  representation (``hard``: shared encoders and fusion, per-task heads; ``mmoe``: a multi-gate
  mixture of experts; ``cgc``: shared plus task-specific experts, as in PLE).
- :data:`~transmodal.multitask.weighting.base.WEIGHTINGS`: how the per-task losses become one loss
  (``equal``, ``uncertainty``, ``dwa``, ``gradnorm``) or how their gradients are combined
  (``pcgrad``).

Both are chosen with ``hyperparameters={"multitask": {"architecture": NAME, "weighting": NAME}}``
(see :class:`~transmodal.multitask.settings.MultitaskSettings`).
"""
