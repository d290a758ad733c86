"""Spaced review: cards scheduled with FSRS, due by the learner's own day."""
