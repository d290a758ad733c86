"""Personas: the AI characters users talk to."""
