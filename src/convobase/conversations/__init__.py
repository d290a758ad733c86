"""Conversations and their messages, in order; guest sessions and their claim."""
