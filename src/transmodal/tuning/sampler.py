"""The study's sampler: TPE whose random draws are seeded by the fit seed and the trial number."""

from __future__ import annotations

from typing import Any

import numpy as np
import optuna
from optuna.samplers import BaseSampler, TPESampler


class TrialSeededTPE(BaseSampler):
    """Optuna's TPE sampler, with a new generator per trial seeded by ``(seed, trial number)``.

    One seeded TPE sampler per process would make a study reproducible in one process, but two
    worker processes sharing a study would draw the same parameters (the same random startup
    trials). Seeding each trial by its number (unique in the study) keeps both: the same seed gives
    the same study, and no two trials draw from the same generator.

    Args:
        seed: The fit's seed.
        tpe_options: Keyword arguments of ``optuna.samplers.TPESampler`` (not ``seed``).
    """

    def __init__(self, seed: int, **tpe_options: Any) -> None:
        self.seed = seed
        self.tpe_options = tpe_options
        self._current: tuple[int, TPESampler] | None = None

    def _for(self, trial: optuna.trial.FrozenTrial) -> TPESampler:
        if self._current is None or self._current[0] != trial.number:
            seed = int(np.random.SeedSequence([self.seed, trial.number]).generate_state(1)[0])
            self._current = (trial.number, TPESampler(seed=seed, **self.tpe_options))
        return self._current[1]

    def infer_relative_search_space(self, study, trial):
        return self._for(trial).infer_relative_search_space(study, trial)

    def sample_relative(self, study, trial, search_space):
        return self._for(trial).sample_relative(study, trial, search_space)

    def sample_independent(self, study, trial, param_name, param_distribution):
        return self._for(trial).sample_independent(study, trial, param_name, param_distribution)

    def before_trial(self, study, trial) -> None:
        self._for(trial).before_trial(study, trial)

    def after_trial(self, study, trial, state, values) -> None:
        self._for(trial).after_trial(study, trial, state, values)
