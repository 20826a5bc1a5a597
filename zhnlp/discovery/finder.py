"""Unsupervised word discovery by minimum entropy, after 最小熵原理(二)："当机立断"之词库构建
(Su Jianlin, kexue.fm/archives/5476) and his word-discovery code.

The corpus is read once, streaming, and kept encoded (2 bytes a char, spilled to disk when large)
for the later passes:
1. count the 1..4-grams of every run of Chinese characters (compiled counter, one hash partition
   per worker thread);
2. keep the *cohesive* n-grams: seen at least ``min_count`` times, and even their weakest binary
   split w = a|b has ln(N·f(w) / (f(a)·f(b))) >= min_pmi·(n-1) (2, 4, 6 for n = 2, 3, 4);
3. cut every sentence between two characters that no cohesive n-gram spans ("当机立断") and count
   the pieces; a piece longer than ``max_len`` is cut again at its weakest link;
4. check long pieces back: every 3..4-char substring of a candidate must itself be cohesive;
5. remove redundancy, longest candidates first, with the unigram model: w stays a word only if
   ln(p_w / ∏ p_i) > ``redundancy`` for its best split into other words w = i1 i2 ... (eq. 2.17:
   merging the parts lowers the corpus' bits per character only when it exceeds 1); otherwise its
   count goes to its parts;
6. ``iterations`` - 1 times (once by default): re-segment the corpus with the lexicon (the unigram
   DP, compiled, on all cores), recount, and repeat 5.

No dictionary is used anywhere: discovery is unsupervised.
"""
from __future__ import annotations

import os
import time
from array import array
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import Callable, Iterable

from .._native import COMPILED, kernels
from ..errors import ZhnlpError
from ..lexicon import Lexicon, WordEntry
from ..corpus import EncodedCorpus, default_workers, for_each_chunk, merge_counters
from ..progress import progress_task
from ..textio import Source, iter_text_blocks, resolve_sources, total_bytes


@dataclass
class DiscoveryConfig:
    """Parameters of word discovery; the defaults were chosen on ../shared/data (see README)."""

    min_count: int = 8  # a word must occur this often; lower finds rarer words and more noise
    # cohesion per link: an n-gram's weakest split needs min_pmi·(n-1) nats. Below eq. 2.15's
    # break-even of 1 on purpose: the cut then only proposes candidates (frequent words of frequent
    # chars such as 不是, 为了 survive it) and the unigram model of steps 5-6 decides; word-discovery's
    # 2 loses them (R@32 0.72 on modern_zh)
    min_pmi: float = 0.6
    max_len: int = 6  # longest word; Chinese words over 6 chars are rare, and longer pieces are cut
    order: int = 4  # longest n-gram whose cohesion is measured (the author's choice)
    # eq. 2.17 keeps w when ln(p_w/∏p_i) > 1; 3.3 trims the phrases a loose cut lets through (的时候)
    redundancy: float = 3.3
    # 2: re-segment with the lexicon and recount once, per the post's refinement; the counts of
    # pieces the cut over-joined go back to their words (P@1000 0.87 -> 0.90 on modern_zh)
    iterations: int = 2
    workers: int = 0  # counting threads; 0 = one per core (at most 8)
    # distinct n-grams held before the rarest are pruned (~16 B each with table slack): twice what
    # modern_zh (98 MB) has, and a 1 GB corpus stays within 2 GB of memory
    max_ngrams: int = 40_000_000

    def validate(self) -> None:
        checks = [
            (self.min_count >= 1, "--min-count must be at least 1"),
            (self.min_pmi >= 0, "--min-pmi must not be negative"),
            (1 <= self.max_len <= 8, "--max-len must be 1..8"),
            (2 <= self.order <= 4, "the n-gram order must be 2..4"),
            (self.iterations >= 1, "--iterations must be at least 1"),
            (self.workers >= 0, "--workers must not be negative"),
            (self.max_ngrams >= 0, "--max-ngrams must not be negative"),
        ]
        for ok, message in checks:
            if not ok:
                raise ZhnlpError(message, "see zhnlp discover-words --help", exit_code=2)

    def resolved_workers(self) -> int:
        return default_workers(self.workers)


# ---------------------------------------------------------------------------------------------
# the pipeline
# ---------------------------------------------------------------------------------------------
def expected_ngrams(size: int | None) -> int:
    """Distinct n-grams to pre-size a counter for, from the input's bytes (about 0.6 per byte/3 on
    modern_zh), so that its tables need not grow, which would briefly hold the old and the new one."""
    return int((size or 0) / 3 * 0.65)


def _count_ngrams(sources: list[Source], config: DiscoveryConfig, encoding: str, show_progress: bool):
    workers = config.resolved_workers()
    size = total_bytes(sources)
    expected = min(config.max_ngrams or 1 << 62, expected_ngrams(size))
    counter = kernels.NgramCounter(order=config.order, nparts=workers, max_entries=config.max_ngrams,
                                   expected_entries=expected)
    vocab = kernels.CharVocab()
    corpus = EncodedCorpus()
    with progress_task("counting n-grams", total=size, enabled=show_progress) as task, \
            ThreadPoolExecutor(max_workers=workers) as pool:
        pending: list = []
        for block in iter_text_blocks(sources, encoding, on_bytes=task.advance):
            ids = vocab.encode(block)
            for future in pending:  # the previous block finishes counting while this one decoded
                future.result()
            pending = [pool.submit(counter.count, ids, part) for part in range(workers)]
            corpus.append(ids)
            task.advance(0, chars=len(block))
        for future in pending:
            future.result()
    return counter, vocab, corpus


def _count_pieces(corpus: EncodedCorpus, counter, cohesive, config: DiscoveryConfig, show_progress: bool):
    workers = config.resolved_workers()
    piece_counters = [kernels.PieceCounter(config.max_len) for _ in range(workers)]
    for_each_chunk(corpus, workers, lambda worker, ids: piece_counters[worker].cut_and_count(ids, cohesive, counter),
                   "cutting sentences", show_progress)
    return piece_counters


def _lattice_of(counts: dict[str, float]):
    lattice = kernels.WordLattice()
    for word, count in counts.items():
        lattice.set_count(word, float(count))
    return lattice


def _longest_first(words: Iterable[str]) -> list[str]:
    """Multi-char words, longest first, then in code point order (two sorts: faster than a tuple key)."""
    ordered = sorted(w for w in words if len(w) > 1)
    ordered.sort(key=len, reverse=True)  # stable, also with reverse: equal lengths keep their order
    return ordered


def _prune_redundant(lattice, candidates: list[str], checked: list[bool], threshold: float,
                     show_progress: bool) -> dict[str, float]:
    """``WordLattice.remove_redundancy`` in steps, so that the progress bar moves."""
    scores: dict[str, float] = {}
    step = 8192
    with progress_task("removing redundancy", total=len(candidates), unit="words", enabled=show_progress) as task:
        for start in range(0, len(candidates), step):
            scores.update(lattice.remove_redundancy(candidates[start:start + step], checked[start:start + step],
                                                    threshold))
            task.advance(len(candidates[start:start + step]))
    return scores


def remove_redundancy(counts: dict[str, float], threshold: float = 1.0, vocab=None, cohesive=None,
                      order: int = 4, show_progress: bool = False) -> tuple[dict[str, float], dict[str, float]]:
    """Eq. 2.17, longest words first: w stays when ln(p_w / ∏ p_i) > threshold for its best split
    w = i1 i2 ... under the unigram model of the other words; otherwise w's count moves to its
    parts. With vocab and cohesive given, words of 3+ chars must also pass the check back.

    Returns (counts of the words that stay, score of each multi-char word that stays)."""
    lattice = _lattice_of(counts)
    candidates = _longest_first(counts)
    checked = [True] * len(candidates) if cohesive is None else cohesive.covers(candidates, vocab, 3, order)
    scores = _prune_redundant(lattice, candidates, checked, threshold, show_progress)
    return lattice.words(), scores


def _resegment(corpus: EncodedCorpus, vocab, lattice, min_count: int, workers: int,
               show_progress: bool) -> dict[str, float]:
    """Counts (at least min_count) of the words of the corpus segmented with the lattice's lexicon (for
    iterations > 1), in compiled code on ``workers`` threads, each into a tally of its own."""
    codepoints = array("I", [0, *map(ord, vocab.chars[1:])])
    tallies = [array("d", bytes(8 * lattice.tally_size)) for _ in range(workers)]
    for_each_chunk(corpus, workers, lambda worker, ids: lattice.count_words(ids, codepoints, tallies[worker]),
                   "re-segmenting", show_progress)
    return lattice.tally_words(tallies, min_count)


def choose_words(candidates: dict[str, float], cohesive, vocab, config: DiscoveryConfig,
                 recount: Callable, show_progress: bool) -> tuple[dict[str, float], dict[str, float]]:
    """Steps 4-6 on the cut's candidates (the dict is emptied: it is often the largest thing left):
    the check back and eq. 2.17, then ``iterations - 1`` times ``recount(lattice)`` (the corpus
    re-segmented with the lattice's words: {word: count}) and eq. 2.17 again. Each structure is
    dropped as soon as the next one is built, for memory (a 1 GB corpus has millions of candidates).
    Returns (counts of the words that stay, score of each multi-char word that stays)."""
    lattice, ordered = _lattice_of(candidates), _longest_first(candidates)
    candidates.clear()
    checked = cohesive.covers(ordered, vocab, 3, config.order)  # the check back
    scores = _prune_redundant(lattice, ordered, checked, config.redundancy, show_progress)
    del ordered, checked
    for _ in range(config.iterations - 1):
        recounted = recount(lattice)
        lattice = scores = None
        lattice, ordered = _lattice_of(recounted), _longest_first(recounted)
        del recounted
        scores = _prune_redundant(lattice, ordered, [True] * len(ordered), config.redundancy, show_progress)
        del ordered
    return lattice.words(), scores


def lexicon_of(counts: dict[str, float], scores: dict[str, float], config: DiscoveryConfig, stats: dict) -> Lexicon:
    """The Lexicon of the words seen at least min_count times; ``stats`` gains the word count and the config."""
    words = [WordEntry(w, int(round(c)), round(scores.get(w, 0.0), 4)) for w, c in counts.items()
             if c >= config.min_count]
    return Lexicon(words, {**stats, "words": len(words), "compiled": COMPILED, "config": asdict(config)})


def resolve_config(config: DiscoveryConfig | None, overrides: dict) -> DiscoveryConfig:
    config = config or DiscoveryConfig()
    if overrides:
        config = DiscoveryConfig(**{**asdict(config), **overrides})
    config.validate()
    return config


def discover_words(inputs: str | os.PathLike | Iterable[str | os.PathLike], config: DiscoveryConfig | None = None,
                   *, encoding: str = "utf-8", show_progress: bool = False, scheduler=None,
                   **overrides) -> Lexicon:
    """Find the words of a corpus with no dictionary.

    inputs: a path, a folder of .txt files, '-' for stdin, or a list of these.
    Any DiscoveryConfig field can be given as a keyword (``discover_words(path, min_count=20)``).
    scheduler: run on Dask instead (``"local"``, ``"local:N"``, ``"tcp://host:8786"`` or a
    ``distributed.Client``): the same lexicon, see ``zhnlp.discovery.distributed``.
    Returns a Lexicon, most frequent first; ``lexicon.stats`` holds counts and timings.
    """
    config = resolve_config(config, overrides)
    if scheduler is not None:
        from .distributed import discover_words_on_dask

        return discover_words_on_dask(inputs, config, scheduler, encoding=encoding, show_progress=show_progress)
    sources = resolve_sources(inputs)
    timings: dict[str, float] = {}
    start = time.perf_counter()
    counter, vocab, corpus = _count_ngrams(sources, config, encoding, show_progress)
    timings["count"] = time.perf_counter() - start
    total_chars = counter.total_chars
    try:
        if total_chars == 0:
            raise ZhnlpError("no Chinese text in the input", "word discovery needs a corpus of Chinese text")
        thresholds = {n: config.min_pmi * (n - 1) for n in range(2, config.order + 1)}
        t = time.perf_counter()
        cohesive, kept_by_order = counter.cohesive(config.min_count, thresholds)
        piece_counters = _count_pieces(corpus, counter, cohesive, config, show_progress)
        distinct_ngrams, prune_floor = len(counter), counter.prune_floor
        del counter  # the n-gram tables are the largest structure: free them before what follows
        pieces = merge_counters(piece_counters)
        candidates = dict(pieces.items(vocab.chars, config.min_count))
        del pieces
        if config.iterations == 1:
            corpus.close()  # only re-segmenting reads it again
        timings["cut"] = time.perf_counter() - t
        t = time.perf_counter()
        num_candidates = len(candidates)
        counts, scores = choose_words(
            candidates, cohesive, vocab, config, show_progress=show_progress,
            recount=lambda lattice: _resegment(corpus, vocab, lattice, config.min_count,
                                               config.resolved_workers(), show_progress))
        timings["redundancy"] = time.perf_counter() - t
    finally:
        corpus.close()
    return lexicon_of(counts, scores, config, {
        "chars": total_chars,
        "distinct_chars": len(vocab),
        "distinct_ngrams": distinct_ngrams,
        "pruned_below": prune_floor if prune_floor > 1 else 0,
        "cohesive_ngrams": kept_by_order,
        "candidates": num_candidates,
        "seconds": {k: round(v, 3) for k, v in timings.items()},
    })
