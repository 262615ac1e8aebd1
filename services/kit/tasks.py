"""Long-running tasks: loops that end when asked to, whatever a library did with the request."""

import asyncio


def stop_if_cancelled() -> None:
    """Raise CancelledError when the running task has been asked to stop.

    Python 3.11's `asyncio.wait_for` (inside nats-py's fetch, and our own waits) can swallow a
    cancellation that lands as its inner wait completes: the task is marked as cancelling but runs
    on. A loop that calls this on every turn ends anyway, so a shutdown or a replay that cancels it
    never waits for ever.
    """
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError
