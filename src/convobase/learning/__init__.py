"""Learning: the course catalog with its sections and assessments, and each learner's
progress through it and attempts at its assessments."""
