import uuid
from collections.abc import Sequence
from typing import Any

from convobase.core.errors import (
    Conflict,
    Forbidden,
    NotFound,
    ValidationFailed,
    raised_for_constraint,
)


class CourseNotFound(NotFound):
    """The course does not exist."""

    code = "course_not_found"


class SectionNotFound(NotFound):
    """The section does not exist in this course."""

    code = "section_not_found"


class AssessmentNotFound(NotFound):
    """The assessment does not exist."""

    code = "assessment_not_found"


class CourseTitleTaken(Conflict):
    """A course of this level has this title already."""

    code = "course_title_taken"


class CourseKeyTaken(Conflict):
    """A course has this key already."""

    code = "course_key_taken"


class AssessmentKeyTaken(Conflict):
    """An assessment of this course has this key already."""

    code = "assessment_key_taken"


class PrerequisiteNotFound(ValidationFailed):
    """A prerequisite is not a course of the catalog."""

    code = "prerequisite_not_found"

    def __init__(self, missing: Sequence[uuid.UUID]) -> None:
        self.missing = list(missing)
        super().__init__(f"No course has the id {', '.join(str(id_) for id_ in self.missing)}.")

    @property
    def extensions(self) -> dict[str, Any]:
        """The prerequisites that are not courses."""
        return {"missing": [str(id_) for id_ in self.missing]}


class PrerequisiteCycle(ValidationFailed):
    """No course may require itself, directly or through others."""

    code = "prerequisite_cycle"

    def __init__(self, cycle: Sequence[tuple[uuid.UUID, str]]) -> None:
        self.cycle = list(cycle)
        path = " → ".join(title for _, title in self.cycle)
        super().__init__(f"These prerequisites would form a cycle: {path}.")

    @property
    def extensions(self) -> dict[str, Any]:
        """The courses of the cycle, in order, the first repeated at the end."""
        return {"cycle": [str(id_) for id_, _ in self.cycle]}


class QuestionsInvalid(ValidationFailed):
    """The questions or the scoring configuration do not follow the published format."""

    code = "assessment_questions_invalid"

    def __init__(self, errors: Sequence[tuple[str, str]]) -> None:
        self.errors = list(errors)
        shown = "; ".join(f"{path}: {message}" for path, message in self.errors[:5])
        super().__init__(shown or None)

    @property
    def extensions(self) -> dict[str, Any]:
        """Each problem, where it is (a JSON pointer into the request's documents)."""
        return {"errors": [{"path": path, "message": message} for path, message in self.errors]}


# Learners: progress and attempts


class PrerequisitesMissing(Forbidden):
    """Complete the course's prerequisites first."""

    code = "prerequisites_missing"

    def __init__(self, missing: Sequence[uuid.UUID]) -> None:
        self.missing = list(missing)
        super().__init__(
            "Complete the course's prerequisites first: "
            f"{', '.join(str(id_) for id_ in self.missing)}."
        )

    @property
    def extensions(self) -> dict[str, Any]:
        """The prerequisite courses the learner has not completed."""
        return {"missing_prerequisites": [str(id_) for id_ in self.missing]}


class AttemptLimitReached(Conflict):
    """You have used every attempt this assessment allows."""

    code = "attempt_limit_reached"


# Two starts with one client_attempt_id at assessments of two courses at once: they
# queue on different progress rows, and the database refuses the second.
@raised_for_constraint("uq_assessment_attempts_user_id_client_attempt_id")
class ClientAttemptIdReused(Conflict):
    """This client_attempt_id started an attempt at another assessment."""

    code = "client_attempt_id_reused"


class AttemptNotFound(NotFound):
    """The attempt does not exist."""

    code = "attempt_not_found"


class QuestionNotInAttempt(NotFound):
    """The attempt's assessment has no question with this id."""

    code = "attempt_question_not_found"


class AttemptClosed(Conflict):
    """The attempt is closed: its answers can no longer change."""

    code = "attempt_closed"


class AttemptTimeUp(Conflict):
    """The attempt's time is up: answers can no longer be saved. Submit it to close it."""

    code = "attempt_time_up"


class AnswerInvalid(ValidationFailed):
    """The answer does not fit the question."""

    code = "attempt_answer_invalid"

    def __init__(self, path: str, message: str) -> None:
        self.path = path
        self.message = message
        super().__init__(f"answer{path}: {message}")

    @property
    def extensions(self) -> dict[str, Any]:
        """Where in the answer the problem is (a JSON pointer, "" for the answer itself)."""
        return {"errors": [{"path": self.path, "message": self.message}]}
