"""The constrained search over batches of equal-length lines, in array operations: the decoder
behind ``Couplet.answer`` (decode.constrained_decode states the same search line by line).

``bot`` is the Couplet whose network, vocabulary arrays, shortlist and memory the search uses.
"""
from __future__ import annotations

import numpy as np

from ..parallel import InlinePool
from .decode import assemble, best_assignments, candidates_needed, character_groups, is_punctuation, top_candidates
from .layout import Layout, logsumexp, strings
from .memory import CANDIDATES, flat_layout

SEARCH_BLOCK = 256  # lines whose candidates are ranked at once (over the whole vocabulary: 256 x ~8 x V floats)


def punctuation(chars: np.ndarray) -> np.ndarray:
    """(B, T) codepoints -> whether each is punctuation (decode.is_punctuation)."""
    unique, inverse = np.unique(chars, return_inverse=True)
    return np.array([is_punctuation(chr(c)) for c in unique.tolist()], dtype=bool)[inverse].reshape(chars.shape)


def decode_constrained(bot, batches: list[tuple[list[str], np.ndarray]], n: int, tone: bool, normalise: bool,
                        pool, use_shortlist: bool = True) -> list[list[list[tuple[str, float]]]]:
    """``decode.constrained_decode`` for batches of equal-length lines (their texts and (B, T) ids),
    in array operations: the model runs batch by batch on the pool's threads, the output layer
    once for all of them (NumpyCouplet.shortlisted_logits: the positions holding one upper
    character share its shortlist's output vectors), the search batch by batch again."""
    layouts = list(pool.map(lambda batch: Layout(*batch, punctuation, bot.network), batches))
    if bot.memory is not None:
        return list(pool.map(lambda layout: search_remembered(bot, layout, n, tone), layouts))
    shortlist = bot.shortlist if use_shortlist else None
    if shortlist is not None:
        logits = bot.network.shortlisted_logits(np.concatenate([layout.hidden for layout in layouts]),
                                                 np.concatenate([layout.upper_ids for layout in layouts]),
                                                 shortlist, pool, pool.threads)  # (N all, K)
        ends = np.cumsum([len(layout.hidden) for layout in layouts])[:-1]
        for layout, part in zip(layouts, np.split(logits, ends)):
            layout.logits, layout.columns = part, shortlist[layout.upper_ids]  # (N, K) each
    return list(pool.map(lambda layout: search(bot, layout, n, tone, normalise), layouts))


def search(bot, layout: "Layout", n: int, tone: bool, normalise: bool) -> list[list[tuple[str, float]]]:
    """The n best lower lines of one batch under the rules. A line whose groups' best characters
    are distinct is done after one argmax per group (most lines, when n = 1); the others go to
    ``best_assignments``. A line the shortlist cannot serve (no distinct characters left for its
    groups) is decoded again over the whole vocabulary."""
    rows = np.arange(len(layout.line_of))
    columns = layout.columns  # (N, K): the ids each row's scores stand for; None: every id
    if columns is None and layout.logits is None:  # the whole vocabulary (a memory's decoder sets its own)
        layout.logits = bot.network.logits(layout.hidden)  # (N, V)
    logits = layout.logits
    # log-probability = logit - normaliser, a constant per row that never changes the choice; over
    # a shortlist, scores are log-probabilities among its characters
    normaliser = logsumexp(logits) if normalise else np.zeros(len(rows), dtype=logits.dtype)  # (N,)
    if columns is None:
        logits[:, bot.banned] = -np.inf
        logits[rows, layout.upper_ids] = -np.inf  # never the upper character
    batch, length = layout.ids.shape
    if tone:  # the group of each line's last free position ends on a level tone
        last = length - 1 - layout.free[:, ::-1].argmax(1)  # (B,)
        tone_rows = layout.row_of[np.arange(batch), layout.leader[np.arange(batch), last]]  # (B,)
        level = bot.level_tone_mask()
        logits[tone_rows] = np.where(level[columns[tone_rows]] if columns is not None else level,
                                     logits[tone_rows], -np.inf)
    followers = np.flatnonzero(~layout.is_leader)
    if len(followers):  # a repeated character: its group's score is the sum over its positions
        np.add.at(logits, layout.leader_row[followers], logits[followers])
        np.add.at(normaliser, layout.leader_row[followers], normaliser[followers])
    best_columns = logits.argmax(-1)  # (N,)
    best_scores = logits[rows, best_columns] - normaliser  # (N,)
    best_ids = columns[rows, best_columns] if columns is not None else best_columns  # (N,)

    # a line is done when its leaders' best characters differ (and none is impossible)
    leaders = layout.is_leader
    chosen = np.where(layout.free, -1 - np.arange(length), 0)  # (B, T): distinct placeholders off the leaders
    chosen[layout.line_of[leaders], layout.position_of[leaders]] = best_ids[leaders]
    chosen.sort(1)
    clash = (chosen[:, 1:] == chosen[:, :-1]).any(1)  # (B,)
    clash |= np.bincount(layout.line_of[leaders], ~np.isfinite(best_scores[leaders]), minlength=batch) > 0
    totals = np.bincount(layout.line_of[leaders], best_scores[leaders], minlength=batch)  # (B,)

    # a clash (or n > 1): the exact search over each group's best candidates, for a block of lines at once
    searched = np.flatnonzero(clash) if n == 1 else np.arange(batch)
    n_best: dict[int, list[tuple[float, list[int]]]] = {}  # line -> its n best (total, id per group)
    for block in (searched[i:i + SEARCH_BLOCK] for i in range(0, len(searched), SEARCH_BLOCK)):
        in_block = np.zeros(batch, dtype=bool)
        in_block[block] = True
        group_rows = rows[leaders & in_block[layout.line_of]]  # line by line, groups in order of first appearance
        group_counts = np.bincount(layout.line_of[group_rows], minlength=batch)[block]  # (lines,)
        picked, scores = top_candidates(logits[group_rows] - normaliser[group_rows, None],
                                        candidates_needed(n, int(group_counts.max())))  # (R, k) each
        ids = picked if columns is None else np.take_along_axis(columns[group_rows], picked, 1)
        bounds = np.r_[0, np.cumsum(group_counts)].tolist()
        for line, start, end in zip(block.tolist(), bounds[:-1], bounds[1:]):
            n_best[line] = found = best_assignments(ids[start:end], scores[start:end], n)
            if n == 1 and found:
                totals[line] = found[0][0]
                best_ids[group_rows[start:end]] = found[0][1]
    unserved = [line for line, found in n_best.items() if not found and columns is not None]

    lower = layout.chars.copy()
    lower[layout.line_of, layout.position_of] = bot.vocab_codepoints[best_ids[layout.leader_row]]
    results = [[(text, float(total))] for text, total in zip(strings(lower), totals)]
    for line, found in n_best.items():
        if n > 1 or not found:  # n == 1: written above, as arrays
            upper = layout.lines[line]
            results[line] = [(assemble(upper, character_groups(upper), tokens, bot.vocab), total)
                             for total, tokens in found]
    if unserved:
        again = decode_constrained(bot, [([layout.lines[i] for i in unserved], layout.ids[unserved])], n, tone,
                                         normalise, InlinePool(), use_shortlist=False)[0]
        for i, candidates in zip(unserved, again):
            results[i] = candidates
    return results


def search_remembered(bot, layout: "Layout", n: int, tone: bool) -> list[list[tuple[str, float]]]:
    """``_search`` on the CNN's probabilities moved towards the memory's counts, over the whole
    vocabulary (the shortlist may lack what the memory found); its CANDIDATES best lines per upper
    line re-ranked by the memory's lower-line bigrams and phrase pairs, the n best kept."""
    logits = bot.network.logits(layout.hidden)  # (N, V)
    logits -= logsumexp(logits)[:, None]
    flat, centres = flat_layout(layout.ids)
    centres = centres.reshape(layout.ids.shape)[layout.line_of, layout.position_of]  # (N,)
    layout.logits, layout.columns = bot.memory.interpolate(logits, flat, centres), None
    found = search(bot, layout, max(n, CANDIDATES), tone, normalise=False)
    texts = [text for candidates in found for text, _ in candidates]
    if not texts:
        return found
    line_of = np.repeat(np.arange(len(found)), [len(candidates) for candidates in found])
    scores = np.array([score for candidates in found for _, score in candidates])
    scores += bot.memory.rerank_scores(layout.ids[line_of], bot.encode_lines(texts))
    ranked: list[list[tuple[str, float]]] = [[] for _ in found]
    for line, text, score in sorted(zip(line_of.tolist(), texts, scores.tolist()), key=lambda c: (c[0], -c[2])):
        if len(ranked[line]) < n:
            ranked[line].append((text, score))
    return ranked
