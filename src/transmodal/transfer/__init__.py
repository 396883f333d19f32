"""Transfer learning: start from a saved predictor, adapt it to a target with few or no labels.

- ``fit(..., init_from=FOLDER)`` copies a saved predictor's encoders and fusion (and its head when
  the label set is the same) into the new network (:mod:`transmodal.transfer.source`).
- ``hyperparameters={"transfer": {"strategy": NAME, ...}}`` picks what trains, from the
  :data:`~transmodal.transfer.base.STRATEGIES` registry: ``linear_probe``, ``finetune``,
  ``partial``, ``lora``, ``l2sp``, ``distill`` (one file each).
- ``fit(..., source_data=TABLE, source_label=COL)`` trains source and target tasks jointly
  (:mod:`transmodal.transfer.joint`).
- ``fit(..., unlabeled_data=TABLE)`` with ``transfer.adapt`` = ``dann``, ``coral`` or ``mmd`` adapts
  to an unlabelled target domain (:mod:`transmodal.transfer.domain`).
- :func:`transmodal.experiments.learning_curve.learning_curve` measures a metric per number of shots.

Every piece plugs into ``MultimodalPredictor.fit`` through the fit extensions of
:mod:`transmodal.fitting.extensions` (``source_model``, ``transfer_strategy``, ``joint_source``,
``domain_adaptation``); ``hyperparameters["transfer"]`` is checked by :class:`.settings.TransferSettings`.
"""
