"""The analysis job: reads its batch, asks the analyzer outside any transaction, then
writes the result, marks the messages and moves the user on, once."""

from dataclasses import dataclass, field
from decimal import Decimal

import pytest

from convobase.analysis import service as analysis_service
from convobase.analysis.analyzer import AnalysisBatch, Analyzer, AnalyzerFailed, Assessment
from convobase.analysis.analyzers import BaselineAnalyzer
from convobase.analysis.models import AnalysisResult, AnalysisType
from convobase.analysis.service import MilestoneRule
from convobase.analysis.tasks import analysis_task
from convobase.conversations import service as conversation_service
from convobase.core.principal import Principal
from convobase.db.session import Database
from convobase.jobs import service as job_service
from convobase.jobs.models import JobState
from convobase.jobs.worker import Worker
from convobase.users import service as user_service
from convobase.users.schemas import UserUpdate
from tests import factories

STAFF = Principal.staff()


@dataclass
class ScriptedAnalyzer:
    """Answers each batch with the next of `scores`; fails while `failures` remain."""

    scores: list[str]
    failures: int = 0
    seen: list[AnalysisBatch] = field(default_factory=list)
    name: str = "scripted"

    def analyze(self, batch: AnalysisBatch) -> Assessment:
        if self.failures:
            self.failures -= 1
            raise AnalyzerFailed("the model is overloaded")
        self.seen.append(batch)
        return Assessment(chat_score=Decimal(self.scores.pop(0)), insights={"batch": batch.batch})


def signed_up_user(database: Database, *, goals: list[str] | None = None) -> Principal:
    with database.transaction(STAFF) as session:
        user = factories.user(session)
    if goals:
        with database.transaction(user) as session:
            user_service.update_user(session, user, data=UserUpdate(goals=goals))
    return user


def write(database: Database, user: Principal, count: int) -> None:
    with database.transaction(user) as session:
        factories.messages(session, user, factories.conversation(session, user), count)


def analyses(database: Database, user: Principal) -> list[AnalysisResult]:
    with database.transaction(user) as session:
        page = analysis_service.list_analyses(session, user, limit=200)
    return sorted(page.items, key=lambda result: (result.batch, result.analysis_type))


DEFAULT_RULE = MilestoneRule()


def worker(database: Database, analyzer: Analyzer, rule: MilestoneRule = DEFAULT_RULE) -> Worker:
    return Worker(database, [analysis_task(analyzer, rule)])


def test_the_baseline_analysis_of_a_batch_is_recorded_and_its_messages_marked(
    database: Database,
) -> None:
    user = signed_up_user(database, goals=["practise Spanish conversation"])
    write(database, user, 30)

    assert worker(database, BaselineAnalyzer()).run_until_idle() == 1

    (result,) = analyses(database, user)[:1]
    assert result.analysis_type == AnalysisType.CHAT_SCORING
    assert (result.batch, result.analyzer) == (1, "baseline")
    assert Decimal(0) <= result.chat_score <= Decimal(14)
    assert result.message_range["count"] == 25
    with database.transaction(user) as session:
        waiting = conversation_service.unanalysed_user_messages(session, user, limit=100)
    assert [message.content for message in waiting] == [f"message {n}" for n in range(25, 30)]


def test_a_failing_analyzer_retries_the_job_and_writes_nothing_meanwhile(
    database: Database,
) -> None:
    user = signed_up_user(database)
    write(database, user, 25)
    analyzer = ScriptedAnalyzer(scores=["7.5"], failures=1)

    assert worker(database, analyzer).run_until_idle() == 1
    assert analyses(database, user) == []
    with database.transaction(STAFF) as session:
        (job,) = job_service.list_jobs(session, STAFF, name="analysis").items
        assert (job.state, job.last_error) == (
            JobState.QUEUED,
            "AnalyzerFailed: the model is overloaded",
        )


def test_a_repeated_run_of_a_batch_writes_nothing_twice(database: Database) -> None:
    user = signed_up_user(database)
    write(database, user, 25)
    worker(database, ScriptedAnalyzer(scores=["8.0"])).run_until_idle()
    assert user.user_id is not None
    with database.transaction(STAFF) as session:
        # As if the job had been delivered twice: the same batch, under a new key.
        job_service.enqueue(session, "analysis", {"user_id": str(user.user_id), "batch": 1})

    worker(database, ScriptedAnalyzer(scores=["3.0"])).run_until_idle()

    scorings = [r for r in analyses(database, user) if r.analysis_type == "chat_scoring"]
    assert [(r.batch, r.chat_score) for r in scorings] == [(1, Decimal("8.0"))]


def test_consecutive_good_analyses_move_the_user_through_the_stages_to_graduation(
    database: Database,
) -> None:
    user = signed_up_user(database)
    rule = MilestoneRule(score=Decimal("10"), streak=2)
    scores = ["12.0", "9.5", "10.0", "11.0", "13.0", "10.5", "12.5", "14.0"]
    analyzer = ScriptedAnalyzer(scores=list(scores))

    stages = []
    for _ in scores:
        write(database, user, 25)
        worker(database, analyzer, rule).run_until_idle()
        with database.transaction(user) as session:
            profile = user_service.get_user(session, user)
            stages.append((profile.stage, profile.graduation_date is not None))

    assert stages == [
        (1, False),  # 12.0: one good batch
        (1, False),  # 9.5 breaks the streak
        (1, False),  # 10.0
        (2, False),  # 11.0: two in a row
        (2, False),  # 13.0
        (3, False),  # 10.5
        (3, False),  # 12.5
        (3, True),  # 14.0: graduated
    ]
    decisions = [
        (r.batch, r.analysis_type, r.triggered_milestone)
        for r in analyses(database, user)
        if r.analysis_type != AnalysisType.CHAT_SCORING
    ]
    assert decisions == [
        (1, "milestone_check", False),
        (2, "milestone_check", False),
        (3, "milestone_check", False),
        (4, "milestone_check", True),
        (5, "milestone_check", False),
        (6, "milestone_check", True),
        (7, "graduation_assessment", False),
        (8, "graduation_assessment", True),
    ]


def test_an_analysis_job_reads_only_its_own_users_messages(database: Database) -> None:
    user, other = signed_up_user(database), signed_up_user(database)
    write(database, user, 25)
    write(database, other, 10)
    analyzer = ScriptedAnalyzer(scores=["5.0"])

    worker(database, analyzer).run_until_idle()

    (batch,) = analyzer.seen
    assert batch.user_id == user.user_id
    assert len(batch.messages) == 25


def test_deleting_an_account_deletes_its_analyses_and_jobs(database: Database) -> None:
    user = signed_up_user(database)
    write(database, user, 50)
    worker(database, ScriptedAnalyzer(scores=["5.0"])).run_once()

    with database.transaction(user) as session:
        user_service.delete_user(session, user)

    with database.transaction(STAFF) as session:
        assert job_service.list_jobs(session, STAFF, name="analysis").items == []
        page = analysis_service.list_analyses(session, STAFF, user_id=user.user_id)
        assert page.items == []


@pytest.mark.parametrize("score", ["-0.1", "14.1", "7.25"])
def test_an_assessment_outside_the_scale_is_refused(score: str) -> None:
    with pytest.raises(ValueError, match="chat_score"):
        Assessment(chat_score=Decimal(score))
