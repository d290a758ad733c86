"""All SQL of tutoring: the content (dialogs with their roles and lines, texts), which
nobody owns, and each learner's sessions, turn evaluations and word mistakes.

A learner's statements reach their own rows only (`scoped`, `visible`); staff reach
every learner's sessions where the service asks with `staff=True` (the sessions of a
dialog, its purge). Content is read by everyone and written by staff: its tables
have no owner column, and PostgreSQL's policies let only staff change them.
"""

import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any, NamedTuple, cast

from sqlalchemy import (
    Select,
    Table,
    Text,
    Uuid,
    and_,
    case,
    column,
    delete,
    exists,
    func,
    select,
    table,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, selectinload

from convobase.core.pagination import TimePosition
from convobase.core.principal import Principal
from convobase.db.keyset import seek
from convobase.db.ownership import owner_parameters, scope_of, scoped, visible
from convobase.tutoring.models import (
    LessonDialog,
    LessonDialogLine,
    LessonDialogRole,
    LibraryText,
    TurnEvaluation,
    TutorSession,
    WordMistake,
)

mistakes = cast(Table, WordMistake.__table__)
# The story's join reads a learner's email: the users table, as far as it is read here.
_users = table("users", column("id", Uuid()), column("email", Text()))
_PUBLISHED = "published"


# --- content: dialogs -------------------------------------------------------------------


def get_dialog(
    session: Session,
    dialog_id: uuid.UUID,
    *,
    with_roles: bool = True,
    with_script: bool = False,
    for_update: bool = False,
) -> LessonDialog | None:
    """The dialog, with its roles (unless not `with_roles`) and lines (`with_script`)."""
    statement = select(LessonDialog).where(LessonDialog.id == dialog_id)
    return _dialog(
        session, statement, with_roles=with_roles, with_script=with_script, for_update=for_update
    )


def dialog_by_key(
    session: Session, key: str, *, with_script: bool = False, for_update: bool = False
) -> LessonDialog | None:
    """The dialog of this key, with its roles (and lines, `with_script`)."""
    statement = select(LessonDialog).where(LessonDialog.key == key)
    return _dialog(
        session, statement, with_roles=True, with_script=with_script, for_update=for_update
    )


def _dialog(
    session: Session,
    statement: Select[Any],
    *,
    with_roles: bool,
    with_script: bool,
    for_update: bool,
) -> LessonDialog | None:
    if with_roles or with_script:
        statement = statement.options(selectinload(LessonDialog.roles))
    if with_script:
        statement = statement.options(selectinload(LessonDialog.lines))
    if for_update:
        statement = statement.with_for_update(of=LessonDialog)
    row: LessonDialog | None = session.scalars(
        statement.execution_options(populate_existing=True)
    ).one_or_none()
    return row


def dialogs_by_keys(session: Session, keys: Sequence[str]) -> Sequence[LessonDialog]:
    """The dialogs of these keys (all, for none), by key, with their scripts."""
    statement = select(LessonDialog).options(
        selectinload(LessonDialog.roles), selectinload(LessonDialog.lines)
    )
    if keys:
        statement = statement.where(LessonDialog.key.in_(keys))
    return session.scalars(statement.order_by(LessonDialog.key)).all()


def list_dialogs(
    session: Session,
    *,
    statuses: Sequence[str],
    level: str | None,
    language: str | None,
    after: tuple[str, uuid.UUID] | None,
    limit: int,
) -> Sequence[LessonDialog]:
    """Dialogs of these statuses, by title, after a (title, id) position."""
    statement = select(LessonDialog).options(selectinload(LessonDialog.roles))
    statement = statement.where(LessonDialog.status.in_(statuses))
    if level is not None:
        statement = statement.where(LessonDialog.level == level)
    if language is not None:
        statement = statement.where(LessonDialog.language == language)
    statement = seek(statement, (LessonDialog.title, LessonDialog.id), after).limit(limit)
    return session.scalars(statement).all()


def line_counts(
    session: Session, dialog_ids: Sequence[uuid.UUID]
) -> dict[tuple[uuid.UUID, str], int]:
    """How many lines each role of these dialogs says: {(dialog_id, role): count}."""
    if not dialog_ids:
        return {}
    statement = (
        select(LessonDialogLine.dialog_id, LessonDialogLine.role, func.count())
        .where(LessonDialogLine.dialog_id.in_(dialog_ids))
        .group_by(LessonDialogLine.dialog_id, LessonDialogLine.role)
    )
    return {(row[0], row[1]): row[2] for row in session.execute(statement)}


def lines_of(session: Session, dialog_id: uuid.UUID) -> Sequence[LessonDialogLine]:
    """A dialog's lines, in order."""
    statement = select(LessonDialogLine).where(LessonDialogLine.dialog_id == dialog_id)
    return session.scalars(statement.order_by(LessonDialogLine.seq)).all()


@contextmanager
def savepoint(session: Session, *, rollback: bool = False) -> Iterator[None]:
    """A block whose writes are undone alone if it raises (a SAVEPOINT), and all of
    them when it ends if `rollback` (a dry run)."""
    nested = session.begin_nested()
    try:
        yield
    except BaseException:
        nested.rollback()
        raise
    if rollback:
        nested.rollback()
    else:
        nested.commit()


def add(session: Session, row: LessonDialog | LibraryText | TutorSession) -> None:
    session.add(row)
    session.flush()


def save(session: Session) -> None:
    """Write the changes made to loaded rows."""
    session.flush()


def replace_script(
    session: Session,
    dialog_id: uuid.UUID,
    roles: Sequence[LessonDialogRole],
    lines: Sequence[LessonDialogLine],
) -> None:
    """Make `roles` and `lines` the dialog's whole script."""
    session.execute(delete(LessonDialogLine).where(LessonDialogLine.dialog_id == dialog_id))
    session.execute(delete(LessonDialogRole).where(LessonDialogRole.dialog_id == dialog_id))
    session.add_all(roles)
    session.flush()
    session.add_all(lines)
    session.flush()


def delete_row(session: Session, row: LessonDialog | LibraryText) -> None:
    """Delete a dialog (its roles and lines with it) or a text."""
    session.delete(row)
    session.flush()


def has_sessions(
    session: Session,
    principal: Principal,
    *,
    dialog_id: uuid.UUID | None = None,
    text_id: uuid.UUID | None = None,
) -> bool:
    """Whether any learner has a session of the dialog or text (staff: every learner's)."""
    reach = visible(TutorSession, scope_of(principal, staff=True))
    which = (
        TutorSession.dialog_id == dialog_id
        if dialog_id is not None
        else TutorSession.text_id == text_id
    )
    statement = select(exists().where(reach, which))
    return bool(session.scalar(statement, owner_parameters(principal)))


def delete_sessions_of(session: Session, principal: Principal, dialog_id: uuid.UUID) -> int:
    """Delete every learner's sessions of a dialog (staff), their turns with them; how
    many sessions."""
    reach = visible(TutorSession, scope_of(principal, staff=True))
    statement = delete(TutorSession).where(reach, TutorSession.dialog_id == dialog_id)
    result = session.execute(
        statement.execution_options(synchronize_session=False), owner_parameters(principal)
    )
    deleted: int = cast(Any, result).rowcount
    return deleted


# --- content: texts ---------------------------------------------------------------------


def get_text(
    session: Session, text_id: uuid.UUID, *, for_update: bool = False
) -> LibraryText | None:
    statement = select(LibraryText).where(LibraryText.id == text_id)
    if for_update:
        statement = statement.with_for_update()
    return session.scalars(statement.execution_options(populate_existing=True)).one_or_none()


def text_by_key(session: Session, key: str, *, for_update: bool = False) -> LibraryText | None:
    statement = select(LibraryText).where(LibraryText.key == key)
    if for_update:
        statement = statement.with_for_update()
    return session.scalars(statement.execution_options(populate_existing=True)).one_or_none()


def texts_by_keys(session: Session, keys: Sequence[str]) -> Sequence[LibraryText]:
    """The texts of these keys (all, for none), by key."""
    statement = select(LibraryText)
    if keys:
        statement = statement.where(LibraryText.key.in_(keys))
    return session.scalars(statement.order_by(LibraryText.key)).all()


def list_texts(
    session: Session,
    *,
    archived: bool,
    level: str | None,
    language: str | None,
    after: tuple[str, uuid.UUID] | None,
    limit: int,
) -> Sequence[LibraryText]:
    """Texts by title after a (title, id) position; archived ones too if `archived`."""
    statement = select(LibraryText)
    if not archived:
        statement = statement.where(LibraryText.archived_at.is_(None))
    if level is not None:
        statement = statement.where(LibraryText.level == level)
    if language is not None:
        statement = statement.where(LibraryText.language == language)
    statement = seek(statement, (LibraryText.title, LibraryText.id), after).limit(limit)
    return session.scalars(statement).all()


# --- sessions ---------------------------------------------------------------------------


def get_session(
    session: Session, principal: Principal, session_id: uuid.UUID, *, for_update: bool = False
) -> TutorSession | None:
    """The caller's session."""
    statement = scoped(select(TutorSession), TutorSession, principal).where(
        TutorSession.id == session_id
    )
    if for_update:
        statement = statement.with_for_update()
    return session.scalars(statement.execution_options(populate_existing=True)).one_or_none()


def list_sessions(
    session: Session,
    principal: Principal,
    *,
    roleplay: bool | None,
    dialog_id: uuid.UUID | None,
    before: TimePosition | None,
    limit: int,
) -> Sequence[TutorSession]:
    """The caller's sessions, newest first (the story's first query, with
    `roleplay`: `dialog_id IS NOT NULL`)."""
    statement = scoped(select(TutorSession), TutorSession, principal)
    if roleplay is True:
        statement = statement.where(TutorSession.dialog_id.is_not(None))
    elif roleplay is False:
        statement = statement.where(TutorSession.dialog_id.is_(None))
    if dialog_id is not None:
        statement = statement.where(TutorSession.dialog_id == dialog_id)
    key = (TutorSession.created_at, TutorSession.id)
    statement = seek(statement, key, before, descending=True).limit(limit)
    return session.scalars(statement).all()


class StaffSessionRow(NamedTuple):
    session: TutorSession
    email: str | None


def sessions_of_dialog(
    session: Session,
    principal: Principal,
    dialog_id: uuid.UUID,
    *,
    before: TimePosition | None,
    limit: int,
) -> list[StaffSessionRow]:
    """Every learner's sessions of a dialog with their email, newest first (staff; the
    story's second query)."""
    statement = (
        scoped(select(TutorSession, _users.c.email), TutorSession, principal, staff=True)
        .join(_users, _users.c.id == TutorSession.user_id)
        .where(TutorSession.dialog_id == dialog_id)
    )
    key = (TutorSession.created_at, TutorSession.id)
    statement = seek(statement, key, before, descending=True).limit(limit)
    return [StaffSessionRow(row[0], row[1]) for row in session.execute(statement)]


class PracticeRecord(NamedTuple):
    sessions: int
    completed: int
    best_score: int | None
    last_completed_at: datetime | None


def practice_record(session: Session, principal: Principal, dialog_id: uuid.UUID) -> PracticeRecord:
    """The caller's sessions of a dialog: how many, how many completed (the story's third
    query), the best score and the last completion."""
    completed = TutorSession.completed_at.is_not(None)
    columns: list[Any] = [
        func.count(),
        func.count(TutorSession.completed_at),
        func.max(case((completed, TutorSession.score))),
        func.max(TutorSession.completed_at),
    ]
    counts: Select[Any] = select(*columns)
    statement = scoped(counts, TutorSession, principal).where(TutorSession.dialog_id == dialog_id)
    row = session.execute(statement).one()
    return PracticeRecord(row[0], row[1], row[2], row[3])


class Suggestion(NamedTuple):
    dialog: LessonDialog
    sessions: int
    completed: int
    last_practised_at: datetime | None


def suggestions(
    session: Session, principal: Principal, *, level: str, language: str | None, limit: int
) -> list[Suggestion]:
    """Published dialogs of `level` (and `language`) the caller practised least: fewest
    sessions first, then the longest ago, then by title."""
    mine = and_(
        TutorSession.dialog_id == LessonDialog.id,
        visible(TutorSession, scope_of(principal)),
    )
    sessions = func.count(TutorSession.id)
    last = func.max(TutorSession.created_at)
    statement = (
        select(LessonDialog, sessions, func.count(TutorSession.completed_at), last)
        .outerjoin(TutorSession, mine)
        .where(LessonDialog.status == _PUBLISHED, LessonDialog.level == level)
        .group_by(LessonDialog.id)
        .order_by(sessions, last.is_not(None), last, LessonDialog.title, LessonDialog.id)
        .limit(limit)
        .options(selectinload(LessonDialog.roles))
    )
    if language is not None:
        statement = statement.where(LessonDialog.language == language)
    rows = session.execute(statement, owner_parameters(principal))
    return [Suggestion(row[0], row[1], row[2], row[3]) for row in rows]


def latest_level(session: Session, principal: Principal) -> str | None:
    """The level of the caller's latest session."""
    statement = scoped(select(TutorSession.level), TutorSession, principal)
    statement = statement.order_by(TutorSession.created_at.desc(), TutorSession.id.desc())
    level: str | None = session.scalars(statement.limit(1)).first()
    return level


def all_sessions(session: Session, principal: Principal) -> Sequence[TutorSession]:
    statement = scoped(select(TutorSession), TutorSession, principal)
    return session.scalars(statement.order_by(TutorSession.created_at, TutorSession.id)).all()


# --- turns ------------------------------------------------------------------------------


def turn_by_client_id(
    session: Session, principal: Principal, session_id: uuid.UUID, client_turn_id: str
) -> TurnEvaluation | None:
    statement = scoped(select(TurnEvaluation), TurnEvaluation, principal).where(
        TurnEvaluation.session_id == session_id,
        TurnEvaluation.client_turn_id == client_turn_id,
    )
    return session.scalars(statement).one_or_none()


class LineTally(NamedTuple):
    """What the turns at one line came to: how many, the best score, and whether one
    passed it or moved on from it."""

    attempts: int
    best_score: int
    done: bool


def line_tallies(
    session: Session, principal: Principal, session_id: uuid.UUID
) -> dict[int, LineTally]:
    """The session's turns, per line seq."""
    done = func.max(
        case((TurnEvaluation.verdict == "pass", 1), (TurnEvaluation.moved_on, 1), else_=0)
    )
    columns: list[Any] = [
        TurnEvaluation.line_seq,
        func.count(),
        func.max(TurnEvaluation.score),
        done,
    ]
    tally: Select[Any] = select(*columns)
    statement = scoped(tally, TurnEvaluation, principal).where(
        TurnEvaluation.session_id == session_id
    )
    statement = statement.group_by(TurnEvaluation.line_seq)
    return {row[0]: LineTally(row[1], row[2], bool(row[3])) for row in session.execute(statement)}


def attempts_at(
    session: Session, principal: Principal, session_id: uuid.UUID, line_seq: int
) -> int:
    """How many turns the session took at a line."""
    statement = scoped(select(func.count()), TurnEvaluation, principal).where(
        TurnEvaluation.session_id == session_id, TurnEvaluation.line_seq == line_seq
    )
    return int(session.scalar(statement) or 0)


def stage(session: Session, turn: TurnEvaluation) -> None:
    """Add a turn, to be written with the next flush (`save`)."""
    session.add(turn)


def list_turns(
    session: Session, principal: Principal, session_id: uuid.UUID, *, after: int | None, limit: int
) -> Sequence[TurnEvaluation]:
    """A session's turns in order, after turn number `after`."""
    statement = scoped(select(TurnEvaluation), TurnEvaluation, principal).where(
        TurnEvaluation.session_id == session_id
    )
    after_turn = None if after is None else (after,)
    statement = seek(statement, (TurnEvaluation.turn,), after_turn).limit(limit)
    return session.scalars(statement).all()


def all_turns(session: Session, principal: Principal) -> Sequence[TurnEvaluation]:
    statement = scoped(select(TurnEvaluation), TurnEvaluation, principal)
    order = (TurnEvaluation.created_at, TurnEvaluation.session_id, TurnEvaluation.turn)
    return session.scalars(statement.order_by(*order)).all()


# --- word mistakes ----------------------------------------------------------------------


def record_mistakes(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Count each mistake (a dict of `word_mistakes` columns, one per user, language and
    word): a word met before adds its counts to the row it has, and keeps its latest
    misspelling, example and time."""
    if not rows:
        return
    build = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    statement = build(mistakes).values(list(rows))
    new = statement.excluded
    statement = statement.on_conflict_do_update(
        index_elements=["user_id", "language", "word"],
        set_={
            "missed": mistakes.c.missed + new.missed,
            "misspelled": mistakes.c.misspelled + new.misspelled,
            "display": new.display,
            "last_said": func.coalesce(new.last_said, mistakes.c.last_said),
            "example": new.example,
            "example_translation": new.example_translation,
            "last_seen_at": new.last_seen_at,
        },
    )
    session.execute(statement)


def list_mistakes(
    session: Session,
    principal: Principal,
    *,
    language: str | None,
    before: TimePosition | None,
    limit: int,
) -> Sequence[WordMistake]:
    """The caller's word mistakes, the latest met first."""
    statement = scoped(select(WordMistake), WordMistake, principal)
    if language is not None:
        statement = statement.where(WordMistake.language == language)
    key = (WordMistake.last_seen_at, WordMistake.id)
    statement = seek(statement, key, before, descending=True).limit(limit)
    return session.scalars(statement.execution_options(populate_existing=True)).all()


def all_mistakes(session: Session, principal: Principal) -> Sequence[WordMistake]:
    statement = scoped(select(WordMistake), WordMistake, principal)
    return session.scalars(statement.order_by(WordMistake.first_seen_at, WordMistake.id)).all()
