"""Admission control: at most ``concurrency`` reads running, ``queue`` waiting, the rest refused.

OCR is CPU-bound and runs in worker threads, off the event loop. A request is admitted only while
running + waiting < concurrency + queue (otherwise the caller answers 429 with ``retry_after``).
A thread cannot be cancelled, so when a request times out its slot is released only when the
work really ends: the bound on CPU use stays true even after a 504.
"""

from __future__ import annotations

import asyncio
import math
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, TypeVar

__all__ = ["Gate", "Full", "Closed"]

T = TypeVar("T")


class Full(Exception):
    """No room to admit another request; ``retry_after`` is a suggested wait in seconds."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"server busy; retry in {retry_after} s")
        self.retry_after = retry_after


class Closed(Exception):
    """The server is shutting down and takes no new work."""


class Gate:
    """A bounded thread pool with a bounded wait list; create it inside the running event loop."""

    def __init__(self, concurrency: int, queue: int) -> None:
        self.concurrency = concurrency
        self.capacity = concurrency + queue
        self.admitted = 0            # running + waiting
        self.running = 0
        self.completed = 0
        self.closing = False
        self._sem = asyncio.Semaphore(concurrency)
        self._pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="polyocr-read")
        self._mean_s = 2.0           # running mean of job durations, for Retry-After
        self._closed = asyncio.Event()

    @property
    def waiting(self) -> int:
        return self.admitted - self.running

    def full(self) -> bool:
        return self.admitted >= self.capacity

    def retry_after(self) -> int:
        """Seconds until a slot is likely free: the queue ahead drained at the mean job time."""
        rounds = (self.admitted - self.capacity + self.concurrency) / self.concurrency
        return int(min(60, max(1, math.ceil(self._mean_s * max(rounds, 1.0)))))

    def check(self) -> None:
        """Refuse early (before reading an upload) when there is certainly no room."""
        if self.closing:
            raise Closed()
        if self.full():
            raise Full(self.retry_after())

    async def run(self, fn: Callable[[], T], deadline: float, on_done: Callable[[], None]) -> T:
        """Run ``fn`` in a worker thread once a slot is free; ``on_done`` runs when it really ends.

        ``deadline`` is a ``time.monotonic()`` value covering the wait and the run; past it
        ``asyncio.TimeoutError`` is raised while the thread (if started) finishes on its own.
        ``on_done`` always runs exactly once (in the loop thread), also when ``fn`` never started.
        """
        try:
            self.check()
        except BaseException:
            on_done()
            raise
        self.admitted += 1
        loop = asyncio.get_running_loop()
        started = False
        try:
            await self._acquire(deadline)
            started = True
        finally:
            if not started:
                self.admitted -= 1
                on_done()
        self.running += 1
        t0 = time.monotonic()
        future = loop.run_in_executor(self._pool, fn)

        def finished(fut: asyncio.Future) -> None:
            if not fut.cancelled():
                fut.exception()  # mark it retrieved: after a timeout nobody awaits it
            self.running -= 1
            self.admitted -= 1
            self.completed += 1
            self._mean_s = 0.8 * self._mean_s + 0.2 * (time.monotonic() - t0)
            self._sem.release()
            on_done()

        future.add_done_callback(finished)
        # shield: a timeout or a dropped client must not cancel the bookkeeping future.
        return await asyncio.wait_for(asyncio.shield(future), timeout=max(0.0, deadline - time.monotonic()))

    async def _acquire(self, deadline: float) -> None:
        """A slot, or Closed when the server starts shutting down, or TimeoutError at ``deadline``."""
        task = asyncio.ensure_future(self._sem.acquire())
        closed = asyncio.ensure_future(self._closed.wait())
        try:
            done, _ = await asyncio.wait({task, closed}, timeout=max(0.0, deadline - time.monotonic()),
                                         return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            _drop(task, self._sem)
            raise
        finally:
            closed.cancel()
        if task in done and not self.closing:
            return
        _drop(task, self._sem)
        if self.closing:
            raise Closed()
        raise asyncio.TimeoutError()

    def close(self) -> None:
        """Stop admitting work (call in the loop thread); waiting requests get Closed at once."""
        self.closing = True
        self._closed.set()

    def shutdown(self) -> None:
        self.closing = True
        self._pool.shutdown(wait=True, cancel_futures=True)


def _drop(task: asyncio.Future, sem: asyncio.Semaphore) -> None:
    """Abandon a pending ``sem.acquire()`` task without losing a permit it may have won."""
    if task.done() and not task.cancelled():
        sem.release()
    else:
        task.cancel()
        task.add_done_callback(lambda t: sem.release() if not t.cancelled() else None)
