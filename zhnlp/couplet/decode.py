"""Decoding a lower line from per-position log-probabilities, plain or under couplet rules.

Plain (the post's decoder): at each position, the most probable character other than the upper
line's character there. Constrained (zhnlp's rules, checked by ``rule_violations``):
- the lower line has the upper line's length;
- punctuation in the upper line is copied to the same position (the post forbids it instead);
- elsewhere, never the upper line's character at the same position, and no punctuation;
- where the upper line repeats a character (positions i and j), the lower line repeats one
  character at i and j; where it does not repeat, the lower line does not either;
- optionally (``level_tone``), the last character must be of a level tone (平).
Positions sharing an upper character form one group that takes one character; a beam over the
groups' best characters, keeping the groups' characters distinct, gives the n best lines.
"""
from __future__ import annotations

import heapq
import unicodedata

import numpy as np


def is_punctuation(char: str) -> bool:
    return unicodedata.category(char)[0] in "PS" or char.isspace()


def plain_decode(upper_ids: list[int], log_probs: np.ndarray, banned: np.ndarray) -> list[int]:
    """Argmax per position, never the upper character there nor a ``banned`` id (e.g. [PAD], [UNK])."""
    scores = log_probs.copy()  # (T, V)
    scores[:, banned] = -np.inf
    scores[np.arange(len(upper_ids)), upper_ids] = -np.inf
    return scores.argmax(-1).tolist()


def constrained_decode(upper: str, upper_ids: list[int], log_probs: np.ndarray, vocab: list[str],
                       banned: np.ndarray, n: int = 1, level_tone: np.ndarray | None = None,
                       beam: int = 16) -> list[tuple[str, float]]:
    """The n best lower lines under the rules, with their summed log-probabilities, best first.

    ``banned``: ids never emitted (padding, unknown, punctuation); ``level_tone``: a boolean
    mask over the vocabulary for the last position, or None.
    """
    length = len(upper)
    groups: dict[str, list[int]] = {}
    for position, char in enumerate(upper):
        if not is_punctuation(char):
            groups.setdefault(char, []).append(position)
    group_list = list(groups.items())
    top_k = max(beam, n) + len(group_list)
    candidates = []  # per group: (ids, scores) best first
    for char, positions in group_list:
        scores = log_probs[positions].sum(0)  # (V,)
        scores[banned] = -np.inf
        scores[upper_ids[positions[0]]] = -np.inf
        if level_tone is not None and length - 1 in positions:
            scores[~level_tone] = -np.inf
        k = min(top_k, len(scores))
        best = np.argpartition(-scores, k - 1)[:k]
        best = best[np.argsort(-scores[best])]
        best = best[np.isfinite(scores[best])]
        candidates.append((best.tolist(), scores[best].tolist()))
    # most confident groups first, so the beam keeps what matters
    order = sorted(range(len(group_list)), key=lambda g: -(candidates[g][1][0] if candidates[g][1] else -1e9))
    width = max(beam, n)
    states: list[tuple[float, tuple[int, ...]]] = [(0.0, ())]  # (score, chosen id per group in `order`)
    for g in order:
        ids, scores = candidates[g]
        grown = []
        for total, chosen in states:
            used = set(chosen)
            for token, score in zip(ids, scores):
                if token not in used:
                    grown.append((total + score, chosen + (token,)))
        states = heapq.nlargest(width, grown, key=lambda s: s[0])
        if not states:
            return []
    results = []
    for total, chosen in states[:n]:
        lower = list(upper)  # punctuation stays where it is
        for g, token in zip(order, chosen):
            for position in group_list[g][1]:
                lower[position] = vocab[token]
        results.append(("".join(lower), float(total)))
    return results


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
