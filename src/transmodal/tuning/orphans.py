"""Trials left running by a worker that died before its first heartbeat."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import optuna
from optuna.trial import TrialState

from transmodal.tuning.settings import TuneSettings

LOG = logging.getLogger("transmodal.tuning")
ORPHAN_MARGIN_SECONDS = 10.0  # beyond the heartbeat grace period, before a trial with no mark is failed


def fail_orphaned_trials(study: optuna.Study, settings: TuneSettings, now: datetime | None = None) -> list[int]:
    """Fail the running trials whose process died before the trial recorded anything, and return
    their numbers.

    Optuna's ``fail_stale_trials`` skips a running trial that has no heartbeat yet: a worker killed
    between creating a trial and its first heartbeat (or before the objective marked the trial with
    its ``worker``) leaves it running forever, and a study waiting for its running trials would wait
    forever too. Such a trial (no ``worker`` mark, started more than twice the heartbeat interval
    plus a margin ago) is failed without an error, like a stale one, so it does not count and is
    replaced. A live trial carries its ``worker`` mark within microseconds of its start.
    """
    limit = timedelta(seconds=2 * settings.heartbeat_seconds + ORPHAN_MARGIN_SECONDS)
    now = now or datetime.now()
    orphans = [t.number for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
               if "worker" not in t.user_attrs and t.datetime_start is not None and now - t.datetime_start > limit]
    for number in orphans:
        study.tell(number, state=TrialState.FAIL, skip_if_finished=True)
        LOG.warning("trial %d was left running by a process that stopped before its first heartbeat; failed "
                    "and replaced", number)
    return orphans
