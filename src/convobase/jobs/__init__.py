"""Background jobs: a durable queue in the application's own database.

Jobs are rows of `job_queue`, queued in the transaction of the change that causes
them; workers claim them under a lease, run their task's handler, and retry failures
with backoff until the dead letter (`failed`).
"""
