from datetime import timedelta

from convobase.jobs.worker import TryAgain


class BatchChanged(TryAgain):
    """Another run analysed some of the batch's messages meanwhile; the job runs again
    shortly and analyses the batch as it is then, without using one of its retries."""

    def __init__(self) -> None:
        super().__init__(" ".join((self.__doc__ or "").split()), delay=timedelta(seconds=2))
