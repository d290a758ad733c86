"""Analysis of each user's progress: every 25 `user` messages queue one analysis, whose
result may move the user up a stage and, at the last, graduate them."""

import uuid
from dataclasses import dataclass
from decimal import Decimal
from statistics import fmean
from typing import Any

from sqlalchemy.orm import Session

from convobase.analysis import repository
from convobase.analysis.analyzer import AnalysisBatch, Assessment, BatchMessage
from convobase.analysis.errors import BatchChanged
from convobase.analysis.models import AnalysisResult, AnalysisType
from convobase.conversations import service as conversation_service
from convobase.conversations.events import UserMessagesCounted
from convobase.core.ids import new_id
from convobase.core.pagination import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    Page,
    every,
    paginate_by_time,
    time_position,
)
from convobase.core.principal import Principal, require_staff
from convobase.core.time import utc_now
from convobase.jobs import service as job_service
from convobase.users import service as user_service

BATCH_SIZE = 25
ANALYSIS_TASK = "analysis"


@dataclass(frozen=True, slots=True)
class MilestoneRule:
    """A user moves up a stage (1 → 2 → 3, then graduates) when `streak` consecutive
    chat scorings since their last move each reach `score`."""

    score: Decimal = Decimal("10.0")
    streak: int = 3


def queue_due_analyses(session: Session, counted: UserMessagesCounted) -> None:
    """Queue one analysis job for each multiple of BATCH_SIZE the user's tally of
    messages passed: batch n for the n-th 25. Its dedup key names the batch."""
    for batch in range(counted.before // BATCH_SIZE + 1, counted.after // BATCH_SIZE + 1):
        job_service.enqueue(
            session,
            ANALYSIS_TASK,
            {"user_id": str(counted.user_id), "batch": batch},
            dedup_key=f"analysis:{counted.user_id}:{batch}",
            for_user_id=counted.user_id,
        )


def load_batch(session: Session, principal: Principal, batch: int) -> AnalysisBatch:
    """The messages analysis `batch` reads: the caller's oldest BATCH_SIZE `user`
    messages that no analysis has included yet."""
    user = user_service.get_user(session, principal)
    messages = conversation_service.unanalysed_user_messages(session, principal, limit=BATCH_SIZE)
    return AnalysisBatch(
        user_id=user.id,
        batch=batch,
        stage=user.stage,
        goals=list(user.goals),
        messages=[
            BatchMessage(m.id, m.conversation_id, m.seq, m.content, m.created_at) for m in messages
        ],
    )


def record_analysis(
    session: Session,
    principal: Principal,
    batch: AnalysisBatch,
    assessment: Assessment,
    *,
    analyzer: str,
    rule: MilestoneRule,
) -> bool:
    """Write the chat scoring of `batch`, mark its messages analysed, and decide whether
    the user moves on; False, writing nothing, if the batch was recorded already."""
    stored = repository.add(
        session,
        _result(
            batch,
            AnalysisType.CHAT_SCORING,
            assessment.chat_score,
            analyzer=analyzer,
            insights=assessment.insights,
            improvement_areas=assessment.improvement_areas,
            strengths_identified=assessment.strengths_identified,
        ),
    )
    if not stored:
        return False
    message_ids = [message.id for message in batch.messages]
    if conversation_service.mark_analysed(session, principal, message_ids) != len(message_ids):
        raise BatchChanged
    _decide_milestone(session, principal, batch, rule)
    return True


def _decide_milestone(
    session: Session, principal: Principal, batch: AnalysisBatch, rule: MilestoneRule
) -> None:
    """Record whether the user's recent scores move them on, and move them if so."""
    user = user_service.get_user(session, principal)
    if user.graduation_date is not None:
        return
    since = repository.last_milestone_batch(session, principal)
    recent = repository.chat_scores_after(session, principal, batch=since, limit=rule.streak)
    scores = [result.chat_score for result in recent]
    reached = len(scores) == rule.streak and all(score >= rule.score for score in scores)
    kind = AnalysisType.GRADUATION_ASSESSMENT if user.stage == 3 else AnalysisType.MILESTONE_CHECK
    stage_before = user.stage
    if reached:
        user = user_service.advance_stage(session, principal)
    insights = {
        "rule": {"score": float(rule.score), "streak": rule.streak},
        "scores": [float(score) for score in reversed(scores)],
        "stage_before": stage_before,
        "stage_after": user.stage,
        "graduated": user.graduation_date is not None,
    }
    mean = Decimal(str(fmean(scores))).quantize(Decimal("0.1")) if scores else Decimal("0.0")
    decision = _result(
        batch, kind, mean, analyzer="milestones", insights=insights, triggered=reached
    )
    repository.add(session, decision)


def list_analyses(
    session: Session,
    principal: Principal,
    *,
    user_id: uuid.UUID | None = None,
    cursor: str | None = None,
    limit: int = DEFAULT_PAGE_SIZE,
) -> Page[AnalysisResult]:
    """Analyses, newest first: the caller's own, or with `user_id` that user's (staff)."""
    if user_id is not None:
        require_staff(principal, "read another user's analyses")
    before = time_position(cursor)
    rows = repository.list_page(session, principal, user_id=user_id, before=before, limit=limit + 1)
    return paginate_by_time(rows, limit, lambda last: (last.created_at, last.id))


def all_analyses(session: Session, principal: Principal) -> list[AnalysisResult]:
    """Every analysis of the caller, newest first."""
    return every(
        lambda cursor: list_analyses(session, principal, cursor=cursor, limit=MAX_PAGE_SIZE)
    )


def _result(
    batch: AnalysisBatch,
    kind: AnalysisType,
    score: Decimal,
    *,
    analyzer: str,
    insights: dict[str, Any],
    improvement_areas: list[str] | None = None,
    strengths_identified: list[str] | None = None,
    triggered: bool = False,
) -> dict[str, Any]:
    return {
        "id": new_id(),
        "user_id": batch.user_id,
        "chat_score": score,
        "analysis_type": kind.value,
        "message_range": _message_range(batch),
        "insights": insights,
        "improvement_areas": improvement_areas or [],
        "strengths_identified": strengths_identified or [],
        "triggered_milestone": triggered,
        "batch": batch.batch,
        "analyzer": analyzer,
        "created_at": utc_now(),
    }


def _message_range(batch: AnalysisBatch) -> dict[str, Any]:
    """Which messages an analysis read: how many, from when to when, and the seqs of
    each conversation."""
    seqs: dict[uuid.UUID, list[int]] = {}
    for message in batch.messages:
        seqs.setdefault(message.conversation_id, []).append(message.seq)
    return {
        "count": len(batch.messages),
        "from": batch.messages[0].created_at.isoformat() if batch.messages else None,
        "to": batch.messages[-1].created_at.isoformat() if batch.messages else None,
        "conversations": [
            {"conversation_id": str(conversation), "first_seq": min(s), "last_seq": max(s)}
            for conversation, s in seqs.items()
        ],
    }
