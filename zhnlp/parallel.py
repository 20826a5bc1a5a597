"""Batches decoded on every core by numpy models (the couplet CNN, the light title model): numpy
releases the GIL in its loops and in BLAS, but its elementwise loops use one core, so one batch per
thread with single-threaded BLAS beats one batch at a time with multi-threaded BLAS (1.6x for
couplets on a 2-core machine; for titles, whose products are small, multi-threaded BLAS on a busy
machine is several times slower still)."""
from __future__ import annotations

import contextlib
import os


@contextlib.contextmanager
def batch_threads(num_chunks: int):
    """A pool to decode batches on every core: numpy releases the GIL in its loops and in BLAS, but
    its elementwise loops use one core, so one batch per thread with single-threaded BLAS beats one
    batch at a time with multi-threaded BLAS (1.6x on this 2-core machine). One chunk: run it here."""
    threads = min(num_chunks, os.cpu_count() or 1, 8)
    if threads <= 1:
        yield InlinePool()
        return
    from concurrent.futures import ThreadPoolExecutor

    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"), ThreadPoolExecutor(threads) as pool:
        pool.threads = threads
        yield pool


class InlinePool:
    """The pool's interface, run on the calling thread."""

    threads = 1

    @staticmethod
    def map(function, items):
        return map(function, items)
