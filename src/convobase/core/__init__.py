"""The kernel every domain stands on: errors, time, identity, pagination."""
