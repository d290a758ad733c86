"""convobase: the backend for AI tutors, coaches and persona-chat apps."""

__version__ = "0.1.0"
