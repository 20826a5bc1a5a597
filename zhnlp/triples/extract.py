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


class CharPieces:
    """The light model's units: one id per character (unknown: 1), each its own character span."""

    def __init__(self, vocab_index: dict[str, int], max_chars: int):
        self.vocab_index, self.max_chars = vocab_index, max_chars

    def __call__(self, text: str) -> tuple[list[int], list[tuple[int, int]]]:
        return [self.vocab_index.get(ch, 1) for ch in text], [(i, i + 1) for i in range(len(text))]


class TokenizerPieces:
    """A BERT or WoBERT tokenizer's units: [CLS] tokens [SEP], each token's character span (the
    special tokens get an empty span and are never chosen)."""

    def __init__(self, tokenizer, max_tokens: int):
        self.tokenizer, self.max_chars = tokenizer, max_tokens - 2  # a character gives at least a token, or none

    def __call__(self, text: str) -> tuple[list[int], list[tuple[int, int]]]:
        encoding = self.tokenizer(text, return_offsets_mapping=True)
        return list(encoding["input_ids"]), [tuple(span) for span in encoding["offset_mapping"]]


def extract_batch(model, pieces_of, predicates: Sequence[str], texts: Sequence[str], thresholds=THRESHOLDS,
                  object_thresholds=None, batch_size: int = 64, device="cpu", overlap: int = 128) -> list[Extraction]:
    """Triples for each text (of any length) with a NumpyTripleModel, or a torch model (TripleModel,
    BertTripleModel) on ``device``; ``pieces_of``: CharPieces or TokenizerPieces, the model's units."""
    from ..parallel import batch_threads
    from .numpy_model import NumpyTripleModel

    in_numpy = isinstance(model, NumpyTripleModel)
    if not in_numpy:
        import torch

        model.eval()
    object_thresholds = object_thresholds or thresholds
    size = pieces_of.max_chars
    pieces = []  # (text index, character offset, piece, ids, spans)
    for i, text in enumerate(texts):
        for start, end in windows(len(text), size, min(overlap, size // 2)):
            pieces.append((i, start, text[start:end], *pieces_of(text[start:end])))
    order = sorted(range(len(pieces)), key=lambda k: len(pieces[k][3]))
    found: list[dict] = [dict() for _ in texts]

    def as_numpy(array):
        return array if in_numpy else array.float().cpu().numpy()

    def run(chosen) -> list[tuple[int, FoundTriple]]:
        """The triples of one batch of pieces, as (text index, triple)."""
        results: list[tuple[int, FoundTriple]] = []
        longest = max(1, max(len(p[3]) for p in chosen))
        ids = np.zeros((len(chosen), longest), dtype=np.int64)
        scoreable = np.zeros((len(chosen), longest, 1), dtype=np.float32)  # tokens with characters
        for row, (_, _, _, piece_ids, spans) in enumerate(chosen):
            ids[row, :len(piece_ids)] = piece_ids
            scoreable[row, :len(spans), 0] = [b > a for a, b in spans]
        encoded, mask = model.encode(ids if in_numpy else torch.from_numpy(ids).to(device))
        subject_probs = as_numpy(model.subject_probs(encoded, mask)) * scoreable  # (B, T, 2)
        subjects = []  # (row, start, end, probability)
        for row, chosen_piece in enumerate(chosen):
            n = len(chosen_piece[3])
            for s, e in pair_spans(subject_probs[row, :n, 0], subject_probs[row, :n, 1], thresholds):
                subjects.append((row, s, e, float(subject_probs[row, s, 0] * subject_probs[row, e, 1])))
        if not subjects:
            return []
        rows = np.array([s[0] for s in subjects])
        spans = np.array([[s[1], s[2]] for s in subjects])
        if not in_numpy:
            rows, spans = torch.from_numpy(rows).to(encoded.device), torch.from_numpy(spans).to(encoded.device)
        object_probs = as_numpy(model.object_probs(encoded[rows], spans))  # (N, T, P, 2)
        object_probs = object_probs * scoreable[np.asarray([s[0] for s in subjects])][..., None]
        for k, (row, s, e, p_subject) in enumerate(subjects):
            text_index, offset, piece, piece_ids, token_spans = chosen[row]
            n = len(piece_ids)
            subject_span = (token_spans[s][0], token_spans[e][1])
            probs = object_probs[k, :n]  # (n, P, 2)
            is_end = probs[:, :, 1] > object_thresholds[1]  # (n, P)
            for os_, predicate in zip(*np.nonzero(probs[:, :, 0] > object_thresholds[0])):  # the starts, all predicates
                after = np.flatnonzero(is_end[os_:, predicate])  # the nearest end at or after it, same predicate
                if not len(after):
                    continue
                oe = os_ + int(after[0])
                object_span = (token_spans[os_][0], token_spans[oe][1])
                score = (p_subject * float(probs[os_, predicate, 0] * probs[oe, predicate, 1])) ** 0.25
                results.append((text_index, FoundTriple(
                    piece[slice(*subject_span)], predicates[predicate], piece[slice(*object_span)],
                    (offset + subject_span[0], offset + subject_span[1]),
                    (offset + object_span[0], offset + object_span[1]), score)))
        return results

    batches = [[pieces[k] for k in order[first:first + batch_size]] for first in range(0, len(order), batch_size)]
    with contextlib.nullcontext() if in_numpy else torch.no_grad(), \
            batch_threads(len(batches) if in_numpy else 1) as pool:
        for results in pool.map(run, batches):
            for text_index, triple in results:
                key = (triple.subject, triple.predicate, triple.object)
                if key not in found[text_index] or found[text_index][key].score < triple.score:
                    found[text_index][key] = triple
    return [Extraction(text, sorted(f.values(), key=lambda t: (t.subject_span, t.object_span, t.predicate)))
            for text, f in zip(texts, found)]
