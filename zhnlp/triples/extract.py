"""Decoding the pointers into triples, batched: each subject start (above its threshold) takes the
nearest subject end at or after it; every subject found conditions one object pass; per predicate,
each object start takes the nearest object end at or after it. Spans are exact character spans of the
input. Sentences longer than the model's positions are read in overlapping windows and their triples
merged, so none is lost to a cut."""
from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

THRESHOLDS = (0.6, 0.5)  # start, end: the original's


@dataclass(frozen=True)
class FoundTriple:
    subject: str
    predicate: str
    object: str
    subject_span: tuple[int, int]  # [start, end) characters of the input
    object_span: tuple[int, int]
    score: float  # the geometric mean of the four pointer probabilities


@dataclass
class Extraction:
    text: str
    triples: list[FoundTriple] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"text": self.text, "spo_list": [
            {"subject": t.subject, "predicate": t.predicate, "object": t.object, "subject_span": list(t.subject_span),
             "object_span": list(t.object_span), "score": round(t.score, 4)} for t in self.triples]}


def pair_spans(start_probs: np.ndarray, end_probs: np.ndarray, thresholds=THRESHOLDS) -> list[tuple[int, int]]:
    """(start, end) index pairs, end inclusive: each start above its threshold with the nearest end
    at or after it above its own."""
    starts = np.flatnonzero(start_probs > thresholds[0])
    ends = np.flatnonzero(end_probs > thresholds[1])
    pairs = []
    for s in starts:
        after = ends[ends >= s]
        if len(after):
            pairs.append((int(s), int(after[0])))
    return pairs


def windows(length: int, size: int, overlap: int) -> list[tuple[int, int]]:
    """[start, end) windows of at most ``size`` covering ``length``, consecutive ones sharing ``overlap``."""
    if length <= size:
        return [(0, length)]
    step = size - overlap
    spans = [(start, min(start + size, length)) for start in range(0, length - overlap, step)]
    return spans


def extract_batch(model, vocab_index: dict[str, int], predicates: Sequence[str], texts: Sequence[str],
                  thresholds=THRESHOLDS, object_thresholds=None, batch_size: int = 64, device="cpu",
                  overlap: int = 128) -> list[Extraction]:
    """Triples for each text with a NumpyTripleModel, or a TripleModel on ``device`` (texts may be of
    any length)."""
    from .numpy_model import NumpyTripleModel

    in_numpy = isinstance(model, NumpyTripleModel)
    if not in_numpy:
        import torch

        model.eval()
    object_thresholds = object_thresholds or thresholds
    size = model.config.max_positions
    pieces = []  # (text index, offset, piece)
    for i, text in enumerate(texts):
        for start, end in windows(len(text), size, min(overlap, size // 2)):
            pieces.append((i, start, text[start:end]))
    order = sorted(range(len(pieces)), key=lambda k: len(pieces[k][2]))
    found: list[dict] = [dict() for _ in texts]

    def as_numpy(array):
        return array if in_numpy else array.float().cpu().numpy()

    with contextlib.nullcontext() if in_numpy else torch.no_grad():
        for first in range(0, len(order), batch_size):
            chosen = [pieces[k] for k in order[first:first + batch_size]]
            longest = max(1, max(len(p[2]) for p in chosen))
            ids = np.zeros((len(chosen), longest), dtype=np.int64)
            for row, (_, _, piece) in enumerate(chosen):
                ids[row, :len(piece)] = [vocab_index.get(ch, 1) for ch in piece]
            encoded, mask = model.encode(ids if in_numpy else torch.from_numpy(ids).to(device))
            subject_probs = as_numpy(model.subject_probs(encoded, mask))  # (B, T, 2)
            subjects = []  # (row, start, end, probability)
            for row, (_, _, piece) in enumerate(chosen):
                n = len(piece)
                for s, e in pair_spans(subject_probs[row, :n, 0], subject_probs[row, :n, 1], thresholds):
                    subjects.append((row, s, e, float(subject_probs[row, s, 0] * subject_probs[row, e, 1])))
            if not subjects:
                continue
            rows = np.array([s[0] for s in subjects])
            spans = np.array([[s[1], s[2]] for s in subjects])
            if not in_numpy:
                rows, spans = torch.from_numpy(rows).to(encoded.device), torch.from_numpy(spans).to(encoded.device)
            object_probs = as_numpy(model.object_probs(encoded[rows], spans))  # (N, T, P, 2)
            for k, (row, s, e, p_subject) in enumerate(subjects):
                text_index, offset, piece = chosen[row]
                n = len(piece)
                for predicate in range(len(predicates)):
                    probs = object_probs[k, :n, predicate]
                    for os_, oe in pair_spans(probs[:, 0], probs[:, 1], object_thresholds):
                        score = (p_subject * float(probs[os_, 0] * probs[oe, 1])) ** 0.25
                        triple = FoundTriple(piece[s:e + 1], predicates[predicate], piece[os_:oe + 1],
                                             (offset + s, offset + e + 1), (offset + os_, offset + oe + 1), score)
                        key = (triple.subject, triple.predicate, triple.object)
                        if key not in found[text_index] or found[text_index][key].score < score:
                            found[text_index][key] = triple
    return [Extraction(text, sorted(f.values(), key=lambda t: (t.subject_span, t.object_span, t.predicate)))
            for text, f in zip(texts, found)]
