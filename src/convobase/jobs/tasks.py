"""The job system's own tasks: purging finished jobs."""

from datetime import timedelta

from convobase.core.time import utc_now
from convobase.jobs import service
from convobase.jobs.worker import JobRun, Periodic, Task

PURGE_TASK = "jobs.purge"


def purge_task(retention: timedelta) -> tuple[Task, Periodic]:
    """The task that deletes jobs finished more than `retention` ago, run hourly."""

    def purge(run: JobRun) -> None:
        with run.finish() as session:
            service.purge_finished(session, before=utc_now() - retention)

    return Task(PURGE_TASK, purge), Periodic(PURGE_TASK, every=timedelta(hours=1))
