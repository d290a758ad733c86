"""Users: identity, profile and preferences."""
