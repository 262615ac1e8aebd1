"""A loop asked to stop ends even when a library lost the cancellation (kit.tasks.stop_if_cancelled).

Python 3.11's `asyncio.wait_for` can swallow a cancellation that arrives as its inner wait
completes; nats-py's fetch runs inside one. A consumer loop or the gateway's feed then ran on for
ever and a shutdown or replay that awaited it hung (seen as a gateway test stuck 300 s).
"""

import asyncio

from services.kit.tasks import stop_if_cancelled


async def _swallowing_loop(turns: list[int], *, check: bool, halt: asyncio.Event | None = None) -> None:
    while not (halt and halt.is_set()):
        if check:
            stop_if_cancelled()
        turns.append(1)
        try:
            await asyncio.sleep(0.01)
        except asyncio.CancelledError:
            pass  # what the race does: the cancellation is lost, the loop goes on


async def test_a_lost_cancellation_still_ends_the_loop():
    turns: list[int] = []
    task = asyncio.create_task(_swallowing_loop(turns, check=True))
    await asyncio.sleep(0.05)
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=2)
    assert task in done and task.cancelled()


async def test_without_the_check_the_loop_runs_on():
    """The failure the check guards against, shown: the same loop without it outlives its cancel."""
    turns: list[int] = []
    halt = asyncio.Event()
    task = asyncio.create_task(_swallowing_loop(turns, check=False, halt=halt))
    await asyncio.sleep(0.05)
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=0.3)
    before = len(turns)
    await asyncio.sleep(0.05)
    assert not done and len(turns) > before
    halt.set()  # ended the only way left: by its own condition
    await asyncio.wait({task}, timeout=2)
    assert task.done()


async def test_an_uncancelled_task_is_left_alone():
    stop_if_cancelled()  # the test's own task was never asked to stop: nothing raised
