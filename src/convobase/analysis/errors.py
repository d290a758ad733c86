class BatchChanged(Exception):
    """Another run analysed some of the batch's messages meanwhile; the job is retried
    and analyses the batch as it is then."""
