"""The onboarding clean-up: mark idle sessions abandoned, and purge the answers of those
abandoned longer than the retention."""

import logging
from datetime import timedelta

from convobase.core.principal import Principal
from convobase.core.time import utc_now
from convobase.jobs.worker import JobRun, Periodic, Task
from convobase.onboarding import service

CLEANUP_TASK = "onboarding.clean_up"

logger = logging.getLogger("convobase.onboarding")


def cleanup_task(*, abandon_after: timedelta, retention: timedelta) -> tuple[Task, Periodic]:
    """The task that, hourly, marks abandoned the active sessions idle for
    `abandon_after`, and purges the answers of sessions abandoned `retention` ago; a
    run does at most `service.CLEANUP_BATCH` of each, and the next run the rest."""

    def clean_up(run: JobRun) -> None:
        # Every user's sessions: as staff, whose policies reach every row.
        staff = Principal.staff()
        now = utc_now()
        with run.finish(staff) as session:
            abandoned = service.abandon_idle(session, staff, idle_before=now - abandon_after)
            purged = service.purge_abandoned(session, staff, abandoned_before=now - retention)
        logger.info(
            "onboarding clean-up: %d sessions marked abandoned, %d purged",
            abandoned,
            purged,
            extra={"abandoned": abandoned, "purged": purged},
        )

    return Task(CLEANUP_TASK, clean_up), Periodic(CLEANUP_TASK, every=timedelta(hours=1))
