from collections.abc import Sequence
from typing import Any

from convobase.core.errors import Conflict, NotFound, ValidationFailed, raised_for_constraint


class DialogNotFound(NotFound):
    """The lesson dialog does not exist."""

    code = "lesson_dialog_not_found"


class TextNotFound(NotFound):
    """The library text does not exist."""

    code = "library_text_not_found"


class TutorSessionNotFound(NotFound):
    """The tutor session does not exist."""

    code = "tutor_session_not_found"


@raised_for_constraint("uq_lesson_dialogs_key")
class DialogKeyTaken(Conflict):
    """A lesson dialog has this key already."""

    code = "lesson_dialog_key_taken"


@raised_for_constraint("uq_library_texts_key")
class TextKeyTaken(Conflict):
    """A library text has this key already."""

    code = "library_text_key_taken"


class DialogArchived(ValidationFailed):
    """This lesson dialog is archived: it can no longer be practised."""

    code = "lesson_dialog_archived"


class TextArchived(ValidationFailed):
    """This library text is archived: it can no longer be practised."""

    code = "library_text_archived"


class RoleNotInDialog(ValidationFailed):
    """The dialog has no role of this name."""

    code = "role_not_in_dialog"


class RoleNotPlayable(ValidationFailed):
    """Learners may not play this role of the dialog."""

    code = "role_not_playable"


class SessionCompleted(Conflict):
    """The tutor session is completed: start a new one to practise again."""

    code = "tutor_session_completed"


class DialogChanged(Conflict):
    """The lesson dialog has changed since this session began: start a new session."""

    code = "lesson_dialog_changed"


class ClientTurnIdReused(Conflict):
    """This client_turn_id was used for a turn with other content."""

    code = "client_turn_id_reused"


class ScriptInvalid(ValidationFailed):
    """The dialog's script cannot be played: see `errors`."""

    code = "lesson_dialog_script_invalid"

    def __init__(self, problems: Sequence[tuple[str, str]]) -> None:
        self.problems = list(problems)
        shown = "; ".join(f"{path}: {message}" for path, message in self.problems[:5])
        more = len(self.problems) - 5
        super().__init__(shown + (f"; and {more} more" if more > 0 else ""))

    @property
    def extensions(self) -> dict[str, Any]:
        """Every problem of the script, where it is (a JSON pointer into the body)."""
        return {"errors": [{"path": path, "message": message} for path, message in self.problems]}
