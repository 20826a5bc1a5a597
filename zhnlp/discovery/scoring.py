"""Scores for a discovered lexicon against references (used by benchmarks, never by discovery).

- precision_at_k: share of the k most frequent multi-character words found in a dictionary;
- recall_of_frequent: share of the reference words used at least ``min_freq`` times (e.g. by jieba
  with HMM off on the same corpus) that the lexicon contains;
- segmentation_prf: word-span precision, recall and F1 of a segmentation against a gold one
  (the SIGHAN bakeoff scoring).
"""
from __future__ import annotations

from typing import Iterable

from ..lexicon import Lexicon


def precision_at_k(lexicon: Lexicon, dictionary: set[str], k: int = 1000) -> float:
    top = lexicon.top(k, min_length=2)
    return sum(e.word in dictionary for e in top) / len(top) if top else 0.0


def recall_of_frequent(lexicon: Lexicon, reference_counts: dict[str, int], min_freq: int = 32) -> float:
    frequent = [w for w, c in reference_counts.items() if c >= min_freq]
    return sum(w in lexicon for w in frequent) / len(frequent) if frequent else 0.0


def _spans(words: Iterable[str]) -> set[tuple[int, int]]:
    spans, start = set(), 0
    for w in words:
        spans.add((start, start + len(w)))
        start += len(w)
    return spans


def segmentation_prf(predicted: Iterable[list[str]], gold: Iterable[list[str]]) -> tuple[float, float, float, int]:
    """(precision, recall, F1, pairs skipped) over word spans, summed over sentence pairs.

    A pair whose texts differ (the raw and gold files of a bakeoff disagree on a few lines) is
    skipped and counted rather than scored."""
    correct = n_pred = n_gold = skipped = 0
    for pred_words, gold_words in zip(predicted, gold, strict=True):
        if "".join(pred_words) != "".join(gold_words):
            skipped += 1
            continue
        p, g = _spans(pred_words), _spans(gold_words)
        correct += len(p & g)
        n_pred += len(p)
        n_gold += len(g)
    precision = correct / n_pred if n_pred else 0.0
    recall = correct / n_gold if n_gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1, skipped
