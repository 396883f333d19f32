"""Experiment runners: they fit or query predictors and measure something about them.

This layer sits above :mod:`transmodal.predictor` and calls it; the predictor never imports it.

- :mod:`.fusion_comparison`: every fusion strategy over several seeds on one split.
- :mod:`.multitask_comparison`: one multi-task model against one single-task model per label.
- :mod:`.learning_curve`: a metric per number of labelled rows per class and transfer strategy.
- :mod:`.robustness`: the eval metric as test-time noise on one input grows (MultiBench summaries).
- :mod:`.importance`: how much the eval metric drops without each input.
"""
