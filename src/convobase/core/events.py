"""Domain events, handled inside the transaction that raised them.

A domain publishes what happened (`publish(session, SomethingHappened(...))`) without
knowing who listens; the composition root subscribes other domains' handlers
(`convobase.bootstrap`). Handlers run at once, in the publisher's transaction, so what
they write commits or rolls back with the change that caused it: the job a message
queues cannot outlive a rolled-back message.
"""

from collections import defaultdict
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy.orm import Session

Event = TypeVar("Event")
Handler = Callable[[Session, Event], None]

BUS_KEY = "convobase.events"


class EventBus:
    """Who handles which event type, in the order they subscribed."""

    def __init__(self) -> None:
        self._handlers: defaultdict[type[Any], list[Handler[Any]]] = defaultdict(list)

    def subscribe(self, event_type: type[Event], handler: Handler[Event]) -> None:
        """Call `handler(session, event)` for every `event_type` published."""
        self._handlers[event_type].append(handler)

    def publish(self, session: Session, event: object) -> None:
        """Hand `event` to its handlers, in `session`'s transaction."""
        for handler in self._handlers.get(type(event), ()):
            handler(session, event)


def attach(session: Session, bus: EventBus) -> None:
    """Make `bus` the one `publish` uses in `session`."""
    session.info[BUS_KEY] = bus


def publish(session: Session, event: object) -> None:
    """Publish `event` on the bus attached to `session` (none attached: no handlers)."""
    bus: EventBus | None = session.info.get(BUS_KEY)
    if bus is not None:
        bus.publish(session, event)
