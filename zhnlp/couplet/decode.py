"""Decoding a lower line from per-position log-probabilities, plain or under couplet rules.

Plain (the post's decoder): at each position, the most probable character other than the upper
line's character there. Constrained (zhnlp's rules, checked by ``rule_violations``):
- the lower line has the upper line's length;
- punctuation in the upper line is copied to the same position (the post forbids it instead);
- elsewhere, never the upper line's character at the same position, and no punctuation;
- where the upper line repeats a character (positions i and j), the lower line repeats one
  character at i and j; where it does not repeat, the lower line does not either;
- optionally (``level_tone``), the last character (punctuation aside) must be of a level tone (平).
Positions sharing an upper character form one group that takes one character; a best-first
search over the groups' candidate characters, keeping them distinct, gives the n best lines
exactly (``best_assignments``).
"""
from __future__ import annotations

import functools
import unicodedata

import numpy as np

from .._native import kernels
from .folder import PAD, UNK


@functools.lru_cache(maxsize=65536)  # called for every character of every line decoded
def is_punctuation(char: str) -> bool:
    return unicodedata.category(char)[0] in "PS" or char.isspace()


def never_emitted(vocab: list[str]) -> np.ndarray:
    """Ids the constrained decoder never emits: [PAD], [UNK] and punctuation (which is only copied)."""
    return np.array([i for i, c in enumerate(vocab) if c in (PAD, UNK) or is_punctuation(c)], dtype=np.int64)


def plain_decode(upper_ids, log_probs: np.ndarray, banned) -> np.ndarray:
    """Argmax per position, never the upper character there nor a ``banned`` id (e.g. [PAD], [UNK]).
    ``upper_ids``: (T,) or a batch (B, T); ``log_probs``: (T, V) or (B, T, V)."""
    scores = log_probs.copy()
    scores[..., banned] = -np.inf
    np.put_along_axis(scores, np.asarray(upper_ids)[..., None], -np.inf, axis=-1)
    return scores.argmax(-1)


def character_groups(upper: str) -> list[list[int]]:
    """Positions of each distinct non-punctuation character of the upper line, in order of first
    appearance: every group takes one lower character."""
    groups: dict[str, list[int]] = {}
    for position, char in enumerate(upper):
        if not is_punctuation(char):
            groups.setdefault(char, []).append(position)
    return list(groups.values())


def tone_position(upper: str) -> int | None:
    """The position whose tone the tone rule constrains: the last non-punctuation character."""
    return next((i for i in range(len(upper) - 1, -1, -1) if not is_punctuation(upper[i])), None)


def constrained_decode(upper: str, upper_ids: list[int], log_probs: np.ndarray, vocab: list[str],
                       banned: np.ndarray, n: int = 1, level_tone: np.ndarray | None = None) -> list[tuple[str, float]]:
    """The n best lower lines under the rules, with their summed log-probabilities, best first.

    ``log_probs``: (T, V); ``banned``: ids never emitted (padding, unknown, punctuation);
    ``level_tone``: a boolean mask over the vocabulary for the last character, or None.
    """
    groups = character_groups(upper)
    last = tone_position(upper)
    scores = np.stack([log_probs[positions].sum(0) for positions in groups])  # (G, V)
    scores[:, banned] = -np.inf
    scores[np.arange(len(groups)), [upper_ids[positions[0]] for positions in groups]] = -np.inf
    if level_tone is not None:
        scores[np.ix_([g for g, positions in enumerate(groups) if last in positions], ~level_tone)] = -np.inf
    ids, best = top_candidates(scores, candidates_needed(n, len(groups)))
    return [(assemble(upper, groups, tokens, vocab), total) for total, tokens in best_assignments(ids, best, n)]


def top_candidates(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Per row of (G, V) scores, the k best ids and their scores, best first: two (G, k) arrays."""
    k = min(k, scores.shape[1])
    rows = np.arange(len(scores))
    if k <= 16:  # a few argmax passes cost less than one partition of the vocabulary
        work = scores.copy()
        best = np.empty((len(scores), k), dtype=np.int64)
        for j in range(k):
            best[:, j] = work.argmax(1)
            work[rows, best[:, j]] = -np.inf
    else:
        best = np.argpartition(-scores, k - 1, axis=1)[:, :k]  # (G, k), unordered
        order = np.argsort(-np.take_along_axis(scores, best, 1), axis=1, kind="stable")
        best = np.take_along_axis(best, order, 1)
    return best, np.take_along_axis(scores, best, 1)


def candidates_needed(n: int, groups: int) -> int:
    """How many best characters per group make the n best assignments exact: in any of them, a
    group's character is beaten by at most n - 1 free alternatives and the other groups' characters."""
    return n + groups - 1


def best_assignments(ids: np.ndarray, scores: np.ndarray, n: int = 1,
                     max_expansions: int = 100_000) -> list[tuple[float, list[int]]]:
    """The n best ways to give each group a distinct character, best first, exactly: (total score,
    id per group). ``ids``, ``scores``: (G, k), each row a group's candidates best first, -inf where
    not allowed. The search is a compiled kernel (zhnlp._native; its pure-Python twin states the
    algorithm). When the search stops at ``max_expansions`` before any assignment is complete (groups
    that all want the same few characters, from a barely trained model), the greedy assignment
    stands in: the most confident group first (the widest margin between its two best characters, which
    a constant added to a group's scores leaves as it is: scores with or without the softmax's
    normaliser give one answer), each taking its best character still free."""
    ids = np.ascontiguousarray(ids, dtype=np.int64)
    scores = np.ascontiguousarray(scores, dtype=np.float64)
    return kernels.best_assignments(ids, scores, n, max_expansions) or _greedy_assignment(ids, scores)


def _greedy_assignment(ids: np.ndarray, scores: np.ndarray) -> list[tuple[float, list[int]]]:
    """One assignment of distinct ids, [] when greedy runs out of allowed ones."""
    taken: set[int] = set()
    tokens = [0] * len(ids)
    total = 0.0
    margins = scores[:, 0] - scores[:, 1] if scores.shape[1] > 1 else np.zeros(len(scores))
    margins = np.where(np.isfinite(margins) | ~np.isfinite(scores[:, 0]), margins, np.inf)  # one allowed: sure
    for group in np.argsort(-margins, kind="stable").tolist():
        free = [j for j in range(ids.shape[1]) if np.isfinite(scores[group, j]) and int(ids[group, j]) not in taken]
        if not free:
            return []
        tokens[group] = int(ids[group, free[0]])
        taken.add(tokens[group])
        total += float(scores[group, free[0]])
    return [(total, tokens)]


def assemble(upper: str, groups: list[list[int]], tokens: list[int], vocab: list[str]) -> str:
    """The lower line: each group's token at the group's positions, punctuation copied."""
    lower = list(upper)
    for positions, token in zip(groups, tokens):
        for position in positions:
            lower[position] = vocab[token]
    return "".join(lower)


def rule_violations(upper: str, lower: str) -> list[str]:
    """The couplet rules the pair breaks (empty when none)."""
    broken = []
    if len(upper) != len(lower):
        return ["length"]
    for i, (u, w) in enumerate(zip(upper, lower)):
        if is_punctuation(u):
            if w != u:
                broken.append("punctuation not copied")
                break
        elif w == u:
            broken.append("same character at the same position")
            break
    positions = [i for i, u in enumerate(upper) if not is_punctuation(u)]
    for a_index, i in enumerate(positions):
        for j in positions[a_index + 1:]:
            if (upper[i] == upper[j]) != (lower[i] == lower[j]):
                broken.append("repetition differs")
                return broken
    return broken
