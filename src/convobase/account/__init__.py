"""A user's whole account across domains: export."""
