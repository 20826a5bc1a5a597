"""Batches for every model's training: one resumable, length-bucketed batcher over a list of
examples, and a background thread that prepares batches while the model trains on the last one.

``LengthBucketedBatches`` plans each epoch from ``(seed, epoch)`` alone, so its state is two numbers
(epoch, batches given) and a resumed run sees exactly the batches it would have seen. Examples of
similar length share a batch (little padding): with ``exact_lengths`` every batch holds one length
(couplets, whose lines are not padded), otherwise the examples are sorted by length within shuffled
pools of ``pool_batches`` batches (the usual bucketing of HF's group_by_length). A corpus too large
to hold (WoBERT pre-training) is streamed a pool at a time and each pool planned here.
"""
from __future__ import annotations

import queue
import threading
from typing import Callable, Iterator, Protocol

import numpy as np

from ..errors import InputError


class ResumableBatches(Protocol):
    """Batches (dicts of CPU tensors) that can say where they are and start again from there."""

    def __iter__(self) -> Iterator[dict]: ...
    def state_dict(self) -> dict: ...
    def load_state_dict(self, state: dict) -> None: ...


class LengthBucketedBatches:
    """Batches of example indices, grouped by length; ``collate(indices)`` makes each batch.

    ``lengths``: (N,) the length of each example. One pass over the examples is an epoch; iterating
    again starts the next. ``max_tokens``: also cap a batch at this many tokens (rows x longest)."""

    def __init__(self, lengths, collate: Callable[[np.ndarray], dict], batch_size: int, seed: int = 0,
                 shuffle: bool = True, exact_lengths: bool = False, pool_batches: int = 50,
                 max_tokens: int | None = None):
        self.lengths = np.asarray(lengths, dtype=np.int64)  # (N,)
        if len(self.lengths) == 0:
            raise InputError("no examples to train on", "check the data: every example was empty or too long")
        if batch_size < 1:
            raise InputError(f"batch size {batch_size} is below 1", "use --batch-size 1 or more")
        self.collate = collate
        self.batch_size = batch_size
        self.seed = seed
        self.shuffle = shuffle
        self.exact_lengths = exact_lengths
        self.pool_batches = pool_batches
        self.max_tokens = max_tokens
        self.epoch = 0
        self.position = 0  # batches of this epoch already given
        self._plans: dict[int, list[np.ndarray]] = {}

    @property
    def examples(self) -> int:
        return len(self.lengths)

    def __len__(self) -> int:
        return len(self.plan(self.epoch))

    def state_dict(self) -> dict:
        return {"epoch": self.epoch, "position": self.position}

    def load_state_dict(self, state: dict) -> None:
        self.epoch, self.position = int(state["epoch"]), int(state["position"])

    def _cut(self, rows: np.ndarray) -> list[np.ndarray]:
        """Consecutive batches of ``rows`` (already in length order), by count and by tokens."""
        batches, start = [], 0
        while start < len(rows):
            end = min(start + self.batch_size, len(rows))
            if self.max_tokens:
                longest = np.maximum.accumulate(self.lengths[rows[start:end]])  # rows x longest so far
                fits = np.flatnonzero(longest * np.arange(1, end - start + 1) <= self.max_tokens)
                end = start + max(1, int(fits[-1]) + 1 if len(fits) else 1)
            batches.append(rows[start:end])
            start = end
        return batches

    def plan(self, epoch: int) -> list[np.ndarray]:
        """The index arrays of every batch of ``epoch``, in order (the same for the same seed)."""
        if epoch not in self._plans:
            rng = np.random.default_rng([self.seed, epoch])
            order = rng.permutation(len(self.lengths)) if self.shuffle else np.arange(len(self.lengths))
            batches: list[np.ndarray] = []
            if self.exact_lengths:
                for length in np.unique(self.lengths):
                    batches += self._cut(order[self.lengths[order] == length])
            else:
                pool = self.batch_size * self.pool_batches
                for start in range(0, len(order), pool):
                    chunk = order[start:start + pool]
                    batches += self._cut(chunk[np.argsort(self.lengths[chunk], kind="stable")])
            if self.shuffle:
                batches = [batches[i] for i in rng.permutation(len(batches))]
            self._plans = {epoch: batches}  # only the current epoch's plan is kept
        return self._plans[epoch]

    def __iter__(self) -> Iterator[dict]:
        plan = self.plan(self.epoch)
        while self.position < len(plan):
            rows = plan[self.position]
            self.position += 1
            yield self.collate(rows)
        self.epoch += 1
        self.position = 0


_DONE = object()


class BackgroundBatches:
    """``batches`` prepared ``depth`` ahead on a thread, so that the accelerator never waits for the
    tokenizer. ``state_dict()`` is that of the last batch handed out, not of the reader's position."""

    def __init__(self, batches: ResumableBatches, depth: int = 2):
        self.batches = batches
        self.depth = max(1, depth)
        self._state = batches.state_dict()

    def state_dict(self) -> dict:
        return self._state

    def load_state_dict(self, state: dict) -> None:
        self.batches.load_state_dict(state)
        self._state = self.batches.state_dict()

    def __len__(self) -> int:
        return len(self.batches)  # type: ignore[arg-type]

    def __iter__(self) -> Iterator[dict]:
        self.batches.load_state_dict(self._state)  # the reader may have run ahead of the last pass's consumer
        ready: queue.Queue = queue.Queue(self.depth)
        stop = threading.Event()

        def offer(item) -> bool:
            while not stop.is_set():
                try:
                    ready.put(item, timeout=0.1)
                    return True
                except queue.Full:
                    continue
            return False

        def produce() -> None:
            try:
                for batch in self.batches:
                    if not offer((batch, self.batches.state_dict())):
                        return
                offer(_DONE)
            except BaseException as exc:  # handed to the consumer, raised there
                offer(exc)

        worker = threading.Thread(target=produce, name="zhnlp-batches", daemon=True)
        worker.start()
        try:
            while True:
                item = ready.get()
                if item is _DONE:
                    worker.join()
                    self._state = self.batches.state_dict()  # the next epoch's start
                    return
                if isinstance(item, BaseException):
                    raise item
                batch, self._state = item
                yield batch
        finally:
            stop.set()
            worker.join()
