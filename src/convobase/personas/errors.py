from convobase.core.errors import Conflict, NotFound


class PersonaNotFound(NotFound):
    """The persona does not exist or is not active."""


class PersonaNameTaken(Conflict):
    """A persona with this name already exists."""

    code = "persona_name_taken"
