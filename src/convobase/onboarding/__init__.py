"""Onboarding: versioned flows, resumable sessions, device imports, clean-up."""
