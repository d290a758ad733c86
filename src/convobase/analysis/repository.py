"""All SQL of analysis results; every statement limited to the caller's rows (staff's
routes: every user's) by the kernel's owner rule."""

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, func, select
from sqlalchemy.orm import Session

from convobase.analysis.models import AnalysisResult, AnalysisType
from convobase.core.principal import Principal
from convobase.db import dialect
from convobase.db.keyset import seek
from convobase.db.ownership import scoped

results = cast(Table, AnalysisResult.__table__)


def add(session: Session, values: dict[str, Any]) -> bool:
    """Store a result unless the user already has one of its type for its batch;
    whether it was stored."""
    statement = (
        dialect.insert(session, AnalysisResult)
        .values(values)
        .on_conflict_do_nothing(
            index_elements=[results.c.user_id, results.c.batch, results.c.analysis_type]
        )
        .returning(results.c.id)
    )
    return session.execute(statement).first() is not None


def last_milestone_batch(session: Session, principal: Principal) -> int:
    """The batch of the caller's latest decision that moved them on, or 0."""
    statement = scoped(
        select(func.max(AnalysisResult.batch)).where(
            AnalysisResult.triggered_milestone,
            AnalysisResult.analysis_type != AnalysisType.CHAT_SCORING.value,
        ),
        AnalysisResult,
        principal,
    )
    batch: int | None = session.execute(statement).scalar_one_or_none()
    return batch or 0


def chat_scores_after(
    session: Session, principal: Principal, *, batch: int, limit: int
) -> Sequence[AnalysisResult]:
    """The caller's latest `limit` chat scorings of batches after `batch`, newest first."""
    statement = scoped(
        select(AnalysisResult).where(
            AnalysisResult.analysis_type == AnalysisType.CHAT_SCORING.value,
            AnalysisResult.batch > batch,
        ),
        AnalysisResult,
        principal,
    )
    return session.scalars(statement.order_by(AnalysisResult.batch.desc()).limit(limit)).all()


def list_page(
    session: Session,
    principal: Principal,
    *,
    user_id: uuid.UUID | None,
    before: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> Sequence[AnalysisResult]:
    """Results newest first, strictly after the cursor: the caller's own, or with
    `user_id`, that user's (staff)."""
    statement = scoped(select(AnalysisResult), AnalysisResult, principal, staff=user_id is not None)
    if user_id is not None:
        statement = statement.where(AnalysisResult.user_id == user_id)
    key = (AnalysisResult.created_at, AnalysisResult.id)
    return session.scalars(seek(statement, key, before, descending=True).limit(limit)).all()
