import uuid
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, Final

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from convobase.db.base import (
    Base,
    CreatedAtMixin,
    IdMixin,
    JSONDocument,
    Percent,
    TimestampsMixin,
    one_of,
    relationship,
)
from convobase.db.ownership import UserOwned

MAX_KEY_LENGTH: Final = 100
MAX_TITLE_LENGTH: Final = 255
MAX_DESCRIPTION_LENGTH: Final = 20_000
MAX_URL_LENGTH: Final = 500
MAX_TAG_LENGTH: Final = 100
MAX_DURATION_MINUTES: Final = 100_000
MAX_TIME_LIMIT_MINUTES: Final = 24 * 60
MAX_ATTEMPTS_LIMIT: Final = 100
# Bounds on an assessment's stored documents, in characters of their JSON text; the
# service keeps what it writes within the smaller bounds of learning/questions.py.
MAX_STORED_QUESTIONS: Final = 2 * 1024 * 1024
MAX_STORED_SCORING: Final = 256 * 1024


class CourseLevel(StrEnum):
    """Who a course is for."""

    BEGINNER = "beginner"
    INTERMEDIATE = "intermediate"
    ADVANCED = "advanced"


class Difficulty(StrEnum):
    """How hard an assessment is."""

    EASY = "easy"
    MEDIUM = "medium"
    HARD = "hard"


def _length(column: str, maximum: int, *, minimum: int = 1) -> CheckConstraint:
    return CheckConstraint(
        f"{column} IS NULL OR length({column}) BETWEEN {minimum} AND {maximum}",
        name=f"{column}_length",
    )


class Course(IdMixin, TimestampsMixin, Base):
    """A course of the catalog: its story columns, a stable `key` for content files, and
    `archived_at` once it is withdrawn (a course someone studied is archived, never
    deleted). Tags and prerequisites are rows of their own, indexed on both databases."""

    __tablename__ = "courses"
    __table_args__ = (
        CheckConstraint(one_of("level", CourseLevel), name="level"),
        _length("key", MAX_KEY_LENGTH),
        _length("title", MAX_TITLE_LENGTH),
        _length("description", MAX_DESCRIPTION_LENGTH, minimum=0),
        _length("content_path", MAX_URL_LENGTH),
        _length("video_url", MAX_URL_LENGTH),
        _length("thumbnail_url", MAX_URL_LENGTH),
        CheckConstraint(
            f"duration_minutes IS NULL OR duration_minutes BETWEEN 0 AND {MAX_DURATION_MINUTES}",
            name="duration_minutes_range",
        ),
        CheckConstraint("archived_at IS NULL OR NOT is_active", name="archived_inactive"),
        Index("uq_courses_level_title", "level", "title", unique=True),
        # The learners' catalog: active courses by level, in title order.
        Index(
            "ix_courses_active_level",
            "level",
            "title",
            "id",
            sqlite_where=text("is_active"),
            postgresql_where=text("is_active"),
        ),
        # ... and of every level.
        Index(
            "ix_courses_active_title",
            "title",
            "id",
            sqlite_where=text("is_active"),
            postgresql_where=text("is_active"),
        ),
        {
            "comment": (
                "Story 001's course catalog (docs/learning.md). Nobody owns a course: every "
                "caller reads the table, only staff change it, and learners see active "
                "courses only. A course someone studied or another requires is archived "
                "(inactive, archived_at set), never deleted. Tags and prerequisites are "
                "rows of their own. Indexes: UNIQUE (level, title); the learners' catalog "
                "of active courses by level and title."
            ),
            "info": {"stories": ("001",)},
        },
    )

    key: Mapped[str] = mapped_column(
        unique=True, comment="The stable name content files use, 1..100 characters, unique."
    )
    title: Mapped[str] = mapped_column(comment="1..255 characters; unique within its level.")
    description: Mapped[str | None] = mapped_column(comment="At most 20,000 characters.")
    level: Mapped[str] = mapped_column(comment="beginner, intermediate or advanced (CHECK).")
    content_path: Mapped[str | None] = mapped_column(
        comment="Where the course's content is, at most 500 characters."
    )
    video_url: Mapped[str | None] = mapped_column(
        comment="The course's video, at most 500 characters."
    )
    thumbnail_url: Mapped[str | None] = mapped_column(
        comment="The course's thumbnail, at most 500 characters."
    )
    duration_minutes: Mapped[int | None] = mapped_column(
        comment="How long the course takes, 0..100,000 minutes."
    )
    is_active: Mapped[bool] = mapped_column(
        default=True, server_default=text("true"), comment="Whether learners see the course."
    )
    archived_at: Mapped[datetime | None] = mapped_column(
        comment=(
            "Set when a delete was refused because the course was studied or is "
            "required; only on an inactive course (CHECK)."
        )
    )

    tags: Mapped[list["CourseTag"]] = relationship(
        cascade="all, delete-orphan", order_by="CourseTag.tag"
    )
    prerequisites: Mapped[list["CoursePrerequisite"]] = relationship(
        cascade="all, delete-orphan",
        foreign_keys="CoursePrerequisite.course_id",
        order_by="CoursePrerequisite.prerequisite_id",
    )
    sections: Mapped[list["CourseSection"]] = relationship(
        cascade="all, delete-orphan", order_by="CourseSection.position"
    )


class CourseTag(Base):
    """One tag of a course. `(tag, course_id)` is the index the catalog filters by."""

    __tablename__ = "course_tags"
    __table_args__ = (
        _length("tag", MAX_TAG_LENGTH),
        Index("ix_course_tags_tag_course_id", "tag", "course_id"),
        {
            "comment": (
                "Story 001's tags column as rows: one tag of a course. The index (tag, "
                "course_id) is what the catalog's tag filter uses, on both databases."
            ),
            "info": {"stories": ("001",)},
        },
    )

    course_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("courses.id", ondelete="CASCADE"),
        primary_key=True,
        comment="The course tagged; the tag goes with it.",
    )
    tag: Mapped[str] = mapped_column(primary_key=True, comment="The tag, 1..100 characters.")


class CoursePrerequisite(Base):
    """A course that must be completed before another: an edge of the prerequisite DAG.
    A course that others require cannot be deleted (RESTRICT), only archived."""

    __tablename__ = "course_prerequisites"
    __table_args__ = (
        CheckConstraint("course_id <> prerequisite_id", name="not_itself"),
        Index("ix_course_prerequisites_prerequisite_id", "prerequisite_id"),
        {
            "comment": (
                "Story 001's prerequisites as rows: a course that must be completed before "
                "another, an edge of the prerequisite graph, which the service keeps "
                "acyclic. Each is a real course (a foreign key), never the course itself "
                "(CHECK); a course others require is archived, not deleted (RESTRICT)."
            ),
            "info": {"stories": ("001",)},
        },
    )

    course_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("courses.id", ondelete="CASCADE"),
        primary_key=True,
        comment="The course that requires another; its prerequisites go with it.",
    )
    prerequisite_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("courses.id", ondelete="RESTRICT"),
        primary_key=True,
        comment=(
            "The course required first, never the course itself (CHECK); RESTRICT: a "
            "required course is archived, not deleted."
        ),
    )


class CourseSection(IdMixin, TimestampsMixin, Base):
    """A section of a course, in order. A section learners completed is withdrawn
    (`is_active` false, no position) instead of deleted, so their history stays."""

    __tablename__ = "course_sections"
    __table_args__ = (
        _length("key", MAX_KEY_LENGTH),
        _length("title", MAX_TITLE_LENGTH),
        _length("content_path", MAX_URL_LENGTH),
        CheckConstraint(
            "(is_active AND position IS NOT NULL AND position >= 1)"
            " OR (NOT is_active AND position IS NULL)",
            name="position_iff_active",
        ),
        CheckConstraint(
            f"duration_minutes IS NULL OR duration_minutes BETWEEN 0 AND {MAX_DURATION_MINUTES}",
            name="duration_minutes_range",
        ),
        Index("uq_course_sections_course_id_key", "course_id", "key", unique=True),
        Index("ix_course_sections_course_id_position", "course_id", "position"),
        {
            "comment": (
                "A section of a course, in order of position. A section learners completed "
                "is withdrawn (is_active false, no position) instead of deleted, so their "
                "history stays."
            ),
            "info": {"stories": ("001",)},
        },
    )

    course_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("courses.id", ondelete="CASCADE"), comment="The course; its sections go with it."
    )
    key: Mapped[str] = mapped_column(comment="1..100 characters; unique within the course.")
    position: Mapped[int | None] = mapped_column(
        comment="1, 2, 3... while active; null once withdrawn (CHECK)."
    )
    title: Mapped[str] = mapped_column(comment="1..255 characters.")
    content_path: Mapped[str | None] = mapped_column(
        comment="Where the section's content is, at most 500 characters."
    )
    duration_minutes: Mapped[int | None] = mapped_column(
        comment="How long the section takes, 0..100,000 minutes."
    )
    is_active: Mapped[bool] = mapped_column(
        default=True,
        server_default=text("true"),
        comment="False once withdrawn: kept for the learners who completed it.",
    )


class Assessment(IdMixin, TimestampsMixin, Base):
    """An assessment of a course: the story's columns, holding its current version's
    questions and scoring. Every change to what grading reads makes a new version
    (`assessment_versions`), so an attempt is graded against the version it started on."""

    __tablename__ = "assessments"
    __table_args__ = (
        CheckConstraint(one_of("difficulty", Difficulty), name="difficulty"),
        _length("key", MAX_KEY_LENGTH),
        _length("title", MAX_TITLE_LENGTH),
        _length("description", MAX_DESCRIPTION_LENGTH, minimum=0),
        CheckConstraint("pass_threshold BETWEEN 0 AND 100", name="pass_threshold_range"),
        CheckConstraint(
            f"time_limit_minutes IS NULL OR time_limit_minutes BETWEEN 1 AND "
            f"{MAX_TIME_LIMIT_MINUTES}",
            name="time_limit_minutes_range",
        ),
        CheckConstraint(
            f"max_attempts IS NULL OR max_attempts BETWEEN 1 AND {MAX_ATTEMPTS_LIMIT}",
            name="max_attempts_range",
        ),
        CheckConstraint("version >= 1", name="version_positive"),
        CheckConstraint(
            f"length(CAST(questions AS TEXT)) <= {MAX_STORED_QUESTIONS}", name="questions_size"
        ),
        CheckConstraint(
            f"length(CAST(scoring_config AS TEXT)) <= {MAX_STORED_SCORING}",
            name="scoring_config_size",
        ),
        Index("uq_assessments_course_id_key", "course_id", "key", unique=True),
        Index("ix_assessments_difficulty", "difficulty"),
        {
            "comment": (
                "An assessment of a course, with story 001's columns, holding its current "
                "version's questions and scoring. Every change to what grading reads makes "
                "a new version (assessment_versions), so an attempt is graded against the "
                "version it started on. An assessment someone attempted is deactivated, "
                "never deleted."
            ),
            "info": {"stories": ("001",)},
        },
    )

    # RESTRICT: courses are archived, not deleted, once they have assessments.
    course_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("courses.id", ondelete="RESTRICT"),
        comment="The course; RESTRICT: a course with assessments is archived, not deleted.",
    )
    key: Mapped[str] = mapped_column(
        comment=("The stable name content files use, 1..100 characters; unique within the course.")
    )
    title: Mapped[str] = mapped_column(comment="1..255 characters.")
    description: Mapped[str | None] = mapped_column(comment="At most 20,000 characters.")
    questions: Mapped[list[dict[str, Any]]] = mapped_column(
        JSONDocument,
        comment=(
            "The current version's questions, as learning/questions.schema.json "
            "describes them; at most 2 MiB as text (CHECK)."
        ),
    )
    scoring_config: Mapped[dict[str, Any]] = mapped_column(
        comment=(
            "How the current version is scored and graded, as "
            "learning/scoring_config.schema.json describes it; at most 256 KiB as text "
            "(CHECK)."
        )
    )
    difficulty: Mapped[str] = mapped_column(comment="easy, medium or hard (CHECK).")
    pass_threshold: Mapped[int] = mapped_column(
        default=70, server_default=text("70"), comment="The score that passes, 0..100 (default 70)."
    )
    time_limit_minutes: Mapped[int | None] = mapped_column(
        comment="1..1440 minutes, or null for no limit."
    )
    max_attempts: Mapped[int | None] = mapped_column(
        default=3,
        server_default=text("3"),
        comment="Attempts each learner may start, 1..100 (default 3), or null for no limit.",
    )
    is_active: Mapped[bool] = mapped_column(
        default=True,
        server_default=text("true"),
        comment=(
            "Whether learners see the assessment: one someone attempted is deactivated, "
            "never deleted."
        ),
    )
    version: Mapped[int] = mapped_column(
        default=1,
        server_default=text("1"),
        comment=("The current version, from 1: grows with every change to what grading reads."),
    )


class AssessmentVersion(CreatedAtMixin, Base):
    """What grading reads, as it was in one version of an assessment: kept for as
    long as the assessment is, so any attempt can be graded (or regraded) against
    the version it started on."""

    __tablename__ = "assessment_versions"
    __table_args__ = (
        CheckConstraint("version >= 1", name="version_positive"),
        CheckConstraint("pass_threshold BETWEEN 0 AND 100", name="pass_threshold_range"),
        CheckConstraint(
            f"time_limit_minutes IS NULL OR time_limit_minutes BETWEEN 1 AND "
            f"{MAX_TIME_LIMIT_MINUTES}",
            name="time_limit_minutes_range",
        ),
        CheckConstraint(
            f"length(CAST(questions AS TEXT)) <= {MAX_STORED_QUESTIONS}", name="questions_size"
        ),
        CheckConstraint(
            f"length(CAST(scoring_config AS TEXT)) <= {MAX_STORED_SCORING}",
            name="scoring_config_size",
        ),
        {
            "comment": (
                "What grading reads, as it was in one version of an assessment. Every "
                "version has its row, the current one too, kept as long as the assessment "
                "is, so any attempt can be graded (or regraded) against the version it "
                "started on."
            ),
            "info": {"stories": ("001",)},
        },
    )

    assessment_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("assessments.id", ondelete="CASCADE"),
        primary_key=True,
        comment="The assessment; its versions go with it.",
    )
    version: Mapped[int] = mapped_column(primary_key=True, comment="The version, from 1.")
    questions: Mapped[list[dict[str, Any]]] = mapped_column(
        JSONDocument,
        comment=(
            "The version's questions (learning/questions.schema.json); at most 2 MiB as "
            "text (CHECK)."
        ),
    )
    scoring_config: Mapped[dict[str, Any]] = mapped_column(
        comment=(
            "The version's scoring (learning/scoring_config.schema.json); at most 256 "
            "KiB as text (CHECK)."
        )
    )
    pass_threshold: Mapped[int] = mapped_column(comment="The score that passes, 0..100.")
    time_limit_minutes: Mapped[int | None] = mapped_column(
        comment="1..1440 minutes, or null for no limit."
    )


# Learners: progress and attempts

MAX_CLIENT_ATTEMPT_ID_LENGTH: Final = 64
MAX_QUESTION_ID_LENGTH: Final = 64
# Attempts of one learner at one assessment: far beyond any max_attempts, and an
# assessment without a limit still stops somewhere.
MAX_ATTEMPT_NUMBER: Final = 10_000
# A lifetime of study, in minutes (about 19 years).
MAX_STUDY_MINUTES: Final = 10_000_000
# Bounds on what a learner's rows store, in characters of their JSON text: the service
# keeps what it writes within the smaller bounds of learning/schemas.py and service.py.
MAX_STORED_ANSWER: Final = 16 * 1024
MAX_STORED_RESULTS: Final = 128 * 1024
MAX_STORED_TEST_SCORES: Final = 256 * 1024


class AttemptStatus(StrEnum):
    """Where an attempt stands: being answered, submitted and graded, or abandoned
    ungraded (by the deadline under the `abandon` policy)."""

    IN_PROGRESS = "in_progress"
    SUBMITTED = "submitted"
    ABANDONED = "abandoned"


class AttemptCloser(StrEnum):
    """Who closed an attempt: the learner submitting it in time, or its deadline (the
    overdue job, or a submit that came too late), by the overdue policy."""

    LEARNER = "learner"
    DEADLINE = "deadline"


class UserProgress(IdMixin, UserOwned, TimestampsMixin, Base):
    """One learner's progress through one course: the story's columns, every one of
    them derived by the service from the learner's completed sections and graded
    attempts (`completion_rate`, the next section and assessment, `completed_at`,
    `test_scores`) or from their heartbeats (`study_time_minutes`). The row is also
    what a learner's attempts at the course's assessments queue on (FOR UPDATE)."""

    user_id_indexed = False  # led by user_id: the unique constraint and index below

    __tablename__ = "user_progress"
    __table_args__ = (
        CheckConstraint("completion_rate BETWEEN 0 AND 100", name="completion_rate_range"),
        CheckConstraint(
            f"study_time_minutes BETWEEN 0 AND {MAX_STUDY_MINUTES}", name="study_time_range"
        ),
        CheckConstraint("study_seconds_carry BETWEEN 0 AND 59", name="study_seconds_carry_range"),
        CheckConstraint(
            f"length(CAST(test_scores AS TEXT)) <= {MAX_STORED_TEST_SCORES}",
            name="test_scores_size",
        ),
        UniqueConstraint("user_id", "course_id"),
        # The learner's dashboard: their courses, the last studied first.
        Index("ix_user_progress_user_id_last_accessed", "user_id", "last_accessed", "id"),
        {
            "comment": (
                "Story 001's user_progress: one learner's progress through one course, "
                "UNIQUE (user_id, course_id). Every column but the times is derived by the "
                "service from the learner's completed sections and graded attempts, or from "
                "their heartbeats (docs/learning.md#progress); a client never sets one. The "
                "row is also what a learner's attempts at the course's assessments queue on "
                "(FOR UPDATE). The index (user_id, last_accessed, id) serves the dashboard."
            ),
            "info": {"stories": ("001",)},
        },
    )

    # RESTRICT: a course someone studied is archived, never deleted.
    course_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("courses.id", ondelete="RESTRICT"),
        index=True,
        comment="The course; RESTRICT: a course someone studied is archived, never deleted.",
    )
    # Percent, as the story's DECIMAL(5,2): a third of a course is 33.33, not 33.
    completion_rate: Mapped[Decimal] = mapped_column(
        Percent(),
        server_default=text("0"),
        comment=(
            "Story 001's DECIMAL(5,2), 0..100 (CHECK): the sections completed and "
            "assessments passed, of the course's active ones, rounded down (a third is "
            "33.33)."
        ),
    )
    # The next step: the first active section not completed (null once all are), then
    # the first active assessment not passed (null once all are).
    current_section_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("course_sections.id", ondelete="SET NULL"),
        index=True,
        comment=(
            "Story 001's current_section: the first active section not completed; null "
            "once all are."
        ),
    )
    next_assessment_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("assessments.id", ondelete="SET NULL"),
        index=True,
        comment="The first active assessment not passed (by title); null once all are.",
    )
    # {assessment id: {"attempts", "scores", "grade", "grade_method", "passed"}}.
    test_scores: Mapped[dict[str, Any]] = mapped_column(
        server_default=text("'{}'"),
        comment=(
            "{assessment id: {attempts, scores, grade, grade_method, passed}}: attempts "
            "started, the latest 100 graded scores in the order submitted (fewer when the "
            "column would pass its bound), the grade by the assessment's grade method, "
            "and whether it reaches the pass threshold; at most 256 KiB as text (CHECK)."
        ),
    )
    study_time_minutes: Mapped[int] = mapped_column(
        server_default=text("0"), comment="0..10,000,000 (CHECK): credited from heartbeats."
    )
    # Seconds of study credited beyond the whole minutes.
    study_seconds_carry: Mapped[int] = mapped_column(
        server_default=text("0"),
        comment="0..59 (CHECK): the seconds credited beyond the whole minutes.",
    )
    last_accessed: Mapped[datetime] = mapped_column(
        comment=(
            "The learner's last write to the course: a completion, a heartbeat, a start or submit."
        )
    )
    last_heartbeat_at: Mapped[datetime | None] = mapped_column(
        comment="The next heartbeat is credited the time since this one."
    )
    # When every active section and assessment was first done; kept if more are added.
    completed_at: Mapped[datetime | None] = mapped_column(
        comment=(
            "When every active section and assessment was first done; kept if the "
            "course grows later."
        )
    )


class SectionCompletion(IdMixin, UserOwned, Base):
    """A section one learner completed, once (UNIQUE (user_id, section_id)). A section
    someone completed is withdrawn from its course, never deleted (RESTRICT)."""

    user_id_indexed = False  # led by user_id: the unique constraint and index below

    __tablename__ = "section_completions"
    __table_args__ = (
        UniqueConstraint("user_id", "section_id"),
        Index("ix_section_completions_user_id_course_id", "user_id", "course_id"),
        {
            "comment": (
                "A section one learner completed, once: UNIQUE (user_id, section_id) makes "
                "a repeated completion change nothing. A section someone completed is "
                "withdrawn from its course, never deleted (RESTRICT)."
            ),
            "info": {"stories": ("001",)},
        },
    )

    course_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("courses.id", ondelete="RESTRICT"),
        index=True,
        comment="The section's course; RESTRICT.",
    )
    section_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("course_sections.id", ondelete="RESTRICT"),
        index=True,
        comment=(
            "The section completed; RESTRICT: a section someone completed is withdrawn, "
            "never deleted."
        ),
    )
    completed_at: Mapped[datetime] = mapped_column(comment="When the learner completed it.")


class AssessmentAttempt(IdMixin, UserOwned, Base):
    """One learner's attempt at an assessment, pinned to the version it started on:
    its deadline from the server's clock, and once closed, how, with the score, pass
    and per-question results the server graded (learner-safe: never the key)."""

    user_id_indexed = False  # led by user_id: the unique constraints and index below

    __tablename__ = "assessment_attempts"
    __table_args__ = (
        CheckConstraint(one_of("status", AttemptStatus), name="status"),
        CheckConstraint(one_of("closed_by", AttemptCloser), name="closed_by"),
        CheckConstraint(
            "(status = 'in_progress') = (closed_by IS NULL)", name="closed_by_iff_closed"
        ),
        CheckConstraint(
            "(status = 'submitted') = (submitted_at IS NOT NULL)", name="submitted_at_iff_submitted"
        ),
        CheckConstraint(
            "(status = 'abandoned') = (abandoned_at IS NOT NULL)", name="abandoned_at_iff_abandoned"
        ),
        CheckConstraint(
            "(status = 'submitted') = (score IS NOT NULL AND passed IS NOT NULL "
            "AND results IS NOT NULL)",
            name="graded_iff_submitted",
        ),
        CheckConstraint(
            f"attempt_number BETWEEN 1 AND {MAX_ATTEMPT_NUMBER}", name="attempt_number_range"
        ),
        CheckConstraint("assessment_version >= 1", name="assessment_version_positive"),
        CheckConstraint("score BETWEEN 0 AND 100", name="score_range"),
        CheckConstraint("deadline_at > started_at", name="deadline_after_start"),
        CheckConstraint(
            f"length(client_attempt_id) BETWEEN 1 AND {MAX_CLIENT_ATTEMPT_ID_LENGTH}",
            name="client_attempt_id_length",
        ),
        CheckConstraint(
            f"length(CAST(results AS TEXT)) <= {MAX_STORED_RESULTS}", name="results_size"
        ),
        # Graded against the version it started on, kept as long as the assessment is.
        ForeignKeyConstraint(
            ["assessment_id", "assessment_version"],
            ["assessment_versions.assessment_id", "assessment_versions.version"],
            ondelete="RESTRICT",
        ),
        # Numbered per learner and assessment: a second attempt of one number loses.
        UniqueConstraint("user_id", "assessment_id", "attempt_number"),
        # A start retried with the client's key finds the attempt it made.
        UniqueConstraint("user_id", "client_attempt_id"),
        # The learner's attempts (export, staff), newest first.
        Index("ix_assessment_attempts_user_id_started_at", "user_id", "started_at", "id"),
        # The overdue job: attempts in progress by deadline.
        Index(
            "ix_assessment_attempts_overdue",
            "deadline_at",
            sqlite_where=text("status = 'in_progress'"),
            postgresql_where=text("status = 'in_progress'"),
        ),
        Index(
            "ix_assessment_attempts_assessment_id_assessment_version",
            "assessment_id",
            "assessment_version",
        ),
        {
            "comment": (
                "One learner's attempt at an assessment (docs/learning.md#attempts), pinned "
                "to the version it started on: its deadline from the server's clock and, "
                "once closed, how, with the score, pass and per-question results the server "
                "graded (never the answer key). Numbered per learner and assessment; a "
                "start retried with the client's key finds the attempt it made. The partial "
                "index on deadline_at serves the overdue job."
            ),
            "info": {"stories": ("001",)},
        },
    )

    # RESTRICT: an assessment someone attempted is deactivated, never deleted.
    assessment_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("assessments.id", ondelete="RESTRICT"),
        comment=("The assessment; RESTRICT: one someone attempted is deactivated, never deleted."),
    )
    assessment_version: Mapped[int] = mapped_column(
        comment=(
            "The version it is graded against: with assessment_id a foreign key to "
            "assessment_versions (RESTRICT)."
        )
    )
    course_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("courses.id", ondelete="RESTRICT"),
        index=True,
        comment="The assessment's course, for the learner's progress; RESTRICT.",
    )
    attempt_number: Mapped[int] = mapped_column(
        comment="1, 2, 3... per learner and assessment, at most 10,000; unique with them."
    )
    status: Mapped[str] = mapped_column(
        comment=(
            "in_progress, submitted (graded) or abandoned (closed ungraded by its "
            "deadline) (CHECK)."
        )
    )
    client_attempt_id: Mapped[str | None] = mapped_column(
        comment="The client's key for the start, 1..64 characters; unique per learner."
    )
    started_at: Mapped[datetime] = mapped_column(comment="When it started, by the server's clock.")
    # The server's start time plus the version's time limit; null without a limit.
    deadline_at: Mapped[datetime | None] = mapped_column(
        comment=(
            "started_at plus the version's time limit, after started_at (CHECK); null "
            "without a limit."
        )
    )
    submitted_at: Mapped[datetime | None] = mapped_column(
        comment="Set exactly when submitted (CHECK)."
    )
    abandoned_at: Mapped[datetime | None] = mapped_column(
        comment="Set exactly when abandoned (CHECK)."
    )
    closed_by: Mapped[str | None] = mapped_column(
        comment="learner or deadline; null exactly while in progress (CHECK)."
    )
    score: Mapped[Decimal | None] = mapped_column(
        Percent(),
        comment=(
            "0..100 (CHECK), computed by the server; with passed and results, set "
            "exactly when submitted (CHECK)."
        ),
    )
    passed: Mapped[bool | None] = mapped_column(
        comment="Whether the score reaches the version's pass threshold."
    )
    # [{"question_id", "outcome", "points", "max_points"}], in the version's order.
    results: Mapped[list[dict[str, Any]] | None] = mapped_column(
        JSONDocument,
        comment=(
            "Per question, in the version's order: question_id, outcome (correct, "
            "partial, incorrect or unanswered), points, max_points; never an answer "
            "key. At most 128 KiB as text (CHECK)."
        ),
    )


class AttemptAnswer(UserOwned, Base):
    """The answer saved to one question of an attempt: one row per question, written
    over by each save (a retried save changes nothing), graded at the submit."""

    user_id_indexed = False  # led by user_id: ix_attempt_answers_user_id_attempt_id

    __tablename__ = "attempt_answers"
    __table_args__ = (
        CheckConstraint(
            f"length(question_id) BETWEEN 1 AND {MAX_QUESTION_ID_LENGTH}",
            name="question_id_length",
        ),
        CheckConstraint(f"length(CAST(answer AS TEXT)) <= {MAX_STORED_ANSWER}", name="answer_size"),
        Index("ix_attempt_answers_user_id_attempt_id", "user_id", "attempt_id"),
        {
            "comment": (
                "The answer saved to one question of an attempt: one row per question, "
                "written over by each save (an upsert on the primary key, so a retried save "
                "writes the same row), graded at the submit."
            ),
            "info": {"stories": ("001",)},
        },
    )

    attempt_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("assessment_attempts.id", ondelete="CASCADE"),
        primary_key=True,
        comment="The attempt; its answers go with it.",
    )
    question_id: Mapped[str] = mapped_column(
        primary_key=True, comment="The question answered, 1..64 characters."
    )
    # Any JSON value: a choice's id, a list of ids, a number, a boolean, text, an object.
    answer: Mapped[Any] = mapped_column(
        JSONDocument,
        comment=(
            "Any JSON value: a choice's id, a list of ids, a number, a boolean, text, "
            "an object; at most 16 KiB as text (CHECK), and the service takes at most 8 "
            "KiB."
        ),
    )
    saved_at: Mapped[datetime] = mapped_column(comment="When it was last saved.")
