from convobase.core.errors import Conflict, NotFound, raised_for_constraint


class PersonaNotFound(NotFound):
    """The persona does not exist or is not active."""


@raised_for_constraint("uq_personas_name")
class PersonaNameTaken(Conflict):
    """A persona with this name already exists."""

    code = "persona_name_taken"
