"""courses: the catalog of courses, sections, prerequisites, tags and versioned assessments

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-23

Story 001's `courses` and `assessments` with their columns, plus what keeps them sound:
tags and prerequisites are rows of their own (`course_tags`, `course_prerequisites`),
indexed the same way on both databases and referring to real courses; sections are
ordered rows of a course; `assessment_versions` keeps what grading reads in every
version of an assessment. None of these tables is a user's: every caller may read
them (the service shows learners active courses only), and only staff may change
them. A course or section learners studied is archived, never deleted.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from convobase.db.migrations import security, triggers

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DOCUMENT = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
CATALOG_TABLES = (
    "courses",
    "course_tags",
    "course_prerequisites",
    "course_sections",
    "assessments",
    "assessment_versions",
)
TOUCHED_TABLES = ("courses", "course_sections", "assessments")


def upgrade() -> None:
    op.create_table(
        "courses",
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("level", sa.Text(), nullable=False),
        sa.Column("content_path", sa.Text(), nullable=True),
        sa.Column("video_url", sa.Text(), nullable=True),
        sa.Column("thumbnail_url", sa.Text(), nullable=True),
        sa.Column("duration_minutes", sa.Integer(), nullable=True),
        sa.Column("is_active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("archived_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "level IN ('beginner', 'intermediate', 'advanced')", name=op.f("ck_courses_level")
        ),
        sa.CheckConstraint(
            "archived_at IS NULL OR NOT is_active", name=op.f("ck_courses_archived_inactive")
        ),
        sa.CheckConstraint(
            "content_path IS NULL OR length(content_path) BETWEEN 1 AND 500",
            name=op.f("ck_courses_content_path_length"),
        ),
        sa.CheckConstraint(
            "description IS NULL OR length(description) BETWEEN 0 AND 20000",
            name=op.f("ck_courses_description_length"),
        ),
        sa.CheckConstraint(
            "duration_minutes IS NULL OR duration_minutes BETWEEN 0 AND 100000",
            name=op.f("ck_courses_duration_minutes_range"),
        ),
        sa.CheckConstraint(
            "key IS NULL OR length(key) BETWEEN 1 AND 100", name=op.f("ck_courses_key_length")
        ),
        sa.CheckConstraint(
            "thumbnail_url IS NULL OR length(thumbnail_url) BETWEEN 1 AND 500",
            name=op.f("ck_courses_thumbnail_url_length"),
        ),
        sa.CheckConstraint(
            "title IS NULL OR length(title) BETWEEN 1 AND 255", name=op.f("ck_courses_title_length")
        ),
        sa.CheckConstraint(
            "video_url IS NULL OR length(video_url) BETWEEN 1 AND 500",
            name=op.f("ck_courses_video_url_length"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_courses")),
        sa.UniqueConstraint("key", name=op.f("uq_courses_key")),
    )
    op.create_index(
        "ix_courses_active_level",
        "courses",
        ["level", "title", "id"],
        sqlite_where=sa.text("is_active"),
        postgresql_where=sa.text("is_active"),
    )
    op.create_index(
        "ix_courses_active_title",
        "courses",
        ["title", "id"],
        sqlite_where=sa.text("is_active"),
        postgresql_where=sa.text("is_active"),
    )
    op.create_index("uq_courses_level_title", "courses", ["level", "title"], unique=True)

    op.create_table(
        "assessments",
        sa.Column("course_id", sa.Uuid(), nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("questions", DOCUMENT, nullable=False),
        sa.Column("scoring_config", DOCUMENT, nullable=False),
        sa.Column("difficulty", sa.Text(), nullable=False),
        sa.Column("pass_threshold", sa.Integer(), server_default=sa.text("70"), nullable=False),
        sa.Column("time_limit_minutes", sa.Integer(), nullable=True),
        sa.Column("max_attempts", sa.Integer(), server_default=sa.text("3"), nullable=True),
        sa.Column("is_active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "difficulty IN ('easy', 'medium', 'hard')", name=op.f("ck_assessments_difficulty")
        ),
        sa.CheckConstraint(
            "description IS NULL OR length(description) BETWEEN 0 AND 20000",
            name=op.f("ck_assessments_description_length"),
        ),
        sa.CheckConstraint(
            "key IS NULL OR length(key) BETWEEN 1 AND 100", name=op.f("ck_assessments_key_length")
        ),
        sa.CheckConstraint(
            "length(CAST(questions AS TEXT)) <= 2097152", name=op.f("ck_assessments_questions_size")
        ),
        sa.CheckConstraint(
            "length(CAST(scoring_config AS TEXT)) <= 262144",
            name=op.f("ck_assessments_scoring_config_size"),
        ),
        sa.CheckConstraint(
            "max_attempts IS NULL OR max_attempts BETWEEN 1 AND 100",
            name=op.f("ck_assessments_max_attempts_range"),
        ),
        sa.CheckConstraint(
            "pass_threshold BETWEEN 0 AND 100", name=op.f("ck_assessments_pass_threshold_range")
        ),
        sa.CheckConstraint(
            "time_limit_minutes IS NULL OR time_limit_minutes BETWEEN 1 AND 1440",
            name=op.f("ck_assessments_time_limit_minutes_range"),
        ),
        sa.CheckConstraint(
            "title IS NULL OR length(title) BETWEEN 1 AND 255",
            name=op.f("ck_assessments_title_length"),
        ),
        sa.CheckConstraint("version >= 1", name=op.f("ck_assessments_version_positive")),
        sa.ForeignKeyConstraint(
            ["course_id"],
            ["courses.id"],
            name=op.f("fk_assessments_course_id_courses"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assessments")),
    )
    op.create_index("ix_assessments_difficulty", "assessments", ["difficulty"])
    op.create_index(
        "uq_assessments_course_id_key", "assessments", ["course_id", "key"], unique=True
    )

    op.create_table(
        "course_prerequisites",
        sa.Column("course_id", sa.Uuid(), nullable=False),
        sa.Column("prerequisite_id", sa.Uuid(), nullable=False),
        sa.CheckConstraint(
            "course_id <> prerequisite_id", name=op.f("ck_course_prerequisites_not_itself")
        ),
        sa.ForeignKeyConstraint(
            ["course_id"],
            ["courses.id"],
            name=op.f("fk_course_prerequisites_course_id_courses"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["prerequisite_id"],
            ["courses.id"],
            name=op.f("fk_course_prerequisites_prerequisite_id_courses"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint(
            "course_id", "prerequisite_id", name=op.f("pk_course_prerequisites")
        ),
    )
    op.create_index(
        "ix_course_prerequisites_prerequisite_id", "course_prerequisites", ["prerequisite_id"]
    )

    op.create_table(
        "course_sections",
        sa.Column("course_id", sa.Uuid(), nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=True),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("content_path", sa.Text(), nullable=True),
        sa.Column("duration_minutes", sa.Integer(), nullable=True),
        sa.Column("is_active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "(is_active AND position IS NOT NULL AND position >= 1)"
            " OR (NOT is_active AND position IS NULL)",
            name=op.f("ck_course_sections_position_iff_active"),
        ),
        sa.CheckConstraint(
            "content_path IS NULL OR length(content_path) BETWEEN 1 AND 500",
            name=op.f("ck_course_sections_content_path_length"),
        ),
        sa.CheckConstraint(
            "duration_minutes IS NULL OR duration_minutes BETWEEN 0 AND 100000",
            name=op.f("ck_course_sections_duration_minutes_range"),
        ),
        sa.CheckConstraint(
            "key IS NULL OR length(key) BETWEEN 1 AND 100",
            name=op.f("ck_course_sections_key_length"),
        ),
        sa.CheckConstraint(
            "title IS NULL OR length(title) BETWEEN 1 AND 255",
            name=op.f("ck_course_sections_title_length"),
        ),
        sa.ForeignKeyConstraint(
            ["course_id"],
            ["courses.id"],
            name=op.f("fk_course_sections_course_id_courses"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_course_sections")),
    )
    op.create_index(
        "ix_course_sections_course_id_position", "course_sections", ["course_id", "position"]
    )
    op.create_index(
        "uq_course_sections_course_id_key", "course_sections", ["course_id", "key"], unique=True
    )

    op.create_table(
        "course_tags",
        sa.Column("course_id", sa.Uuid(), nullable=False),
        sa.Column("tag", sa.Text(), nullable=False),
        sa.CheckConstraint(
            "tag IS NULL OR length(tag) BETWEEN 1 AND 100", name=op.f("ck_course_tags_tag_length")
        ),
        sa.ForeignKeyConstraint(
            ["course_id"],
            ["courses.id"],
            name=op.f("fk_course_tags_course_id_courses"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("course_id", "tag", name=op.f("pk_course_tags")),
    )
    op.create_index("ix_course_tags_tag_course_id", "course_tags", ["tag", "course_id"])

    op.create_table(
        "assessment_versions",
        sa.Column("assessment_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("questions", DOCUMENT, nullable=False),
        sa.Column("scoring_config", DOCUMENT, nullable=False),
        sa.Column("pass_threshold", sa.Integer(), nullable=False),
        sa.Column("time_limit_minutes", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "length(CAST(questions AS TEXT)) <= 2097152",
            name=op.f("ck_assessment_versions_questions_size"),
        ),
        sa.CheckConstraint(
            "length(CAST(scoring_config AS TEXT)) <= 262144",
            name=op.f("ck_assessment_versions_scoring_config_size"),
        ),
        sa.CheckConstraint(
            "pass_threshold BETWEEN 0 AND 100",
            name=op.f("ck_assessment_versions_pass_threshold_range"),
        ),
        sa.CheckConstraint(
            "time_limit_minutes IS NULL OR time_limit_minutes BETWEEN 1 AND 1440",
            name=op.f("ck_assessment_versions_time_limit_minutes_range"),
        ),
        sa.CheckConstraint("version >= 1", name=op.f("ck_assessment_versions_version_positive")),
        sa.ForeignKeyConstraint(
            ["assessment_id"],
            ["assessments.id"],
            name=op.f("fk_assessment_versions_assessment_id_assessments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("assessment_id", "version", name=op.f("pk_assessment_versions")),
    )
    for table in TOUCHED_TABLES:
        triggers.touch_updated_at(table)
    for table in CATALOG_TABLES:
        security.protect_catalog_table(table)


def downgrade() -> None:
    # Their policies, grants, indexes and triggers go with them.
    for table in reversed(CATALOG_TABLES):
        op.drop_table(table)
