import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any, Final

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from convobase.core.time import utc_now
from convobase.db.base import Base, IdMixin, TimestampsMixin, one_of, relationship
from convobase.db.ownership import UserOwned

MAX_KEY_LENGTH: Final = 100
MAX_TITLE_LENGTH: Final = 200
MAX_LANGUAGE_LENGTH: Final = 35
MAX_DESCRIPTION_LENGTH: Final = 4000
MAX_BODY_LENGTH: Final = 20_000
MAX_ROLE_NAME_LENGTH: Final = 60
MAX_LINE_LENGTH: Final = 1000
MAX_WORD_LENGTH: Final = 100
MAX_SAID_LENGTH: Final = 2000
MAX_CLIENT_TURN_ID_LENGTH: Final = 100
MAX_EVALUATOR_LENGTH: Final = 200
# A turn's details, in characters of their JSON text: the service stores far less.
MAX_STORED_DETAILS: Final = 64 * 1024

# The story's names, kept: what its test cases and rollback plan refer to.
DIALOG_INDEX: Final = "idx_tutor_sessions_dialog_id"
USER_DIALOG_INDEX: Final = "idx_tutor_sessions_user_dialog"
HAS_DIALOG: Final = "dialog_id IS NOT NULL"
DIALOG_ID_COMMENT: Final = (
    "References the lesson dialog being practiced (NULL for library text sessions)"
)
SELECTED_ROLE_COMMENT: Final = 'The character name the user chose to play (e.g., "María", "Carlos")'


class CefrLevel(StrEnum):
    """A level of the Common European Framework of Reference for languages, A1
    (beginner) to C2 (mastery)."""

    A1 = "A1"
    A2 = "A2"
    B1 = "B1"
    B2 = "B2"
    C1 = "C1"
    C2 = "C2"


class DialogStatus(StrEnum):
    """Where a lesson dialog stands: written (staff only), open to learners, or
    withdrawn (no new sessions; those begun may finish, and their history stays)."""

    DRAFT = "draft"
    PUBLISHED = "published"
    ARCHIVED = "archived"


class TurnVerdict(StrEnum):
    """What a turn's evaluation says: the line was said well enough to go on, or it is
    worth another try."""

    PASS = "pass"
    RETRY = "retry"


def _length(column: str, maximum: int, *, minimum: int = 1) -> CheckConstraint:
    return CheckConstraint(
        f"{column} IS NULL OR length({column}) BETWEEN {minimum} AND {maximum}",
        name=f"{column}_length",
    )


class LibraryText(IdMixin, TimestampsMixin, Base):
    """A text of the reading library, read aloud sentence by sentence in reading
    practice. One that sessions used is archived, never deleted; `version` grows when
    its body changes."""

    __tablename__ = "library_texts"
    __table_args__ = (
        CheckConstraint(one_of("level", CefrLevel), name="level"),
        _length("key", MAX_KEY_LENGTH),
        _length("title", MAX_TITLE_LENGTH),
        _length("language", MAX_LANGUAGE_LENGTH, minimum=2),
        _length("body", MAX_BODY_LENGTH),
        CheckConstraint("version >= 1", name="version_positive"),
        # The learners' library: texts not archived, by language and level.
        Index(
            "ix_library_texts_available",
            "language",
            "level",
            "title",
            "id",
            sqlite_where=text("archived_at IS NULL"),
            postgresql_where=text("archived_at IS NULL"),
        ),
        {
            "comment": (
                "A text of the reading library, read aloud sentence by sentence in reading "
                "practice (docs/tutoring.md). Nobody owns it: every caller reads it "
                "(learners see texts not archived), staff write it. A text read in sessions "
                "is archived, never deleted."
            ),
            "info": {"stories": ("000",)},
        },
    )

    key: Mapped[str] = mapped_column(
        unique=True, comment="What content files match by, 1..100 characters, unique."
    )
    title: Mapped[str] = mapped_column(comment="1..200 characters.")
    language: Mapped[str] = mapped_column(comment="A BCP 47 tag, 2..35 characters: es.")
    level: Mapped[str] = mapped_column(comment="A1, A2, B1, B2, C1 or C2 (CHECK).")
    body: Mapped[str] = mapped_column(
        comment="What is read aloud, sentence by sentence, 1..20,000 characters."
    )
    version: Mapped[int] = mapped_column(
        default=1, server_default=text("1"), comment="Grows when the body changes, from 1."
    )
    archived_at: Mapped[datetime | None] = mapped_column(
        comment=("Set when the text is archived: a text read in sessions is archived, not deleted.")
    )


class LessonDialog(IdMixin, TimestampsMixin, Base):
    """A scripted dialog a learner practises by playing one of its roles. `version`
    grows whenever its roles or lines change; a session began on one version."""

    __tablename__ = "lesson_dialogs"
    __table_args__ = (
        CheckConstraint(one_of("level", CefrLevel), name="level"),
        CheckConstraint(one_of("status", DialogStatus), name="status"),
        _length("key", MAX_KEY_LENGTH),
        _length("title", MAX_TITLE_LENGTH),
        _length("language", MAX_LANGUAGE_LENGTH, minimum=2),
        _length("description", MAX_DESCRIPTION_LENGTH, minimum=0),
        CheckConstraint("version >= 1", name="version_positive"),
        # The learners' catalog, and the suggestions: published dialogs by language
        # and level.
        Index(
            "ix_lesson_dialogs_published",
            "language",
            "level",
            "title",
            "id",
            sqlite_where=text("status = 'published'"),
            postgresql_where=text("status = 'published'"),
        ),
        {
            "comment": (
                "A scripted dialog a learner practises by playing one of its roles (story "
                "000's lesson_dialogs; docs/tutoring.md). Nobody owns it: every caller "
                "reads it (learners see published dialogs), staff write it. version grows "
                "whenever its roles or lines change. A dialog someone practised is "
                "archived, and only a staff purge deletes it."
            ),
            "info": {"stories": ("000",)},
        },
    )

    key: Mapped[str] = mapped_column(
        unique=True, comment="What content files match by, 1..100 characters, unique."
    )
    title: Mapped[str] = mapped_column(comment="1..200 characters.")
    language: Mapped[str] = mapped_column(comment="A BCP 47 tag, 2..35 characters: es.")
    level: Mapped[str] = mapped_column(comment="A1, A2, B1, B2, C1 or C2 (CHECK).")
    description: Mapped[str | None] = mapped_column(comment="At most 4000 characters.")
    status: Mapped[str] = mapped_column(
        server_default=text("'draft'"),
        comment=(
            "draft (staff only), published (open to learners) or archived (no new "
            "sessions) (CHECK)."
        ),
    )
    version: Mapped[int] = mapped_column(
        default=1,
        server_default=text("1"),
        comment="Grows whenever the dialog's roles or lines change, from 1.",
    )

    roles: Mapped[list["LessonDialogRole"]] = relationship(
        order_by="LessonDialogRole.position", viewonly=True
    )
    lines: Mapped[list["LessonDialogLine"]] = relationship(
        order_by="LessonDialogLine.seq", viewonly=True
    )


class LessonDialogRole(IdMixin, Base):
    """A character of a dialog ("María", "Carlos"), and whether learners may play it."""

    __tablename__ = "lesson_dialog_roles"
    __table_args__ = (
        _length("name", MAX_ROLE_NAME_LENGTH),
        _length("description", MAX_DESCRIPTION_LENGTH, minimum=0),
        CheckConstraint("position >= 1", name="position_positive"),
        UniqueConstraint("dialog_id", "name"),
        UniqueConstraint("dialog_id", "position"),
        {
            "comment": (
                "A character of a lesson dialog, and whether learners may play it. Replaced "
                "whole with the dialog's lines when its script changes (a new version)."
            ),
            "info": {"stories": ("000",)},
        },
    )

    dialog_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("lesson_dialogs.id", ondelete="CASCADE"),
        comment="The dialog; its roles go with it.",
    )
    position: Mapped[int] = mapped_column(comment="1, 2, 3...; unique within the dialog.")
    name: Mapped[str] = mapped_column(
        comment="The character's name, 1..60 characters; unique within the dialog."
    )
    description: Mapped[str | None] = mapped_column(comment="At most 4000 characters.")
    playable: Mapped[bool] = mapped_column(
        default=True, server_default=text("true"), comment="Whether learners may play it."
    )


class LessonDialogLine(IdMixin, Base):
    """A line of a dialog, said by one of its roles, numbered 1, 2, 3… by `seq`: the
    text (what a learner playing the role should say), its translation, other ways of
    saying it that are as good, and the words it teaches."""

    __tablename__ = "lesson_dialog_lines"
    __table_args__ = (
        CheckConstraint("seq >= 1", name="seq_positive"),
        _length("text", MAX_LINE_LENGTH),
        _length("translation", MAX_LINE_LENGTH),
        UniqueConstraint("dialog_id", "seq"),
        # Said by a role of the same dialog.
        ForeignKeyConstraint(
            ["dialog_id", "role"],
            ["lesson_dialog_roles.dialog_id", "lesson_dialog_roles.name"],
            name="fk_lesson_dialog_lines_role_lesson_dialog_roles",
            ondelete="CASCADE",
            onupdate="CASCADE",
        ),
        {
            "comment": (
                "A line of a lesson dialog, in order by seq, said by one of its roles "
                "((dialog_id, role) is a foreign key to the role's (dialog_id, name)): what "
                "a learner playing the role should say, its translation, other ways of "
                "saying it that are as good, and the words it teaches. Replaced whole with "
                "the roles when the script changes."
            ),
            "info": {"stories": ("000",)},
        },
    )

    dialog_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("lesson_dialogs.id", ondelete="CASCADE"),
        comment="The dialog; its lines go with it.",
    )
    seq: Mapped[int] = mapped_column(comment="1, 2, 3...; unique within the dialog.")
    role: Mapped[str] = mapped_column(
        comment="The name of the role that says it, a role of the same dialog."
    )
    text: Mapped[str] = mapped_column(
        comment="What a learner playing the role should say, 1..1000 characters."
    )
    translation: Mapped[str] = mapped_column(comment="The line's translation, 1..1000 characters.")
    variants: Mapped[list[str]] = mapped_column(
        comment="Other ways of saying the line that are as good."
    )
    target_words: Mapped[list[str]] = mapped_column(comment="The words the line teaches.")


class TutorSession(IdMixin, UserOwned, Base):
    """One learner's practice of a lesson dialog, playing `selected_role`, or of a
    library text: story 000's `tutor_sessions` with its columns, plus the transcript
    conversation, the content version it follows, the line expected next, how many
    turns were taken, and the summary score once completed.

    `dialog_id` refers to the dialog RESTRICT, not the story's CASCADE: a dialog with
    sessions is archived, and only a staff purge removes it with its sessions."""

    user_id_indexed = False  # led by user_id: the indexes below

    __tablename__ = "tutor_sessions"
    __table_args__ = (
        CheckConstraint(one_of("level", CefrLevel), name="level"),
        CheckConstraint(
            f"selected_role IS NULL OR length(selected_role) BETWEEN 1 AND {MAX_ROLE_NAME_LENGTH}",
            name="selected_role_length",
        ),
        CheckConstraint("(dialog_id IS NULL) = (selected_role IS NULL)", name="role_iff_dialog"),
        CheckConstraint("dialog_id IS NULL OR text_id IS NULL", name="dialog_or_text"),
        CheckConstraint("content_version IS NULL OR content_version >= 1", name="content_version"),
        CheckConstraint("expected_seq IS NULL OR expected_seq >= 1", name="expected_seq_positive"),
        CheckConstraint(
            "completed_at IS NULL OR expected_seq IS NULL", name="completed_expects_nothing"
        ),
        CheckConstraint("turns >= 0", name="turns_non_negative"),
        CheckConstraint("score IS NULL OR score BETWEEN 0 AND 100", name="score_range"),
        # A user's sessions, newest first (the story's first query).
        Index("ix_tutor_sessions_user_id_created_at", "user_id", "created_at", "id"),
        Index("ix_tutor_sessions_text_id", "text_id"),
        # The story's indexes: the sessions of a dialog, and a user's of a dialog.
        Index(
            DIALOG_INDEX,
            "dialog_id",
            sqlite_where=text(HAS_DIALOG),
            postgresql_where=text(HAS_DIALOG),
        ),
        Index(
            USER_DIALOG_INDEX,
            "user_id",
            "dialog_id",
            sqlite_where=text(HAS_DIALOG),
            postgresql_where=text(HAS_DIALOG),
        ),
        Index("ix_tutor_sessions_conversation_id", "conversation_id"),
        {
            "comment": (
                "Story 000's tutor_sessions: one learner's practice of a lesson dialog, "
                "playing selected_role, or of a library text, with the story's columns, "
                "plus the transcript conversation, the content version it follows, the line "
                "expected next, the turns taken and the score once completed. Revision 0013 "
                "creates the table as it stood before the story, 0014 is the story's "
                "migration, 0015 adds the rest. A session practises a dialog or a text, not "
                "both (CHECK). The story's indexes idx_tutor_sessions_dialog_id and "
                "idx_tutor_sessions_user_dialog serve the sessions of a dialog and whether "
                "a user practised one."
            ),
            "info": {"stories": ("000",)},
        },
    )

    # No ON DELETE, as the story has it: a text with sessions is archived.
    text_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("library_texts.id"),
        comment=(
            "The library text read, for reading practice; null for a dialog. No ON "
            "DELETE, as the story has it: a text with sessions is archived."
        ),
    )
    dialog_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("lesson_dialogs.id", ondelete="RESTRICT"), comment=DIALOG_ID_COMMENT
    )
    level: Mapped[str] = mapped_column(comment="A1..C2 (CHECK): the dialog's or text's.")
    selected_role: Mapped[str | None] = mapped_column(comment=SELECTED_ROLE_COMMENT)
    created_at: Mapped[datetime] = mapped_column(
        default=utc_now, server_default=func.now(), comment="When the session started."
    )
    completed_at: Mapped[datetime | None] = mapped_column(comment="When the last line was said.")
    # SET NULL: the learner may delete the transcript; the next turn starts another.
    conversation_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("conversations.id", ondelete="SET NULL"),
        comment=(
            "The transcript (kind roleplay); SET NULL: the learner may delete it, and "
            "the next turn starts another."
        ),
    )
    content_version: Mapped[int | None] = mapped_column(
        comment="The version of the dialog or text it follows."
    )
    # The seq of the line the learner is to say next; null once completed.
    expected_seq: Mapped[int | None] = mapped_column(
        comment="The seq of the line to say next; null once completed (CHECK)."
    )
    turns: Mapped[int] = mapped_column(
        default=0, server_default=text("0"), comment="Turns taken, retries included."
    )
    score: Mapped[int | None] = mapped_column(
        comment=("0..100, once completed: the mean of each of the learner's lines' best score.")
    )


class TurnEvaluation(IdMixin, UserOwned, Base):
    """One turn of a session: what the learner said for the line expected, how it was
    evaluated (score, verdict, the words missing, extra and misspelled, the target
    words used), and by which evaluator. `client_turn_id` makes a retried turn answer
    the first one."""

    __tablename__ = "turn_evaluations"
    __table_args__ = (
        CheckConstraint("turn >= 1", name="turn_positive"),
        CheckConstraint("line_seq >= 1", name="line_seq_positive"),
        CheckConstraint("attempt >= 1", name="attempt_positive"),
        CheckConstraint("score BETWEEN 0 AND 100", name="score_range"),
        CheckConstraint(one_of("verdict", TurnVerdict), name="verdict"),
        CheckConstraint("NOT moved_on OR verdict = 'retry'", name="moved_on_after_retry"),
        _length("said", MAX_SAID_LENGTH),
        _length("expected", MAX_LINE_LENGTH),
        _length("client_turn_id", MAX_CLIENT_TURN_ID_LENGTH),
        _length("evaluator", MAX_EVALUATOR_LENGTH),
        CheckConstraint(
            f"length(CAST(details AS TEXT)) <= {MAX_STORED_DETAILS}", name="details_size"
        ),
        UniqueConstraint("session_id", "turn"),
        UniqueConstraint("session_id", "client_turn_id"),
        Index("ix_turn_evaluations_session_id_line_seq", "session_id", "line_seq"),
        {
            "comment": (
                "One turn of a tutor session: what the learner said for the line expected, "
                "how it was evaluated (score, verdict, the words missing, extra and "
                "misspelled, the target words used) and by which evaluator. A retried turn "
                "with the same client_turn_id finds the first."
            ),
            "info": {"stories": ("000",)},
        },
    )

    session_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tutor_sessions.id", ondelete="CASCADE"),
        comment="The tutor session; its turns go with it.",
    )
    turn: Mapped[int] = mapped_column(comment="1, 2, 3... per session; unique with it.")
    line_seq: Mapped[int] = mapped_column(comment="The seq of the line expected.")
    attempt: Mapped[int] = mapped_column(comment="The try at that line, from 1.")
    # SET NULL: the learner may delete the transcript; the evaluation stays.
    message_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("messages.id", ondelete="SET NULL"),
        index=True,
        comment=(
            "The turn's message in the transcript; SET NULL: the learner may delete the "
            "transcript, and the evaluation stays."
        ),
    )
    client_turn_id: Mapped[str | None] = mapped_column(
        comment=(
            "The client's key for the turn, 1..100 characters; unique per session: a "
            "retried turn finds the first."
        )
    )
    said: Mapped[str] = mapped_column(comment="What the learner said, 1..2000 characters.")
    expected: Mapped[str] = mapped_column(comment="The line's text then, 1..1000 characters.")
    score: Mapped[int] = mapped_column(comment="How well the line was said, 0..100.")
    verdict: Mapped[str] = mapped_column(comment="pass or retry (CHECK).")
    moved_on: Mapped[bool] = mapped_column(
        default=False,
        server_default=text("false"),
        comment="The last try at a line the session went on from; only with retry (CHECK).",
    )
    # {matched, similarity, missing, extra, misspelled, target_words_used, ...}
    details: Mapped[dict[str, Any]] = mapped_column(
        comment=(
            "The accepted text matched, the similarity, the words missing, extra and "
            "misspelled, the target words used and missed; at most 64 KiB as text "
            "(CHECK)."
        )
    )
    evaluator: Mapped[str] = mapped_column(
        comment="The evaluator's name and version, 1..200 characters."
    )
    created_at: Mapped[datetime] = mapped_column(
        default=utc_now, comment="When the turn was evaluated."
    )


class WordMistake(IdMixin, UserOwned, Base):
    """A word a learner missed or misspelled in their turns, once per language and
    word (compared without case or accents), with how often, the last misspelling,
    and the line it was last met in."""

    user_id_indexed = False  # led by user_id: the indexes below

    __tablename__ = "word_mistakes"
    __table_args__ = (
        _length("language", MAX_LANGUAGE_LENGTH, minimum=2),
        _length("word", MAX_WORD_LENGTH),
        _length("display", MAX_WORD_LENGTH),
        _length("last_said", MAX_WORD_LENGTH),
        _length("example", MAX_LINE_LENGTH),
        _length("example_translation", MAX_LINE_LENGTH),
        CheckConstraint("missed >= 0", name="missed_non_negative"),
        CheckConstraint("misspelled >= 0", name="misspelled_non_negative"),
        CheckConstraint("missed + misspelled >= 1", name="counted"),
        Index("uq_word_mistakes_user_id_language_word", "user_id", "language", "word", unique=True),
        Index("ix_word_mistakes_user_id_last_seen_at", "user_id", "last_seen_at", "id"),
        {
            "comment": (
                "The words each learner missed or misspelled in their turns, once per "
                "language and word (compared without case or accents), with how often, the "
                "last misspelling, and the line it was last met in. The index (user_id, "
                "last_seen_at, id) serves the learner's list."
            ),
            "info": {"stories": ("000",)},
        },
    )

    language: Mapped[str] = mapped_column(comment="The line's language, 2..35 characters.")
    word: Mapped[str] = mapped_column(
        comment=("The word normalised (without case or accents): unique with user_id and language.")
    )  # normalised: what makes two mistakes one
    display: Mapped[str] = mapped_column(
        comment="The word as the line writes it."
    )  # as the line writes it
    missed: Mapped[int] = mapped_column(
        default=0, server_default=text("0"), comment="Times the learner missed it, at least 0."
    )
    misspelled: Mapped[int] = mapped_column(
        default=0,
        server_default=text("0"),
        comment=("Times the learner misspelled it, at least 0; with missed, at least one (CHECK)."),
    )
    last_said: Mapped[str | None] = mapped_column(comment="The last misspelling.")
    example: Mapped[str | None] = mapped_column(comment="The line it was last met in.")
    example_translation: Mapped[str | None] = mapped_column(comment="That line's translation.")
    first_seen_at: Mapped[datetime] = mapped_column(
        comment="When the word was first missed or misspelled."
    )
    last_seen_at: Mapped[datetime] = mapped_column(
        comment="When the word was last missed or misspelled."
    )
