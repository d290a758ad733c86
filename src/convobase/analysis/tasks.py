"""The analysis job: assess one batch of a user's messages, acting as that user."""

import uuid

from convobase.analysis import service
from convobase.analysis.analyzer import Analyzer
from convobase.analysis.service import ANALYSIS_TASK, MilestoneRule
from convobase.core.principal import Principal
from convobase.jobs.worker import JobRun, Task


def analysis_task(analyzer: Analyzer, rule: MilestoneRule) -> Task:
    """The task that runs analysis jobs with `analyzer` and moves users on by `rule`."""

    def analyse(run: JobRun) -> None:
        # The job reaches only this user's rows (row level security on PostgreSQL).
        user = Principal.user(uuid.UUID(run.payload["user_id"]))
        batch_number = int(run.payload["batch"])
        with run.transaction(user, readonly=True) as session:
            batch = service.load_batch(session, user, batch_number)
        if not batch.messages:
            return  # deleted since they were counted: nothing left to analyse
        # Outside any transaction: an analyzer may take seconds, or fail.
        assessment = analyzer.analyze(batch)
        with run.finish(user) as session:
            service.record_analysis(
                session, user, batch, assessment, analyzer=analyzer.name, rule=rule
            )

    return Task(ANALYSIS_TASK, analyse)
