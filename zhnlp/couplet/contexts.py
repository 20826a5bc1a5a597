"""Hashed upper-line contexts: the couplet model's learned counterpart of the counting table.

The table that beats the plain CNN (issue 20) recalls, for an upper character with one or two
neighbours on each side, the lower character seen there in training. Here the same contexts are
features of the model (fastText's bucket style, with two hashes per context as in hash embeddings,
Svenstrup et al. 2017): each window of upper characters around a position is hashed twice into
``buckets`` rows of a learned table, and the rows are summed into one context vector per position.
What the table recalls is then learned into weights: an ordinary model, not a copy of the pairs.

The ids are computed here, in numpy, for training (PyTorch) and for the numpy runtime alike, so the
two can never hash differently. Beyond the line's ends the id is 0 ([PAD]), which is also what a
padded batch holds there: a line's contexts do not depend on its batch.
"""
from __future__ import annotations

import numpy as np

# (first, last) offsets of the windows around position i: its left and right bigrams, the centred
# trigram, the left and right trigrams and the centred 5-gram (the table's widest context)
DEFAULT_WINDOWS = ((-1, 0), (0, 1), (-1, 1), (-2, 0), (0, 2), (-2, 2))
HASHES = 2  # rows per context: two contexts rarely share both
_MODULUS = 2_147_483_647  # 2^31 - 1: every running hash stays below it, products below 2^62
_MULTIPLIERS = (1_000_003, 999_983)  # one per hash


def _shifted(ids: np.ndarray, offset: int) -> np.ndarray:
    """ids[:, t + offset], 0 beyond the ends. ids: (B, T)."""
    if offset == 0:
        return ids
    out = np.zeros_like(ids)
    if offset > 0:
        out[:, :-offset] = ids[:, offset:]
    else:
        out[:, -offset:] = ids[:, :offset]
    return out


def context_ids(input_ids: np.ndarray, windows: tuple[tuple[int, int], ...], buckets: int) -> np.ndarray:
    """(B, T) character ids (0 = padding) -> (B, T, len(windows) * HASHES) rows of the context table."""
    ids = np.asarray(input_ids, dtype=np.int64)
    shifted = {o: _shifted(ids, o) + 1 for first, last in windows for o in range(first, last + 1)}
    out = np.empty((*ids.shape, len(windows) * HASHES), dtype=np.int64)  # (B, T, F)
    for w, (first, last) in enumerate(windows):
        for h, multiplier in enumerate(_MULTIPLIERS[:HASHES]):
            value = np.full(ids.shape, (w + 1) * 7919 + h, dtype=np.int64)  # the window's own seed
            for offset in range(first, last + 1):
                value = (value * multiplier + shifted[offset]) % _MODULUS
            out[..., w * HASHES + h] = value % buckets
    return out


__all__ = ["DEFAULT_WINDOWS", "HASHES", "context_ids"]
