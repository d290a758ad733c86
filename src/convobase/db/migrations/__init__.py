"""Alembic migrations: the environment, the revisions and the helpers they share."""
