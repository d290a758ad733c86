"""Analysis of each user's progress: one job per 25 messages they write, assessed by a
pluggable analyzer, with milestones that move them through stages to graduation."""
