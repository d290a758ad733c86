from convobase.core.errors import Conflict, NotFound


class CrisisEventNotFound(NotFound):
    """The crisis event does not exist."""

    code = "crisis_event_not_found"


class EventAlreadyResolved(Conflict):
    """The crisis event is resolved already; reopen it first to resolve it again."""

    code = "crisis_event_resolved"


class EventNotResolved(Conflict):
    """The crisis event is open: only a resolved event can be reopened."""

    code = "crisis_event_open"
