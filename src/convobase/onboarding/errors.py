from collections.abc import Sequence
from typing import Any

from convobase.core.errors import Conflict, PreconditionFailed, ValidationFailed
from convobase.onboarding.flow import AnswerError


class _WithFieldErrors(ValidationFailed):
    """The answers do not fit."""

    def __init__(
        self, errors: Sequence[AnswerError], *, prefix: tuple[str, ...], detail: str | None = None
    ) -> None:
        self.errors = [(tuple([*prefix, *error.loc]), error) for error in errors]
        shown = "; ".join(f"{_where(loc[1:])}: {error.msg}" for loc, error in self.errors[:5])
        super().__init__(detail or shown or None)

    @property
    def extensions(self) -> dict[str, Any]:
        """Each answer that does not fit, where it is (problem+json `errors`)."""
        return {
            "errors": [
                {"loc": list(loc), "msg": error.msg, "type": error.type}
                for loc, error in self.errors
            ]
        }


class AnswersInvalid(_WithFieldErrors):
    """The answers do not fit the phase's questions."""

    code = "onboarding_answers_invalid"


class OnboardingIncomplete(_WithFieldErrors):
    """Some questions still need an answer before the onboarding can be completed."""

    code = "onboarding_incomplete"


class OnboardingCompleted(Conflict):
    """The onboarding is completed: its answers can no longer change."""

    code = "onboarding_completed"


class TransitionNotAllowed(Conflict):
    """The onboarding cannot move that way from the phase it is at."""

    code = "onboarding_transition_not_allowed"


class SessionChanged(PreconditionFailed):
    """The onboarding session has changed since you read it: read it again, then retry."""

    code = "onboarding_session_changed"


def _where(loc: tuple[str | int, ...]) -> str:
    return ".".join(str(part) for part in loc) or "answers"
