"""Domain events, handled inside the transaction that raised them.

A domain publishes what happened (`publish(session, SomethingHappened(...))`) without
knowing who listens; the composition root subscribes other domains' handlers
(`convobase.bootstrap`). Handlers run at once, in the publisher's transaction, so what
they write commits or rolls back with the change that caused it: the job a message
queues cannot outlive a rolled-back message.

A domain that needs an answer from a domain above it asks a `Query` instead
(`ask(session, ScreenUserMessage(...))`): the query type, declared by the asker, says
what the answer is; one handler answers it, in the same transaction.
"""

from collections import defaultdict
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from sqlalchemy.orm import Session

Event = TypeVar("Event")
Answer = TypeVar("Answer")
Asked = TypeVar("Asked", bound="Query[Any]")
Handler = Callable[[Session, Event], None]


class Query(Generic[Answer]):
    """A question one domain asks another in its transaction; `Answer` is the reply's type."""

    __slots__ = ()


class QueryAlreadyAnswered(RuntimeError):
    """A query type has one answerer; a second registration is a wiring mistake."""


BUS_KEY = "convobase.events"


class EventBus:
    """Who handles which event type, in the order they subscribed."""

    def __init__(self) -> None:
        self._handlers: defaultdict[type[Any], list[Handler[Any]]] = defaultdict(list)
        self._answerers: dict[type[Any], Callable[[Session, Any], Any]] = {}

    def subscribe(self, event_type: type[Event], handler: Handler[Event]) -> None:
        """Call `handler(session, event)` for every `event_type` published."""
        self._handlers[event_type].append(handler)

    def publish(self, session: Session, event: object) -> None:
        """Hand `event` to its handlers, in `session`'s transaction."""
        for handler in self._handlers.get(type(event), ()):
            handler(session, event)

    def answer(self, query_type: type[Asked], answerer: "Callable[[Session, Asked], Any]") -> None:
        """Let `answerer(session, query)` answer every `query_type` asked."""
        if query_type in self._answerers:
            raise QueryAlreadyAnswered(f"{query_type.__name__} has an answerer already")
        self._answerers[query_type] = answerer

    def ask(self, session: Session, query: Query[Answer]) -> Answer | None:
        """The answer to `query`, in `session`'s transaction; None if nobody answers."""
        answerer = self._answerers.get(type(query))
        if answerer is None:
            return None
        answer: Answer = answerer(session, query)
        return answer


def attach(session: Session, bus: EventBus) -> None:
    """Make `bus` the one `publish` uses in `session`."""
    session.info[BUS_KEY] = bus


def publish(session: Session, event: object) -> None:
    """Publish `event` on the bus attached to `session` (none attached: no handlers)."""
    bus: EventBus | None = session.info.get(BUS_KEY)
    if bus is not None:
        bus.publish(session, event)


def ask(session: Session, query: Query[Answer]) -> Answer | None:
    """Ask `query` on the bus attached to `session`; None if none is, or nobody answers."""
    bus: EventBus | None = session.info.get(BUS_KEY)
    return None if bus is None else bus.ask(session, query)
