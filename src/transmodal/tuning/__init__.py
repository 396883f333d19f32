"""Hyperparameter search with Optuna (``fit(..., tune={...})``, ``transmodal tune``).

A study runs many fits of the fit pipeline (:func:`transmodal.fitting.pipeline.run_fit`), one per
trial, each with the trial's hyperparameters. The layer sits between the predictor, which calls it,
and the fit pipeline, which it calls; it never imports the predictor. Search spaces are YAML data in
``search_spaces/`` (:mod:`transmodal.tuning.space`).
"""
