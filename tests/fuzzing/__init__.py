"""The fuzzing gate: schemathesis against the app, on both databases."""
