"""Exact-match triple scores, as the DuIE/LIC figures are computed: per sentence the predicted and
gold (subject, predicate, object) sets; micro precision, recall and F1 over all sentences; and the
same per predicate. The dictionary baseline the issue measures against (every training triple whose
subject and object both occur in the sentence) is known.py's TripleDictionary."""
from __future__ import annotations

from collections import defaultdict
from typing import Iterable, Sequence

from ..errors import InputError
from .data import Triple


def _prf(correct: int, predicted: int, gold: int) -> dict[str, float]:
    precision = correct / predicted if predicted else 0.0
    recall = correct / gold if gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "correct": correct, "predicted": predicted,
            "gold": gold}


def triple_scores(predictions: Sequence[Iterable[Triple]], references: Sequence[Iterable[Triple]]) -> dict:
    """{"precision", "recall", "f1", "correct", "predicted", "gold", "per_predicate": {p: {...}}}."""
    if len(predictions) != len(references):
        raise InputError(f"{len(predictions)} predictions for {len(references)} sentences",
                         "give one prediction set per sentence")
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])  # correct, predicted, gold
    for predicted, gold in zip(predictions, references):
        predicted, gold = set(predicted), set(gold)
        for triple in predicted:
            counts[triple.predicate][1] += 1
            counts[triple.predicate][0] += triple in gold
        for triple in gold:
            counts[triple.predicate][2] += 1
    total = [sum(c[i] for c in counts.values()) for i in range(3)]
    return {**_prf(*total), "per_predicate": {p: _prf(*c) for p, c in sorted(counts.items())}}
