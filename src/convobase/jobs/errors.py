from convobase.core.errors import Conflict, NotFound


class JobNotFound(NotFound):
    """The job does not exist."""


class JobNotRetryable(Conflict):
    """Only a failed or cancelled job can be retried."""

    code = "job_not_retryable"


class JobNotCancellable(Conflict):
    """Only a queued job can be cancelled."""

    code = "job_not_cancellable"
