"""Waking this process's idle workers when a transaction that queued jobs commits, so
that a job queued by the API runs at once rather than at the workers' next poll.
(Workers in other processes are woken by PostgreSQL's NOTIFY, or poll on SQLite.)"""

import threading
import weakref

from sqlalchemy import event
from sqlalchemy.orm import Session

_idle_workers: "weakref.WeakSet[threading.Event]" = weakref.WeakSet()


def register(wake: threading.Event) -> None:
    """Set `wake` whenever a transaction of this process that queued jobs commits."""
    _idle_workers.add(wake)


def unregister(wake: threading.Event) -> None:
    _idle_workers.discard(wake)


def after_commit(session: Session) -> None:
    """Wake this process's workers once the transaction of `session` commits."""
    if _idle_workers and not session.info.get(_PENDING):
        session.info[_PENDING] = True
        event.listen(session, "after_commit", _wake_all, once=True)


_PENDING = "convobase.jobs.wake_pending"


def _wake_all(session: Session) -> None:
    session.info.pop(_PENDING, None)
    for wake in list(_idle_workers):
        wake.set()
