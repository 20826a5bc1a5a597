"""How a batch file is cut for decoding: lines of one length in chunks, chunks in waves (the output
layer runs once per wave), and the pool of threads the chunks run on."""
from __future__ import annotations

import contextlib
import os
from typing import Iterator

# lines decoded together: the output layer runs once per wave (more lines share each shortlist row's
# output vectors), and the model's states of a wave stay in memory (about 4 KB a line)
WAVE_LINES = 8192


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


def waves(chunks: list[list[int]], lines: int) -> Iterator[list[list[int]]]:
    """Consecutive runs of chunks holding about ``lines`` lines each (at least one chunk)."""
    wave: list[list[int]] = []
    held = 0
    for chunk in chunks:
        if wave and held + len(chunk) > lines:
            yield wave
            wave, held = [], 0
        wave.append(chunk)
        held += len(chunk)
    if wave:
        yield wave
