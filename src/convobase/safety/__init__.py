"""Rule-based screening of user messages for signs of crisis (docs/safety-detector.md)."""

from convobase.safety.detector import (
    Category,
    Detector,
    LexiconError,
    Screening,
    Severity,
    default_detector,
    load_lexicons,
)
from convobase.safety.normalize import match_key, normalize

__all__ = [
    "Category",
    "Detector",
    "LexiconError",
    "Screening",
    "Severity",
    "default_detector",
    "load_lexicons",
    "match_key",
    "normalize",
]
