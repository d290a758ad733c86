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
    )

    name: Mapped[str] = mapped_column(unique=True)
    display_name: Mapped[str]
    personality_config: Mapped[dict[str, Any]]
    avatar_url: Mapped[str | None]
    specialization: Mapped[str] = mapped_column(default="general", server_default=text("'general'"))
    description: Mapped[str | None]
    backstory: Mapped[str | None]
    skill_level: Mapped[str] = mapped_column(default="beginner", server_default=text("'beginner'"))
    conversation_style: Mapped[str] = mapped_column(
        default="friendly", server_default=text("'friendly'")
    )
    is_active: Mapped[bool] = mapped_column(default=True, server_default=text("true"))
