"""Lesson dialogs and texts for tests: the café dialog as the seed ships it, and
smaller ones made to order."""

from typing import Any

from sqlalchemy.orm import Session

from convobase.core.principal import Principal
from convobase.tutoring import content, service
from convobase.tutoring.schemas import (
    LessonDialogCreate,
    LessonDialogDetail,
    LibraryTextCreate,
    LibraryTextRead,
)

STAFF = Principal.staff()
# What a learner playing María says, line by line, in the shipped café dialog.
MARIA_SAYS = (
    "Buenos días. Un café con leche, por favor.",
    "Sí, una tostada con tomate, por favor.",
    "Para tomar aquí. ¿Cuánto es?",
    "Aquí tiene. ¡Muchas gracias!",
)


def cafe_body(**overrides: Any) -> dict[str, Any]:
    """The shipped café dialog as a request body, with a key of its own."""
    body = content.shipped().dialogs[0].model_dump(mode="json")
    return {**body, **overrides}


def short_body(key: str = "short", **overrides: Any) -> dict[str, Any]:
    """A dialog of three lines: Ana greets, Luis (whom learners may not play) answers,
    Ana orders."""
    return {
        "key": key,
        "title": "Saludos",
        "language": "es",
        "level": "A1",
        "status": "published",
        "roles": [
            {"name": "Ana", "description": "A student."},
            {"name": "Luis", "playable": False},
        ],
        "lines": [
            {
                "role": "Ana",
                "text": "Hola, ¿qué tal?",
                "translation": "Hi, how are you?",
                "target_words": ["qué tal"],
            },
            {"role": "Luis", "text": "Muy bien, gracias.", "translation": "Very well, thanks."},
            {
                "role": "Ana",
                "text": "Un té, por favor.",
                "translation": "A tea, please.",
                "variants": ["Quiero un té, por favor."],
                "target_words": ["té"],
            },
        ],
        **overrides,
    }


def dialog(session: Session, body: dict[str, Any] | None = None) -> LessonDialogDetail:
    data = LessonDialogCreate.model_validate(body or short_body(), strict=False)
    return service.create_dialog(session, STAFF, data=data)


def cafe(session: Session, key: str = "cafe") -> LessonDialogDetail:
    return dialog(session, cafe_body(key=key))


def text(session: Session, **overrides: Any) -> LibraryTextRead:
    body = {
        "key": "esquina",
        "title": "El café de la esquina",
        "language": "es",
        "level": "A1",
        "body": "En mi barrio hay un café pequeño. Se llama El Rincón. ¡Es muy bueno!",
        **overrides,
    }
    return service.create_text(
        session, STAFF, data=LibraryTextCreate.model_validate(body, strict=False)
    )
