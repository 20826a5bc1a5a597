"""A memory of training pairs beside the couplet CNN: counts of what followed each upper context.

The CNN of the post (128 wide, a few MB) cannot memorise the 670,000 positions it is trained on;
its dev character accuracy is 0.24, below the counting table's 0.28, which only memorises. The memory
keeps the training pairs and, at each position of an upper line, finds the training positions with
the same upper context: the upper character with its left neighbour or its right one, then one, two
and three characters on each side. The lower characters found there pull the CNN's distribution
towards them as much as they are many, each context a Dirichlet prior step with the previous
distribution as prior: p <- (counts + w p) / (total + w), the CNN's distribution first. It is the
interpolation of kNN-LM (Khandelwal et al. 2020, "Generalization through Memorization") with counts
for neighbours. The decoder's n best lines under the rules are then re-ranked with a bigram model of
lower lines and the counts of (upper bigram, lower bigram) pairs, a phrase table.

The weights below were chosen on the first 1,500 dev lines and checked on the other 2,417 (on those,
with the shipped model: BLEU 3.02 -> 12.31, character accuracy 0.236 -> 0.291; benchmarks/bench_couplet.py).

``zhnlp train couplet-memory`` writes ``memory.safetensors`` into a model folder: the training pairs
as vocabulary ids ("upper" and "lower", the lines one after another, each after MARGIN zeros). The
model shipped with zhnlp has none: it would hold the training data itself, which is not ours to ship.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..errors import InputError

MEMORY_FILE = "memory.safetensors"
MARGIN = 3  # zeros ([PAD]) before each line: the widest context, three characters, never spans two lines
NEIGHBOURS = ((1, 0), (0, 1))  # (left, right) characters around the upper one: its two bigrams, counts pooled
WINDOWS = ((1, 1), (2, 2), (3, 3))  # then symmetric contexts, narrow to wide
NEIGHBOUR_PRIOR = 3.0  # weight of the prior distribution against the pooled bigram counts
WINDOW_PRIOR = 0.3  # ... against a symmetric context's counts: a context seen once in train is usually right
CANDIDATES = 10  # lines under the rules re-ranked
LM_WEIGHT = 0.3  # of the lower-line bigram model's log-probability in the re-ranking score
PHRASE_WEIGHT = 0.3  # of the phrase table's log-probabilities
LM_UNIGRAM_SHARE = 0.3  # the bigram model: (1 - s) P(b | a) + s P(b), P(b) add-half smoothed
PHRASE_PSEUDO_COUNT = 0.01  # P(lower bigram | upper bigram) = (count + 0.01) / (upper count + 1)

_MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)  # odd: multiplying by it permutes the 64-bit keys


def _keys(columns: list[np.ndarray], tag: int = 0) -> np.ndarray:
    """One 64-bit hash per row of id columns (equal-length int arrays) and ``tag``; collisions are
    negligible against the memory's million keys."""
    key = np.full(len(columns[0]), 0xCBF29CE484222325 ^ tag, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for column in columns:
            key = (key ^ column.astype(np.uint64)) * _MULTIPLIER
            key ^= key >> np.uint64(29)
    return key


def _context_keys(flat: np.ndarray, centres: np.ndarray, left: int, right: int) -> np.ndarray:
    """The keys of the contexts (``left`` characters, the centre, ``right`` characters) around centres:
    tagged with their shape, so that the pooled bigram contexts (a, b) before b and after a differ."""
    return _keys([flat[centres + offset] for offset in range(-left, right + 1)], tag=1 + left * 16 + right)


def flat_layout(ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(B, T) ids of equal-length lines -> the memory's layout: the lines one after another, each
    after MARGIN zeros, MARGIN zeros at the end; and the (B*T,) indices of the characters in it."""
    batch, length = ids.shape
    flat = np.zeros((batch, MARGIN + length), dtype=np.int64)
    flat[:, MARGIN:] = ids
    flat = np.concatenate([flat.ravel(), np.zeros(MARGIN, dtype=np.int64)])
    centres = (np.arange(batch)[:, None] * (MARGIN + length) + MARGIN + np.arange(length)).ravel()
    return flat, centres


class _Index:
    """Sorted keys with a value per key (repeated keys kept): counts and values of query keys."""

    def __init__(self, keys: np.ndarray, values: np.ndarray | None = None):
        order = np.argsort(keys, kind="stable")
        self.keys = keys[order]
        self.values = values[order] if values is not None else None

    def ranges(self, queries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return np.searchsorted(self.keys, queries, "left"), np.searchsorted(self.keys, queries, "right")

    def counts(self, queries: np.ndarray) -> np.ndarray:
        low, high = self.ranges(queries)
        return high - low

    def matches(self, queries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For each occurrence of each query in the index: (query row, its value)."""
        low, high = self.ranges(queries)
        sizes = high - low
        rows = np.repeat(np.arange(len(queries)), sizes)
        starts = np.repeat(low - (np.cumsum(sizes) - sizes), sizes)
        return rows, self.values[starts + np.arange(len(rows))]


class CoupletMemory:
    def __init__(self, upper: np.ndarray, lower: np.ndarray, vocab_size: int):
        """``upper``, ``lower``: training pairs in the memory's layout (``flat_layout``), the same zeros
        in both; ``vocab_size``: of the model whose ids they are."""
        if (upper.shape != lower.shape or upper.ndim != 1 or ((upper == 0) != (lower == 0)).any()
                or upper[:MARGIN].any() or upper[-MARGIN:].any()):
            raise InputError("memory: upper and lower lines do not line up", "rebuild it: zhnlp train couplet-memory")
        if len(upper) and (upper.min() < 0 or max(upper.max(), lower.max()) >= vocab_size):
            raise InputError(f"memory: ids beyond the vocabulary of {vocab_size}",
                             "rebuild it for this model: zhnlp train couplet-memory")
        self.upper, self.lower, self.vocab_size = upper.astype(np.int64), lower.astype(np.int64), vocab_size
        centres = np.flatnonzero(self.upper)
        answers = self.lower[centres]
        self.neighbours = _Index(np.concatenate([_context_keys(self.upper, centres, *n) for n in NEIGHBOURS]),
                                 np.tile(answers, len(NEIGHBOURS)))
        self.windows = [_Index(_context_keys(self.upper, centres, *w), answers) for w in WINDOWS]
        # lower lines: bigrams, from the zero before each line to the zero after it
        ends = centres[self.upper[centres + 1] == 0] + 1
        steps = np.concatenate([centres, ends])
        self.bigrams = _Index(_keys([self.lower[steps - 1], self.lower[steps]]))
        self.firsts = np.bincount(self.lower[steps - 1], minlength=vocab_size)  # bigrams starting with each id
        self.unigram = (np.bincount(self.lower[steps], minlength=vocab_size) + 0.5) / (len(steps) + 0.5 * vocab_size)
        inner = centres[self.upper[centres + 1] != 0]  # positions with a next character in their line
        self.upper_bigrams = _Index(_keys([self.upper[inner], self.upper[inner + 1]]))
        self.phrases = _Index(_keys([self.upper[inner], self.upper[inner + 1], self.lower[inner],
                                     self.lower[inner + 1]]))

    @classmethod
    def from_pairs(cls, pairs: list[tuple[str, str]], vocab: list[str]) -> "CoupletMemory":
        """From (upper, lower) pairs of equal length; characters outside ``vocab`` become [UNK]."""
        upper, lower = pairs_layout(pairs, vocab)
        return cls(upper, lower, len(vocab))

    def save(self, directory: str | os.PathLike) -> Path:
        from safetensors.numpy import save_file

        dtype = np.int16 if self.vocab_size <= np.iinfo(np.int16).max else np.int32
        from ..outputs import atomic_path

        path = Path(directory) / MEMORY_FILE
        with atomic_path(path) as temporary:
            save_file({"upper": self.upper.astype(dtype), "lower": self.lower.astype(dtype)}, str(temporary))
        return path

    @classmethod
    def load(cls, directory: str | os.PathLike, vocab_size: int) -> "CoupletMemory | None":
        """The folder's memory, or None when it has none."""
        path = Path(directory) / MEMORY_FILE
        if not path.is_file():
            return None
        from safetensors import SafetensorError
        from safetensors.numpy import load_file

        try:
            arrays = load_file(str(path))
        except (SafetensorError, OSError) as exc:
            raise InputError(f"{path}: not a couplet memory ({exc})", "rebuild it: zhnlp train couplet-memory") from None
        if set(arrays) != {"upper", "lower"}:
            raise InputError(f"{path}: not a couplet memory", "rebuild it: zhnlp train couplet-memory")
        return cls(arrays["upper"], arrays["lower"], vocab_size)

    def interpolate(self, log_probs: np.ndarray, flat: np.ndarray, centres: np.ndarray) -> np.ndarray:
        """(N, V) log-probabilities at the upper characters flat[centres] (a query in ``flat_layout``)
        -> the same, in place, moved towards the lower characters found after their contexts in the
        memory. Each step p <- (counts + w p) / (total + w) keeps p = scale x p_cnn + extra, with
        extra nonzero only where the memory found something: the dense array is only shifted by
        log(scale), and the few entries found are recomputed."""
        size = len(centres)
        scale = np.ones(size)  # (N,)
        rows, answers, weights = (np.empty(0, dtype=np.int64),) * 2 + (np.empty(0),)  # the extra's entries
        steps = [(self.neighbours, np.concatenate([_context_keys(flat, centres, *n) for n in NEIGHBOURS]),
                  NEIGHBOUR_PRIOR)]
        steps += [(index, _context_keys(flat, centres, *w), WINDOW_PRIOR) for index, w in zip(self.windows, WINDOWS)]
        for index, queries, prior in steps:
            found_rows, found_answers = index.matches(queries)
            found_rows %= size  # the pooled bigram contexts: the second copy of each row
            totals = np.bincount(found_rows, minlength=size)  # (N,)
            shrink = prior / (totals + prior)  # (N,), 1 where nothing was found
            scale *= shrink
            weights = np.concatenate([weights * shrink[rows], 1.0 / (totals[found_rows] + prior)])
            rows, answers = np.concatenate([rows, found_rows]), np.concatenate([answers, found_answers])
        codes, inverse = np.unique(rows * self.vocab_size + answers, return_inverse=True)
        extra = np.bincount(inverse.ravel(), weights)
        rows, answers = codes // self.vocab_size, codes % self.vocab_size
        found = np.log(scale[rows] * np.exp(log_probs[rows, answers].astype(np.float64)) + extra)
        log_probs += np.log(scale).astype(log_probs.dtype)[:, None]
        log_probs[rows, answers] = found
        return log_probs

    def rerank_scores(self, upper_ids: np.ndarray, lower_ids: np.ndarray) -> np.ndarray:
        """(M, T) upper lines and candidate lower lines -> (M,) LM_WEIGHT x the lower line's bigram
        log-probability + PHRASE_WEIGHT x log P(lower bigram | upper bigram) over the upper bigrams
        the memory has seen."""
        lines, length = lower_ids.shape
        lower, _ = flat_layout(lower_ids)
        upper, centres = flat_layout(upper_ids)
        steps = np.concatenate([centres, centres[length - 1::length] + 1])  # the characters, then each end
        seen = self.bigrams.counts(_keys([lower[steps - 1], lower[steps]]))
        firsts = self.firsts[lower[steps - 1]]
        bigram = np.divide(seen, firsts, out=np.zeros(len(steps)), where=firsts > 0)
        lm = np.log((1 - LM_UNIGRAM_SHARE) * bigram + LM_UNIGRAM_SHARE * self.unigram[lower[steps]])
        line_of_step = np.concatenate([np.repeat(np.arange(lines), length), np.arange(lines)])
        score = LM_WEIGHT * np.bincount(line_of_step, lm, minlength=lines)
        if length > 1:
            inner = centres.reshape(lines, length)[:, :-1].ravel()
            upper_seen = self.upper_bigrams.counts(_keys([upper[inner], upper[inner + 1]]))
            pairs = self.phrases.counts(_keys([upper[inner], upper[inner + 1], lower[inner], lower[inner + 1]]))
            phrase = np.where(upper_seen > 0, np.log((pairs + PHRASE_PSEUDO_COUNT) / (upper_seen + 1.0)), 0.0)
            score += PHRASE_WEIGHT * phrase.reshape(lines, length - 1).sum(1)
        return score


def pairs_layout(pairs: list[tuple[str, str]], vocab: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(upper, lower) pairs -> their upper and lower lines in the memory's layout."""
    from .data import encode

    index = {c: i for i, c in enumerate(vocab)}
    parts_upper, parts_lower = [], []
    zeros = [0] * MARGIN
    for upper, lower in pairs:
        if len(upper) != len(lower) or not upper:
            raise InputError(f"memory: pair {upper!r} / {lower!r} is empty or of unequal length",
                             "give pairs of equal-length lines")
        parts_upper += zeros + encode(upper, index)
        parts_lower += zeros + encode(lower, index)
    return np.array(parts_upper + zeros, dtype=np.int64), np.array(parts_lower + zeros, dtype=np.int64)


def build_memory(data_dir: str | os.PathLike, model_dir: str | os.PathLike | None,
                 output_dir: str | os.PathLike, force: bool = False) -> dict:
    """A model folder with a memory of ``data_dir``'s train pairs: ``output_dir``, a copy of
    ``model_dir`` (default: the shipped model) with memory.safetensors added; or ``model_dir``
    itself when both name one folder. Written beside and renamed into place, never half-written."""
    import shutil

    from ..errors import OutputError
    from ..outputs import check_output_folder, staged_folder
    from .data import read_pairs
    from .folder import read_folder, resolve_folder

    source = resolve_folder(model_dir)
    target = Path(output_dir)
    config, vocab = read_folder(source)
    in_place = target.exists() and target.resolve() == source.resolve()
    if in_place and (target / MEMORY_FILE).exists() and not force:
        raise OutputError(f"{target / MEMORY_FILE} exists", "add --force to rebuild it")
    if not in_place:
        check_output_folder(target, force)
    pairs = [(u, w) for u, w in read_pairs(data_dir, "train") if len(u) <= config.max_length]
    if not pairs:
        raise InputError(f"no training pairs in {data_dir}/train", "give --data a folder with train/in.txt, out.txt")
    memory = CoupletMemory.from_pairs(pairs, vocab)
    if in_place:
        path = memory.save(target)
    else:
        if target.exists() and not target.is_dir():
            target.unlink()  # --force over a file
        with staged_folder(target, force=force) as staging:
            for item in source.iterdir():
                if item.is_file() and item.name != MEMORY_FILE:
                    shutil.copy2(item, staging / item.name)
            memory.save(staging)
        path = target / MEMORY_FILE
    return {"output": str(target), "memory": str(path), "pairs": len(pairs),
            "positions": int(np.count_nonzero(memory.upper)), "megabytes": round(path.stat().st_size / 2**20, 2)}
