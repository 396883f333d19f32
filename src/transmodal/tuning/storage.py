"""Where a study's trials live: in memory, or in a database that several workers share.

Workers share a study through its database, so every read-then-write of a trial must be one
transaction that no other worker interleaves with. Optuna asks for that with ``SELECT ... FOR
UPDATE``; SQLite ignores it, and Python's ``sqlite3`` runs a ``SELECT`` outside any transaction. Two
workers could then both read a waiting trial (the study's base trial) as waiting, both mark it
running and both fit it, and the slower one's result is refused ("Cannot tell a COMPLETE trial").
:func:`make_storage` therefore opens SQLite transactions with ``BEGIN IMMEDIATE``: a transaction
holds the database's write lock from its first statement, and the others wait for it (up to the
busy timeout). Server databases (PostgreSQL, MySQL) honour ``FOR UPDATE`` and are left as they are.
"""

from __future__ import annotations

import time
import warnings

import optuna

from transmodal.tuning.settings import TuneSettings

SQLITE_BUSY_TIMEOUT_S = 60  # how long a worker waits for another's transaction before giving up
CREATE_ATTEMPTS = 3  # workers started together race to create the tables: the loser retries


def make_storage(settings: TuneSettings) -> optuna.storages.RDBStorage | None:
    """None (in memory) or an RDB storage with heartbeats, so that a killed worker's trial is failed.

    Args:
        settings: The ``tune`` section: its ``storage`` URL and ``heartbeat_seconds``.

    Returns:
        None for an in-memory study, else the storage; a SQLite one serialises its transactions.
    """
    if settings.storage is None:
        return None
    sqlite = settings.storage.startswith("sqlite")
    # isolation_level=None: sqlite3 issues no BEGIN of its own; serialise_sqlite_transactions issues it
    kwargs = {"connect_args": {"timeout": SQLITE_BUSY_TIMEOUT_S, "isolation_level": None}} if sqlite else None
    beat = settings.heartbeat_seconds
    for attempt in range(CREATE_ATTEMPTS):
        try:
            with warnings.catch_warnings():  # heartbeats are "experimental" in Optuna since 2.9
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                storage = optuna.storages.RDBStorage(settings.storage, engine_kwargs=kwargs, heartbeat_interval=beat,
                                                     grace_period=2 * beat)
            break
        except Exception:  # noqa: BLE001 - SQLAlchemy's OperationalError, IntegrityError, ...
            if attempt == CREATE_ATTEMPTS - 1:
                raise
            time.sleep(1.0 + attempt)
    if sqlite:
        serialise_sqlite_transactions(storage.engine)
    return storage


def serialise_sqlite_transactions(engine) -> None:
    """Open every transaction of ``engine`` (a SQLite engine whose connections were made with
    ``isolation_level=None``) with ``BEGIN IMMEDIATE``, so that it reads and writes under the
    database's write lock (SQLAlchemy's recipe for SQLite transactions)."""
    from sqlalchemy import event

    event.listen(engine, "begin", lambda connection: connection.exec_driver_sql("BEGIN IMMEDIATE"))
