"""Catalog data for learning tests: a course and an assessment as staff send them."""

import itertools
from typing import Any

_numbers = itertools.count(1)

QUESTIONS: list[dict[str, Any]] = [
    {
        "id": "position",
        "kind": "single_choice",
        "prompt": "Which seat acts last after the flop?",
        "choices": [
            {"id": "a", "text": "Small blind"},
            {"id": "b", "text": "The button"},
            {"id": "c", "text": "Under the gun"},
        ],
        "correct": "b",
    },
    {
        "id": "pot-odds",
        "kind": "numeric",
        "prompt": "The pot is 80 and you must call 20: what share of the final pot is yours, in %?",
        "correct": 20,
        "tolerance": 0.5,
    },
    {
        "id": "bluff",
        "kind": "true_false",
        "prompt": "A bluff works best against many opponents.",
        "correct": False,
    },
]


def course_body(**fields: Any) -> dict[str, Any]:
    """A new course, its title unique in the run."""
    number = next(_numbers)
    return {
        "title": f"Poker fundamentals {number}",
        "level": "beginner",
        "tags": ["poker", "basics"],
        "sections": [
            {"key": "rules", "title": "The rules"},
            {"key": "positions", "title": "Positions"},
        ],
        **fields,
    }


def assessment_body(course_id: str, **fields: Any) -> dict[str, Any]:
    """A new assessment of `course_id` with the three questions above."""
    return {
        "course_id": course_id,
        "title": "Check your basics",
        "difficulty": "easy",
        "questions": QUESTIONS,
        **fields,
    }
