"""The pure-Python twin of _assignments.pxi: the exact n-best search of the couplet decoder."""
from __future__ import annotations

from math import inf


def best_assignments(ids, scores, n: int = 1, max_expansions: int = 100_000) -> list[tuple[float, list[int]]]:
    """The n best ways to give each group (row) a distinct id, best first, exactly: the couplet
    decoder's search (zhnlp/couplet/decode.py). ``ids``, ``scores``: (G, k), each row its group's
    candidates best first, -inf where not allowed (trailing). Returns (total score, id per group).

    Best-first search over groups in a fixed order; the bound of a partial assignment is its score
    plus every remaining group's best score, which never underestimates, so complete assignments
    come off the queue best first. A popped node pushes only its best free child and its next free
    sibling, so groups whose best ids differ cost one pop each.
    """
    import heapq

    ids = ids.tolist() if hasattr(ids, "tolist") else [list(row) for row in ids]
    scores = scores.tolist() if hasattr(scores, "tolist") else [list(row) for row in scores]
    lists = []
    for row_ids, row_scores in zip(ids, scores):
        length = 0
        while length < len(row_scores) and row_scores[length] > -inf:
            length += 1
        lists.append((row_ids[:length], row_scores[:length]))
    if any(not row_ids for row_ids, _ in lists):
        return []
    # groups whose best ids clash go first, so the bound pays for the clash at once and stays tight
    # below; then the most confident
    firsts = [row_ids[0] for row_ids, _ in lists]
    order = sorted(range(len(lists)), key=lambda g: (firsts.count(firsts[g]) == 1, -lists[g][1][0]))
    ids_in_order = [lists[g][0] for g in order]
    scores_in_order = [lists[g][1] for g in order]
    rest = [0.0] * (len(order) + 1)  # rest[d]: sum of the best scores of groups d, d+1, ...
    for d in range(len(order) - 1, -1, -1):
        rest[d] = rest[d + 1] + scores_in_order[d][0]

    def next_free(depth: int, start: int, chosen: tuple[int, ...]) -> int:
        row = ids_in_order[depth]
        while start < len(row) and row[start] in chosen:
            start += 1
        return start

    # node: (-bound, tie-breaker, score, chosen ids, index of the last choice in its group's list)
    queue = [(-rest[0], 0, 0.0, (), -1)]
    found: list[tuple[float, list[int]]] = []
    pushed = 1
    while queue and len(found) < n and pushed < max_expansions:
        _, _, score, chosen, index = heapq.heappop(queue)
        depth = len(chosen)
        if depth == len(order):
            result = [0] * len(order)
            for d, token in enumerate(chosen):
                result[order[d]] = token
            found.append((score, result))
        else:  # the best free child
            child = next_free(depth, 0, chosen)
            if child < len(ids_in_order[depth]):
                new_score = score + scores_in_order[depth][child]
                heapq.heappush(queue, (-(new_score + rest[depth + 1]), pushed, new_score,
                                       chosen + (ids_in_order[depth][child],), child))
                pushed += 1
        if depth:  # the next free sibling: same parent, the next id for the last group
            parent = chosen[:-1]
            sibling = next_free(depth - 1, index + 1, parent)
            if sibling < len(ids_in_order[depth - 1]):
                new_score = score - scores_in_order[depth - 1][index] + scores_in_order[depth - 1][sibling]
                heapq.heappush(queue, (-(new_score + rest[depth]), pushed, new_score,
                                       parent + (ids_in_order[depth - 1][sibling],), sibling))
                pushed += 1
    return found
