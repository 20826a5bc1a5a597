"""Sentence templates by skip-gram mutual information, after 最小熵原理(三)："飞象过河"之句模版和
语言结构 (Su Jianlin, kexue.fm/archives/5577) and ``Template_Finder`` of his nlp-zero.

Fixed collocations need not be adjacent (“X 的 X 是 什么”), so the PMI test of word discovery is
applied to word pairs inside a skip window:
1. segment the corpus with a lexicon (given, or discovered first) into sentences of words; a
   sentence is a run of Chinese characters, Latin letters and digits;
2. count words and ordered pairs (a, b) with b at most ``window`` words after a, on the project's
   compiled n-gram counter (words as integer ids, a pair keyed like a bigram);
3. draw an edge a -> b between words of a sentence when their pair has p_ab > min_prob and
   ln(p_ab / (p_a p_b)) > min_pmi; every maximal path of that graph is a template, with a slot
   wherever the path skips words and at open ends (isolated words give ``X w X``);
4. keep the templates whose probability is above min_prob.

Only words that can possibly reach p_ab > min_prob (count·window ≥ min_prob·total pairs) have their
pairs stored, which keeps the pair table small without changing any result.
"""
from __future__ import annotations

import os
import time
from array import array
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from math import log
from typing import Iterable

from .._native import COMPILED, kernels
from ..chars import SENTENCE as _SENTENCE  # what a sentence is made of
from ..corpus import EncodedCorpus, default_workers, for_each_chunk, merge_counters
from ..discovery.finder import DiscoveryConfig, discover_words
from ..errors import ZhnlpError
from ..lexicon import Lexicon
from ..progress import progress_task
from ..segmentation import Segmenter
from ..textio import iter_text_blocks, resolve_sources, total_bytes
from .templateset import Template, TemplateSet


@dataclass
class TemplateConfig:
    """Parameters of template finding; the defaults are the post's and nlp-zero's."""

    window: int = 5  # a pair is counted when b is at most this many words after a
    min_prob: float = 1e-5  # pairs and templates rarer than this are dropped
    min_pmi: float = 2.0  # nats of ln(p_ab / (p_a p_b)) for an edge; 2 keeps real collocations only
    # a sentence with more paths than this (a long list repeating one word: their number grows
    # exponentially) is skipped rather than flooding the counts with near-copies of one template
    max_paths: int = 10_000
    workers: int = 0  # counting threads; 0 = one per core (at most 8)

    def validate(self) -> None:
        checks = [
            (1 <= self.window <= 255, "--window must be 1..255"),
            (0 < self.min_prob < 1, "--min-prob must be between 0 and 1"),
            (self.max_paths >= 1, "--max-paths must be at least 1"),
            (self.workers >= 0, "--workers must not be negative"),
        ]
        for ok, message in checks:
            if not ok:
                raise ZhnlpError(message, "see zhnlp templates --help", exit_code=2)

    def resolved_workers(self) -> int:
        return default_workers(self.workers)


def as_segmenter(lexicon: Lexicon | Segmenter | dict | str | os.PathLike) -> Segmenter:
    if isinstance(lexicon, Segmenter):
        return lexicon
    if isinstance(lexicon, (str, os.PathLike)):
        return Segmenter.from_file(lexicon)
    return Segmenter(lexicon)


class WordVocab:
    """Words <-> dense ids 1, 2, ... (0 is the sentence break, and a slot in templates)."""

    def __init__(self):
        self.ids: dict[str, int] = {}
        self.words: list[str] = [""]

    def __len__(self) -> int:
        return len(self.words) - 1

    def encode_sentences(self, sentences: Iterable[list[str]]) -> array:
        """Word ids of the sentences, each followed by a 0."""
        ids = self.ids
        words = self.words
        out = array("I")
        for sentence in sentences:
            for word in sentence:
                wid = ids.get(word)
                if wid is None:
                    wid = ids[word] = len(words)
                    words.append(word)
                out.append(wid)
            out.append(0)
        return out


def _segment(sources, segmenter: Segmenter, encoding: str, show_progress: bool):
    """Pass 1: the corpus as word ids (kept for the next passes), word counts and pair total."""
    vocab = WordVocab()
    corpus = EncodedCorpus(typecode="I")
    cut = segmenter.cut
    find_sentences = _SENTENCE.findall
    with progress_task("segmenting", total=total_bytes(sources), enabled=show_progress) as task:
        for block in iter_text_blocks(sources, encoding, on_bytes=task.advance):
            ids = vocab.encode_sentences(cut(s) for s in find_sentences(block))
            if len(ids):
                corpus.append(ids)
            task.advance(0, chars=len(block))
    return vocab, corpus


def _word_counts(corpus: EncodedCorpus, vocab_size: int, window: int):
    """Counts of every word id, and how many pairs lie within the window (numpy, one pass)."""
    import numpy as np

    counts = np.zeros(vocab_size + 1, dtype=np.uint64)
    total_pairs = 0
    for chunk in corpus:
        ids = np.frombuffer(chunk, dtype=np.uint32)
        counts += np.bincount(ids, minlength=vocab_size + 1).astype(np.uint64)
        breaks = np.flatnonzero(ids == 0)
        lengths = np.diff(np.concatenate(([-1], breaks))) - 1
        lengths = lengths[lengths > 0].astype(np.int64)
        for d in range(1, window + 1):
            total_pairs += int(np.maximum(lengths - d, 0).sum())
    counts[0] = 0
    return counts, total_pairs


def _count_pairs(corpus: EncodedCorpus, eligible: bytes, config: TemplateConfig, show_progress: bool):
    workers = config.resolved_workers()
    counter = kernels.NgramCounter(order=2, nparts=workers)
    with progress_task("counting word pairs", total=len(corpus), unit="blocks", enabled=show_progress) as task, \
            ThreadPoolExecutor(max_workers=workers) as pool:
        for ids in corpus:
            futures = [pool.submit(counter.count_pairs, ids, config.window, eligible, part)
                       for part in range(workers)]
            for f in futures:
                f.result()
            task.advance(1)
    return counter


def _count_templates(corpus: EncodedCorpus, strong, config: TemplateConfig, show_progress: bool):
    workers = config.resolved_workers()
    counters = [kernels.TemplateCounter() for _ in range(workers)]
    for_each_chunk(corpus, workers,
                   lambda worker, ids: counters[worker].add(ids, config.window, strong, config.max_paths),
                   "collecting templates", show_progress)
    return merge_counters(counters)


def find_templates(inputs: str | os.PathLike | Iterable[str | os.PathLike],
                   lexicon: Lexicon | Segmenter | dict | str | os.PathLike | None = None,
                   config: TemplateConfig | None = None, *, encoding: str = "utf-8",
                   show_progress: bool = False, discovery: DiscoveryConfig | None = None,
                   **overrides) -> TemplateSet:
    """Find the sentence templates of a corpus.

    inputs: a path, a folder of .txt files, '-' for stdin, or a list of these. lexicon: the words to
    segment with (a Lexicon, a lexicon file, {word: count} or a Segmenter); when None, the words are
    discovered from the corpus first (``discover_words`` with ``discovery``).
    Any TemplateConfig field can be given as a keyword (``find_templates(path, window=3)``).
    Returns every kept template, trivial ones included, most frequent first (with the discovered
    lexicon in ``.lexicon`` when none was given: parse with it).
    """
    config = config or TemplateConfig()
    if overrides:
        config = TemplateConfig(**{**asdict(config), **overrides})
    config.validate()
    sources = resolve_sources(inputs)
    timings: dict[str, float] = {}
    start = time.perf_counter()
    if lexicon is None:
        if any(s.path is None for s in sources):
            raise ZhnlpError("standard input cannot be read twice (once to find words, once for templates)",
                             "give a lexicon: zhnlp discover-words CORPUS -o words.tsv, then --lexicon words.tsv")
        lexicon = discover_words(sources, discovery, encoding=encoding, show_progress=show_progress)
        timings["discover_words"] = time.perf_counter() - start
        discovered = lexicon
    else:
        discovered = None
    segmenter = as_segmenter(lexicon)
    t = time.perf_counter()
    vocab, corpus = _segment(sources, segmenter, encoding, show_progress)
    timings["segment"] = time.perf_counter() - t
    try:
        t = time.perf_counter()
        word_counts, total_pairs = _word_counts(corpus, len(vocab), config.window)
        total_words = int(word_counts.sum())
        if total_words == 0:
            if all(source.path is None for source in sources):  # a filter given nothing gives nothing
                return TemplateSet([], 0, {"words": 0, "skipped_sentences": 0, "config": asdict(config)},
                                   lexicon=discovered)
            raise ZhnlpError("no words in the input", "template finding needs a corpus of Chinese text")
        # a pair can only pass min_prob if both its words occur at least this often
        floor = config.min_prob * total_pairs / config.window * (1 - 1e-9)
        eligible = (word_counts >= floor).astype("uint8").tobytes()
        counter = _count_pairs(corpus, eligible, config, show_progress)
        if counter.total_pairs != total_pairs:
            raise AssertionError(f"pair totals disagree: {counter.total_pairs} != {total_pairs}")
        strong = counter.strong_pairs(word_counts, float(total_words), config.min_prob, config.min_pmi)
        stored_pairs = len(counter)
        del counter
        timings["pairs"] = time.perf_counter() - t
        t = time.perf_counter()
        counts = _count_templates(corpus, strong, config, show_progress)
        timings["templates"] = time.perf_counter() - t
    finally:
        corpus.close()
    total = counts.total
    log_total, log_min = log(total), log(config.min_prob)
    words = vocab.words
    kept = [Template(tuple(words[w] if w else None for w in ids), count)
            for ids, count in counts.items() if log(count) - log_total > log_min]
    stats = {
        "words": total_words,
        "distinct_words": len(vocab),
        "pairs": total_pairs,
        "stored_pairs": stored_pairs,
        "strong_pairs": len(strong),
        "template_paths": total,
        "distinct_templates": len(counts),
        "kept_templates": len(kept),
        "skipped_sentences": counts.skipped_sentences,
        "compiled": COMPILED,
        "seconds": {k: round(v, 3) for k, v in timings.items()},
        "config": asdict(config),
    }
    return TemplateSet(kept, sum(t.count for t in kept), stats, lexicon=discovered)
