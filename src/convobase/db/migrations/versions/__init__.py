"""The revisions of the one linear migration history."""
