"""The pages of one source read side by side.

onnxruntime gains little from a second intra-op thread within one page: its operators are small, and
the Python steps between them run on one core. On the 2-core machine a 16-page PDF reads 1.2-1.5×
faster as two pages at once, each on one thread, than page by page on two threads (BENCHMARKS.md,
"Pages of one source side by side"). A single page is still served fastest by two threads.

So a source of two or more pages is read ``threads`` pages at a time by sessions of one thread each,
and a one-page source keeps the ``threads``-thread sessions. Decoding stays on the calling thread
(PDFium is not thread-safe). Pages come back in source order, and at most ``2 × threads`` decoded
pages wait at once.
"""

from __future__ import annotations

from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from itertools import chain, islice
from typing import Callable, Iterable, Iterator, TypeVar

__all__ = ["side_by_side", "in_order"]

T = TypeVar("T")
R = TypeVar("R")


def side_by_side(items: Iterable[T], threads: int) -> tuple[Iterator[T], int]:
    """The items again (the first two peeked at) and how many to read at once: ``threads`` when
    there are at least two, else 1."""
    it = iter(items)
    head = list(islice(it, 2))
    return chain(head, it), (threads if len(head) > 1 and threads > 1 else 1)


def in_order(fn: Callable[[T], R], items: Iterable[T], workers: int) -> Iterator[tuple[T, R]]:
    """``(item, fn(item))`` in item order, ``fn`` running in ``workers`` threads.

    An error from ``fn`` is raised where its item's result would have come. An error from ``items``
    (a damaged page 7) is raised after the pages before it have been yielded, as a sequential loop
    would raise it.
    """
    if workers <= 1:
        for item in items:
            yield item, fn(item)
        return
    pending: deque[tuple[T, Future[R]]] = deque()
    with ThreadPoolExecutor(workers, thread_name_prefix="polyocr-page") as pool:
        source = iter(items)
        try:
            while True:
                try:
                    item = next(source)
                except StopIteration:
                    break
                except BaseException:
                    while pending:             # what was read before the bad page still counts
                        done, future = pending.popleft()
                        yield done, future.result()
                    raise
                pending.append((item, pool.submit(fn, item)))
                if len(pending) >= 2 * workers:
                    done, future = pending.popleft()
                    yield done, future.result()
            while pending:
                done, future = pending.popleft()
                yield done, future.result()
        finally:
            for _, future in pending:          # a consumer that stopped early: drop what has not started
                future.cancel()
