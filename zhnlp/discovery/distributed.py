"""Word discovery on a Dask cluster: finder.py's algorithm as map-reduce over byte ranges, giving the
same lexicon (words, counts, scores, order) as the single-process run.

The inputs are split into byte ranges at line boundaries (local paths, or fsspec URLs the workers can
read); a range is read again by each pass, so no worker holds the corpus. The job:
1. count: each range is encoded with a vocabulary of its own and counted by the compiled counter;
   its n-grams leave it split into hash partitions by their *characters* (ids differ between ranges);
2. sum: per partition, the ranges' counts are mapped to the global ids and summed in the compiled
   table, a wave of ranges at a time (so that a worker holds its partitions' sums and one wave of
   range counts, never all of them); at the end each partition returns only the n-grams seen at
   least min_count times: these are all that cohesion needs (each part of a frequent n-gram is at
   least as frequent);
3. the driver computes the cohesive set from them (its memory grows with the frequent n-grams) and
   sends it to every worker once, with the frequent unigram and bigram counts: all that the cut's
   weakest-link rule reads (every link inside a piece is spanned by a cohesive, so frequent, n-gram);
4. cut: each range is cut and its pieces counted; pieces are summed by hash partition the same
   way; the candidates (pieces seen min_count times) come back to the driver;
5. the driver removes redundancy (the candidates are small: this is where it is cheapest);
6. re-segment (iterations > 1): each range is cut with the lattice (sent once to each worker)
   and its tally of words returned and summed; redundancy again on the driver.

A task whose worker dies is rerun by Dask elsewhere (and what the dead worker held is recomputed);
every sum is of integers, so the result does not depend on where or in which order tasks ran.
The single-process run prunes its rarest n-grams beyond --max-ngrams; this one never needs to (its
tables are split over the workers): the two agree whenever the single-process run did not prune.
"""
from __future__ import annotations

import codecs
import contextlib
import logging
import os
import time
import uuid
from array import array
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator

import numpy as np

from .._native import kernels
from ..errors import InputError, ZhnlpError, terminate_as_interrupt
from ..optional import require
from ..progress import progress_task
from ..textio import STDIN, iter_text_blocks, resolve_sources
from .finder import DiscoveryConfig, choose_words, expected_ngrams, lexicon_of

RANGE_BYTES = 32 << 20  # a task's share of the input: its n-gram table (~5 M entries) stays near 100 MB
_UNSPLITTABLE = ("utf-16", "utf-32")  # a newline byte may sit inside a character: one range per file
_MIX = np.uint64(0x9E3779B97F4A7C15)


# ---------------------------------------------------------------------------------------------
# inputs as byte ranges
# ---------------------------------------------------------------------------------------------
def _is_url(name: str) -> bool:
    return "://" in name


def _open_binary(name: str):
    if _is_url(name):
        import fsspec

        return fsspec.open(name, "rb").open()
    return open(name, "rb")


def _size_of(name: str) -> int:
    if _is_url(name):
        import fsspec

        fs, path = fsspec.core.url_to_fs(name)
        return int(fs.size(path))
    return os.path.getsize(name)


class _RangeReader:
    """Reads the lines that start in [start, end) of a file: a range that starts inside a line
    skips it (the previous range reads it whole), and the last line is read to its end."""

    def __init__(self, handle, start: int, end: int):
        self._handle, self._end = handle, end
        self.start = 0
        if start > 0:
            handle.seek(start - 1)
            self.start = start - 1 + len(handle.readline())
        self._position = self.start
        self._last = b"\n"

    def read(self, size: int = -1) -> bytes:
        size = size if size and size > 0 else 1 << 20
        if self._position < self._end:
            data = self._handle.read(min(size, self._end - self._position))
        elif self._last == b"\n":
            return b""
        else:
            data = self._handle.readline(size)
        if data:
            self._position += len(data)
            self._last = data[-1:]
        else:
            self._end, self._last = -1, b"\n"
        return data


@dataclass(frozen=True)
class ByteRange:
    """Lines starting in bytes [start, end) of one input file (a local path or an fsspec URL);
    read through ``iter_text_blocks`` like any source, its errors naming the file's own line."""

    file: str
    start: int
    end: int
    explicit: bool = False  # an empty file is checked by the driver, not per range

    @property
    def path(self) -> str:
        return self.file

    @property
    def name(self) -> str:
        return self.file

    def size(self) -> int:
        return self.end - self.start

    def lines_before_start(self) -> int:
        if self.start == 0:
            return 0
        with _open_binary(self.file) as handle:
            start = _RangeReader(handle, self.start, self.end).start
            handle.seek(0)
            lines = 0
            while start > 0:
                chunk = handle.read(min(start, 1 << 22))
                if not chunk:
                    break
                lines += chunk.count(b"\n")
                start -= len(chunk)
        return lines

    @contextlib.contextmanager
    def open(self) -> Iterator[_RangeReader]:
        with _open_binary(self.file) as handle:
            yield _RangeReader(handle, self.start, self.end)


def input_files(inputs) -> list[tuple[str, int]]:
    """(name, size) of every input file, in reading order: local files and folders as the
    single-process run resolves them, or fsspec URLs (``s3://bucket/corpus/*.txt``)."""
    if isinstance(inputs, (str, os.PathLike)):
        inputs = [inputs]
    files: list[str] = []
    for item in inputs:
        name = str(item)
        if name == STDIN:
            raise InputError("a distributed job cannot read standard input",
                             "save the text to files the workers can read and name them")
        if _is_url(name):
            import fsspec

            found = fsspec.open_files(name)
            if not found:
                raise InputError(f"no such file: {name}", "check the URL; workers must be able to read it too")
            files.extend(f.full_name if _is_url(f.full_name) else f"{f.fs.protocol[0]}://{f.path}" for f in found)
            continue
        for source in resolve_sources([item]):
            if source.explicit and source.size() == 0:
                raise InputError(f"{source.name} is empty", "give a file with text in it")
            files.append(str(source.path))
    return [(name, _size_of(name)) for name in files]


def split_inputs(inputs, encoding: str = "utf-8", range_bytes: int = RANGE_BYTES, workers: int = 1) -> list[ByteRange]:
    """The byte ranges of every input file (``input_files``): see ``split_files``."""
    return split_files(input_files(inputs), encoding, range_bytes, workers)


def split_files(files: list[tuple[str, int]], encoding: str = "utf-8", range_bytes: int = RANGE_BYTES,
                workers: int = 1) -> list[ByteRange]:
    """Byte ranges of (name, size) files, at most range_bytes each and as many as a multiple of
    ``workers`` (so that none waits for the others at the end)."""
    try:
        whole = codecs.lookup(encoding).name.startswith(_UNSPLITTABLE)
    except LookupError:
        raise InputError(f"unknown encoding: {encoding}", "use utf-8, gb18030, gbk, big5, utf-16 ...",
                         exit_code=2) from None
    total = sum(size for _, size in files)
    count = -(-total // range_bytes) if total else 0
    count = -(-count // workers) * workers
    range_bytes = max(1, -(-total // count)) if count else range_bytes
    ranges = []
    for name, size in files:
        step = max(size, 1) if whole else range_bytes
        ranges.extend(ByteRange(name, start, min(size, start + step)) for start in range(0, size, step))
    return ranges


def _blocks(byte_range: ByteRange, encoding: str) -> Iterator[str]:
    return iter_text_blocks([byte_range], encoding)


# ---------------------------------------------------------------------------------------------
# the tasks (run on the workers)
# ---------------------------------------------------------------------------------------------
_WORKER_CACHE: dict[str, object] = {}  # what every task of a pass needs, built once per worker process


def _cached(token: str, build: Callable):
    if token not in _WORKER_CACHE:
        while len(_WORKER_CACHE) >= 2:
            _WORKER_CACHE.pop(next(iter(_WORKER_CACHE)))
        _WORKER_CACHE[token] = build()
    return _WORKER_CACHE[token]


def _vocab_of(chars: list[str]):
    vocab = kernels.CharVocab()
    vocab.encode("".join(chars))  # ids 1.. in the given order
    return vocab


def _ngram_partitions(keys: np.ndarray, codepoints: np.ndarray, partitions: int) -> np.ndarray:
    """The partition of each packed n-gram, from its characters' code points (the same n-gram gets
    the same partition in every range, whatever its ids there)."""
    h = np.zeros(len(keys), dtype=np.uint64)
    for k in range(4):
        h = (h ^ codepoints[(keys >> np.uint64(48 - 16 * k)) & np.uint64(0xFFFF)]) * _MIX
    return ((h ^ (h >> np.uint64(29))) % np.uint64(partitions)).astype(np.intp)


def _count_range(byte_range: ByteRange, encoding: str, order: int, partitions: int):
    """Pass 1 on one range: ((its chars in id order, their counts), [(keys, counts)] per partition)."""
    vocab = kernels.CharVocab()
    counter = kernels.NgramCounter(order=order, nparts=1, expected_entries=expected_ngrams(byte_range.size()))
    for block in _blocks(byte_range, encoding):
        counter.count(vocab.encode(block), 0)
    keys, counts = _as_arrays(counter.export())
    del counter
    unigram = (keys & np.uint64((1 << 48) - 1)) == 0
    char_counts = np.zeros(len(vocab) + 1, dtype=np.uint64)
    char_counts[(keys[unigram] >> np.uint64(48)).astype(np.intp)] = counts[unigram]
    keys, counts = keys[~unigram], counts[~unigram]
    codepoints = np.array([0, *map(ord, vocab.chars[1:])], dtype=np.uint64)
    part_of = _ngram_partitions(keys, codepoints, partitions)
    parts = [(keys[part_of == p], counts[part_of == p]) for p in range(partitions)]
    return (vocab.chars[1:], char_counts[1:]), parts


def _as_arrays(exported) -> tuple[np.ndarray, ...]:
    return tuple(np.frombuffer(a, dtype=np.uint64) for a in exported)


def _merge_ngrams(total, translations, *parts):
    """total (keys, counts in global ids, or None) plus the parts of some ranges (local ids), each
    mapped through its range's translation (local id -> global id), summed in the compiled table."""
    rows = ([total] if total is not None else []) + list(parts)
    counter = kernels.NgramCounter(order=4, nparts=1, expected_entries=len(rows[0][0]) + sum(len(r[0]) for r in rows[1:]) // 2)
    if total is not None:
        counter.add_counts(*total)
    for (keys, counts), translation in zip(parts, translations):
        mapped = np.zeros(len(keys), dtype=np.uint64)
        for k in range(4):
            shift = np.uint64(48 - 16 * k)
            mapped |= translation[((keys >> shift) & np.uint64(0xFFFF)).astype(np.intp)] << shift
        counter.add_counts(mapped, counts)
    return _as_arrays(counter.export())


def _frequent(total, min_count: int, columns: int):
    """(distinct keys, then the columns of those seen at least min_count times)."""
    total = total if total is not None else tuple(np.zeros(0, np.uint64) for _ in range(columns))
    keep = total[-1] >= min_count
    return (len(total[-1]), *[c[keep] for c in total])


def _cut_model(model):
    """What the cut reads, rebuilt on a worker from the driver's arrays: the vocabulary, the counts
    of the frequent unigrams and bigrams (the weakest-link rule reads no others) and the cohesive set."""
    chars, keys, counts, cohesive_keys, order = model
    counter = kernels.NgramCounter(order=order, nparts=1)
    counter.add_counts(keys, counts)
    cohesive = kernels.NgramSet()
    cohesive.add_keys(cohesive_keys)
    return _vocab_of(chars), counter, cohesive


def _cut_range(byte_range: ByteRange, encoding: str, token: str, model, max_len: int, partitions: int):
    """Pass 2 on one range: its pieces' counts (hi, lo, counts: global ids packed) per partition."""
    vocab, counter, cohesive = _cached(token, lambda: _cut_model(model))
    pieces = kernels.PieceCounter(max_len)
    for block in _blocks(byte_range, encoding):
        pieces.cut_and_count(vocab.encode(block), cohesive, counter)
    hi, lo, counts = _as_arrays(pieces.export())
    del pieces
    h = ((hi * _MIX) ^ lo) * _MIX
    part_of = ((h ^ (h >> np.uint64(29))) % np.uint64(partitions)).astype(np.intp)
    return None, [(hi[part_of == p], lo[part_of == p], counts[part_of == p]) for p in range(partitions)]


def _merge_pieces(total, _translations, *parts):
    pieces = kernels.PieceCounter(8)
    for hi, lo, counts in ([total] if total is not None else []) + list(parts):
        pieces.add_counts(hi, lo, counts)
    return _as_arrays(pieces.export())


def _resegment_range(byte_range: ByteRange, encoding: str, token: str, model):
    """Pass 3 on one range: the tally of the lexicon's words along the maximum-probability cut."""
    chars, lattice_bytes = model
    vocab, lattice, codepoints = _cached(token, lambda: (
        _vocab_of(chars), kernels.WordLattice.from_bytes(lattice_bytes), array("I", [0, *map(ord, chars)])))
    tally = array("d", bytes(8 * lattice.tally_size))
    for block in _blocks(byte_range, encoding):
        lattice.count_words(vocab.encode(block), codepoints, tally)
    return None, [np.frombuffer(tally, dtype=np.float64)]


def _merge_tallies(total, _translations, *parts):
    for part in parts:
        total = part.copy() if total is None else total + part
    return total


def _meta(result):
    return result[0]


def _part(result, part: int):
    return result[1][part]


# ---------------------------------------------------------------------------------------------
# the driver
# ---------------------------------------------------------------------------------------------
class _Job:
    def __init__(self, client, ranges: list[ByteRange], encoding: str, show_progress: bool):
        self.client, self.ranges, self.encoding, self.show_progress = client, ranges, encoding, show_progress
        self.token = uuid.uuid4().hex[:12]
        self.wave = 2 * max(1, len(client.scheduler_info().get("workers", {})))

    def submit(self, function, *args, name: str, **kwargs):
        # retries: a task that raised (a flaky read) runs once more; a dead worker's tasks are rerun anyway
        key = f"zhnlp-{name.replace(' ', '-')}-{self.token}-{uuid.uuid4().hex[:8]}"
        return self.client.submit(function, *args, key=key,
                                  retries=1, pure=False, **kwargs)

    def broadcast(self, payload):
        """payload on every worker, as one future (a tuple is not split; not keyed by its content,
        which a released copy of equal content would race with)."""
        return self.client.scatter([payload], broadcast=True, hash=False)[0]

    def map_reduce(self, name: str, task: Callable, args: tuple, partitions: int, merge: Callable,
                   on_meta: Callable | None = None):
        """task(range, encoding, *args) -> (meta, parts) on every range, a wave at a time; part p of
        every range is folded into total p by merge(total, translations, *parts); on_meta(results of
        the wave's metas) -> the translations handed to merge (counting: local ids -> global ids)."""
        from distributed import as_completed, wait

        totals: list = [None] * partitions
        with progress_task(name, total=len(self.ranges), unit="ranges", enabled=self.show_progress) as progress:
            waves = [self.ranges[i:i + self.wave] for i in range(0, len(self.ranges), self.wave)]
            submitted = [self.submit(task, r, self.encoding, *args, name=name) for r in waves[0]] if waves else []
            for index in range(len(waves)):
                futures = submitted
                for _ in as_completed(futures):
                    progress.advance(1)
                if index + 1 < len(waves):  # the next wave counts while this one is summed
                    submitted = [self.submit(task, r, self.encoding, *args, name=name) for r in waves[index + 1]]
                translations = on_meta(self.client.gather([self.submit(_meta, f, name="meta")
                                                          for f in futures])) if on_meta else [None] * len(futures)
                for p in range(partitions):
                    parts = [self.submit(_part, f, p, name="part") for f in futures]
                    totals[p] = self.submit(merge, totals[p], translations, *parts, name=f"{name}-sum")
                del futures, parts
            wait(totals)
        return totals


def distributed_errors() -> tuple[type[BaseException], ...]:
    """What Dask raises when tasks are lost for good (as opposed to the task's own errors, which
    arrive as themselves)."""
    import distributed

    return distributed.KilledWorker, distributed.client.FuturesCancelledError


def connect(scheduler):
    """A distributed.Client for ``local``, ``local:N`` or a scheduler address; (client, cluster or None).
    A malformed value is an error before Dask is needed."""
    text = scheduler if isinstance(scheduler, str) else None
    local = text is not None and (text == "local" or text.startswith("local:"))
    count = text.partition(":")[2] if local else ""
    if local and count and not (count.isdigit() and int(count) >= 1):
        raise ZhnlpError(f"bad --scheduler {text!r}: N in local:N must be a whole number of workers",
                         "e.g. --scheduler local:4", exit_code=2)
    if text is not None and not local and "://" not in text:
        raise ZhnlpError(f"bad --scheduler {text!r}", "give local, local:N or a scheduler address such as "
                         "tcp://10.0.0.5:8786 (started with: dask scheduler)", exit_code=2)
    require("dask", "discover-words --scheduler")
    require("distributed", "discover-words --scheduler")
    import distributed

    if text is None:
        if not isinstance(scheduler, distributed.Client):
            raise ZhnlpError(f"scheduler must be a string or a distributed.Client, not {type(scheduler).__name__}")
        return scheduler, None
    if local:
        workers = int(count) if count else max(1, os.cpu_count() or 1)
        cluster = distributed.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                           dashboard_address=None, silence_logs=logging.ERROR)
        return distributed.Client(cluster), cluster
    try:
        return distributed.Client(text, timeout="20s"), None
    except (OSError, TimeoutError) as exc:
        raise ZhnlpError(f"cannot reach the Dask scheduler at {text}: {exc}",
                         "start one with: dask scheduler (and dask worker " + text + " on each machine)") from None


def discover_words_on_dask(inputs: str | os.PathLike | Iterable, config: DiscoveryConfig, scheduler, *,
                           encoding: str = "utf-8", show_progress: bool = False, range_bytes: int = RANGE_BYTES,
                           partitions: int = 0):
    """``discover_words`` as map-reduce on a Dask cluster (module docstring): the same Lexicon.

    scheduler: ``"local"`` / ``"local:N"`` (a LocalCluster of N worker processes, started and
    stopped here), a scheduler address, or a ``distributed.Client`` to use as is.
    partitions: hash partitions of the n-gram and piece sums (0: twice the workers)."""
    files = input_files(inputs)  # bad inputs fail before a cluster starts
    with terminate_as_interrupt():  # a killed job still stops the local cluster's worker processes
        client, cluster = connect(scheduler)
        try:
            return _run(client, files, config, encoding, show_progress, range_bytes, partitions)
        finally:
            if cluster is not None:
                client.close()
                cluster.close()


def _run(client, files, config, encoding, show_progress, range_bytes, partitions):
    workers = max(1, len(client.scheduler_info().get("workers", {})))
    job = _Job(client, split_files(files, encoding, range_bytes, workers), encoding, show_progress)
    try:
        return _discover(job, config, partitions or job.wave)
    except distributed_errors() as exc:
        raise ZhnlpError(f"the Dask job failed: {type(exc).__name__}: {exc}",
                         "a task kept killing its worker (often memory): give workers more "
                         "(dask worker --memory-limit) or use more of them") from None


def _discover(job: _Job, config: DiscoveryConfig, partitions: int):
    timings: dict[str, float] = {}
    start = time.perf_counter()
    chars: list[str] = []
    ids: dict[str, int] = {}
    char_counts: list[int] = [0]

    def global_ids(metas):
        translations = []
        for range_chars, range_counts in metas:
            translation = np.zeros(len(range_chars) + 1, dtype=np.uint64)
            for local, (ch, count) in enumerate(zip(range_chars, range_counts.tolist()), start=1):
                if ch not in ids:
                    ids[ch] = len(chars) + 1
                    chars.append(ch)
                    char_counts.append(0)
                translation[local] = ids[ch]
                char_counts[ids[ch]] += count
            translations.append(translation)
        return translations

    totals = job.map_reduce("counting n-grams", _count_range, (config.order, partitions), partitions,
                            _merge_ngrams, on_meta=global_ids)
    frequent = job.client.gather([job.submit(_frequent, t, config.min_count, 2, name="frequent") for t in totals])
    del totals
    total_chars = sum(char_counts)
    if total_chars == 0:
        raise ZhnlpError("no Chinese text in the input", "word discovery needs a corpus of Chinese text")
    if len(chars) > 65534:
        raise ZhnlpError(f"{len(chars):,} distinct characters: more than the 16-bit ids hold",
                         "run without --scheduler (it reads the extra characters as breaks)")
    unigram_keys = np.arange(1, len(chars) + 1, dtype=np.uint64) << np.uint64(48)
    keys = np.concatenate([unigram_keys, *[f[1] for f in frequent]])
    counts = np.concatenate([np.array(char_counts[1:], dtype=np.uint64), *[f[2] for f in frequent]])
    distinct_ngrams = sum(f[0] for f in frequent)
    del frequent
    timings["count"] = time.perf_counter() - start

    t = time.perf_counter()
    counter = kernels.NgramCounter(order=config.order, nparts=1)
    counter.add_counts(keys, counts)
    thresholds = {n: config.min_pmi * (n - 1) for n in range(2, config.order + 1)}
    cohesive, kept_by_order = counter.cohesive(config.min_count, thresholds)
    del counter
    short = (keys & np.uint64(0xFFFFFFFF)) == 0  # unigrams and bigrams
    model = job.broadcast((chars, keys[short], counts[short], _as_arrays([cohesive.keys()])[0], config.order))
    del keys, counts, short
    vocab = _vocab_of(chars)
    piece_totals = job.map_reduce("cutting sentences", _cut_range,
                                  (f"cut-{job.token}", model, config.max_len, partitions), partitions, _merge_pieces)
    pieces = kernels.PieceCounter(config.max_len)
    for _, hi, lo, counts in job.client.gather([job.submit(_frequent, p, config.min_count, 3, name="candidates")
                                                for p in piece_totals]):
        pieces.add_counts(hi, lo, counts)
    candidates = dict(pieces.items(vocab.chars, config.min_count))
    del piece_totals, model, pieces
    timings["cut"] = time.perf_counter() - t

    t = time.perf_counter()
    num_candidates = len(candidates)
    rounds = iter(range(1, config.iterations))

    def recount(lattice):
        token = f"lattice-{job.token}-{next(rounds)}"
        shipped = job.broadcast((chars, lattice.to_bytes()))
        tally, = job.map_reduce("re-segmenting", _resegment_range, (token, shipped), 1, _merge_tallies)
        tally = tally.result()
        if tally is None:
            tally = np.zeros(lattice.tally_size, dtype=np.float64)
        return lattice.tally_words([tally], config.min_count)

    counts, scores = choose_words(candidates, cohesive, vocab, config, recount, job.show_progress)
    timings["redundancy"] = time.perf_counter() - t
    return lexicon_of(counts, scores, config, {
        "chars": total_chars,
        "distinct_chars": len(chars),
        "distinct_ngrams": distinct_ngrams,
        "pruned_below": 0,
        "cohesive_ngrams": kept_by_order,
        "candidates": num_candidates,
        "seconds": {k: round(v, 3) for k, v in timings.items()},
        "ranges": len(job.ranges),
        "partitions": partitions,
    })
