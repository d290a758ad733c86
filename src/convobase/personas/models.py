from typing import Any

from sqlalchemy import CheckConstraint, Index, text
from sqlalchemy.orm import Mapped, mapped_column

from convobase.db.base import Base, IdMixin, TimestampsMixin, one_of

SKILL_LEVELS = ("beginner", "intermediate", "advanced", "expert")
CONVERSATION_STYLES = ("friendly", "supportive", "analytical", "socratic", "competitive")


class Persona(IdMixin, TimestampsMixin, Base):
    """An AI character with a personality config; deactivated, never deleted while in use."""

    __tablename__ = "personas"
    __table_args__ = (
        CheckConstraint(one_of("skill_level", SKILL_LEVELS), name="skill_level"),
        CheckConstraint(
            one_of("conversation_style", CONVERSATION_STYLES), name="conversation_style"
        ),
        Index("ix_personas_specialization_skill_level", "specialization", "skill_level"),
        {
            "comment": (
                "The AI characters users talk to: story 001's characters and story 002's "
                "personas, one concept. A persona someone has talked to is deactivated "
                "(is_active false; DELETE /v1/personas/{id} does that), never deleted from "
                "under its conversations. The index (specialization, skill_level) serves "
                "the filtered list."
            ),
            "info": {"stories": ("001", "002")},
        },
    )

    name: Mapped[str] = mapped_column(unique=True, comment="A stable slug, unique.")
    display_name: Mapped[str] = mapped_column(comment="The name shown to users.")
    personality_config: Mapped[dict[str, Any]] = mapped_column(
        comment=(
            "The AI parameters, validated: system_prompt (text) and temperature (0..2) "
            "required, traits and max_response_tokens optional, other keys allowed."
        )
    )
    avatar_url: Mapped[str | None] = mapped_column(comment="Where the persona's picture is.")
    specialization: Mapped[str] = mapped_column(
        default="general",
        server_default=text("'general'"),
        comment="What the persona specialises in; general by default.",
    )
    description: Mapped[str | None] = mapped_column(comment="A short description shown to users.")
    backstory: Mapped[str | None] = mapped_column(comment="The persona's backstory.")
    skill_level: Mapped[str] = mapped_column(
        default="beginner",
        server_default=text("'beginner'"),
        comment="beginner, intermediate, advanced or expert (CHECK).",
    )
    conversation_style: Mapped[str] = mapped_column(
        default="friendly",
        server_default=text("'friendly'"),
        comment="friendly, supportive, analytical, socratic or competitive (CHECK).",
    )
    is_active: Mapped[bool] = mapped_column(
        default=True,
        server_default=text("true"),
        comment="Whether users see the persona: DELETE /v1/personas/{id} sets it false.",
    )
