"""Ensembles of models for one label of a table, chosen by a preset within a time budget.

:class:`~transmodal.ensemble.auto.AutoPredictor` is the user's entry point
(``transmodal fit --presets``). The layer sits above the predictor: neural members are
:class:`~transmodal.predictor.MultimodalPredictor` fits; the predictor never imports this package.

- ``presets.py``: presets as data (``transmodal/presets/*.yaml``) read into frozen dataclasses;
- ``members/``: the registry of member kinds, one file each (``tfidf_linear``, ``lightgbm``, ``neural``);
- ``training.py``: splits (holdout, or k-fold bagging on small tables), members fitted in order within
  the time budget;
- ``selection.py``: greedy forward selection with replacement (Caruana et al.);
- ``auto.py``: the facade; ``leaderboard.py``; ``files.py`` and ``persist.py``: the model folder.
"""
