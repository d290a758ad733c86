"""Storage: engines, units of work, the declarative base and migrations."""
