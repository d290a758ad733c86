"""Roleplay and reading practice: lesson dialogs, library texts, tutor sessions and their turns."""
