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
THRESHOLD_GRID = (0.2, 0.3, 0.4, 0.5, 0.6, 0.7)
NUMPY_BATCH_TOKENS = 1024  # see extract_batch's max_tokens


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
    """The light model's units: one id per character (unknown: 1), each its own character span. With
    ``word_index`` (words.txt) each character also gets its word's id, the text cut as jieba cuts it
    (zhnlp's compiled twin, HMM off) and lowercased as the vectors were trained; a word without a
    vector gives each of its characters the character's own (the vectors hold both in one space).
    With ``known`` (a TripleDictionary: distant supervision) two more columns follow, its subject
    marks, and extraction asks it for each subject's object marks."""

    def __init__(self, vocab_index: dict[str, int], max_chars: int, word_index: dict[str, int] | None = None,
                 known=None):
        self.vocab_index, self.max_chars, self.word_index, self.known = vocab_index, max_chars, word_index, known
        self._segmenter = None

    def __call__(self, text: str, known=None) -> tuple[list[int] | np.ndarray, list[tuple[int, int]]]:
        """-> (ids: (T,), or (T, K) columns: characters, words, subject marks; each id's character
        span). ``known``: another dictionary for the marks than the pieces' own (training's folds)."""
        ids, spans = self._ids(text)
        known = self.known if known is None else known
        if known is None:
            return ids, spans
        return np.concatenate([np.asarray(ids, dtype=np.int64).reshape(len(text), -1), known.subject_marks(text)],
                              axis=1), spans

    def _ids(self, text: str) -> tuple[list[int] | np.ndarray, list[tuple[int, int]]]:
        chars = [self.vocab_index.get(ch, 1) for ch in text]
        spans = [(i, i + 1) for i in range(len(text))]
        if self.word_index is None:
            return chars, spans
        if self._segmenter is None:
            from ..segmentation import JiebaSegmenter

            self._segmenter = JiebaSegmenter.from_jieba()
        index = self.word_index
        words: list[int] = []
        for word in self._segmenter.cut(text.lower()):
            known = index.get(word)
            words.extend([known] * len(word) if known is not None else (index.get(ch, 1) for ch in word))
        if len(words) != len(chars):  # lowercasing changed a length (e.g. 'İ'): characters alone, uncut
            words = [index.get(ch.lower(), 1) for ch in text]
        return np.array([chars, words], dtype=np.int64).T, spans


class TokenizerPieces:
    """A BERT or WoBERT tokenizer's units: [CLS] tokens [SEP], each token's character span (the
    special tokens get an empty span and are never chosen)."""

    def __init__(self, tokenizer, max_tokens: int):
        self.tokenizer, self.max_chars = tokenizer, max_tokens - 2  # a character gives at least a token, or none

    def __call__(self, text: str) -> tuple[list[int], list[tuple[int, int]]]:
        encoding = self.tokenizer(text, return_offsets_mapping=True)
        return list(encoding["input_ids"]), [tuple(span) for span in encoding["offset_mapping"]]


def extract_batch(model, pieces_of, predicates: Sequence[str], texts: Sequence[str], thresholds=THRESHOLDS,
                  object_thresholds=None, batch_size: int = 64, device="cpu", overlap: int = 128,
                  max_tokens: int | None = None) -> list[Extraction]:
    """Triples for each text (of any length) with a NumpyTripleModel, or a torch model (TripleModel,
    BertTripleModel) on ``device``; ``pieces_of``: CharPieces or TokenizerPieces, the model's units.
    ``max_tokens``: the most padded positions in a batch (default: 1,024 in numpy, where batches whose
    activations fit the CPU's caches run fastest: bench_triples.py measured 357 sentences/s on the
    dev split against 236-264 with 64 rows a batch and no cap; unbounded for torch, which a GPU
    wants wide)."""
    from ..parallel import batch_threads

    in_numpy = getattr(model, "runs_in_numpy", False)
    if not in_numpy:
        import torch

        model.eval()
    object_thresholds = object_thresholds or thresholds
    max_tokens = max_tokens or (NUMPY_BATCH_TOKENS if in_numpy else 10**9)
    known = getattr(pieces_of, "known", None)
    predicate_index = {p: i for i, p in enumerate(predicates)}
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
        ids = np.zeros((len(chosen), longest, *np.shape(chosen[0][3])[1:]), dtype=np.int64)  # (B, T) or (B, T, 2)
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
        given = ()
        if known is not None:  # each subject's found objects (distant supervision); characters are the tokens
            marks = np.stack([known.object_marks(chosen[row][2], chosen[row][2][s:e + 1], predicate_index, longest)
                              for row, s, e, _ in subjects])  # (N, T, P, 2)
            given = (marks if in_numpy else torch.from_numpy(marks).to(encoded.device),)
        object_probs = as_numpy(model.object_probs(encoded[rows], spans, *given))  # (N, T, P, 2)
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

    batches, batch = [], []
    for k in order:  # shortest first; a batch ends at batch_size rows or max_tokens padded positions
        if batch and (len(batch) == batch_size or (len(batch) + 1) * len(pieces[k][3]) > max_tokens):
            batches.append(batch)
            batch = []
        batch.append(pieces[k])
    if batch:
        batches.append(batch)
    with contextlib.nullcontext() if in_numpy else torch.no_grad(), \
            batch_threads(len(batches) if in_numpy else 1) as pool:
        for results in pool.map(run, batches):
            for text_index, triple in results:
                key = (triple.subject, triple.predicate, triple.object)
                if key not in found[text_index] or found[text_index][key].score < triple.score:
                    found[text_index][key] = triple
    return [Extraction(text, sorted(f.values(), key=lambda t: (t.subject_span, t.object_span, t.predicate)))
            for text, f in zip(texts, found)]


class _Remembered:
    """A model whose encodings and subject pointers are kept per batch of ids, so that decoding the
    same sentences again (choosing thresholds) only runs the object pass."""

    def __init__(self, model):
        self.model = model
        self.runs_in_numpy = getattr(model, "runs_in_numpy", False)
        self._encoded: dict = {}
        self._subjects: dict = {}

    def eval(self):
        return self.model.eval()

    def encode(self, ids):
        key = (tuple(ids.shape), (ids if self.runs_in_numpy else ids.cpu().numpy()).tobytes())
        if key not in self._encoded:
            self._encoded[key] = self.model.encode(ids)
        return self._encoded[key]

    def subject_probs(self, encoded, mask):
        if id(encoded) not in self._subjects:  # the encodings are kept, so their ids stay theirs
            self._subjects[id(encoded)] = self.model.subject_probs(encoded, mask)
        return self._subjects[id(encoded)]

    def object_probs(self, encoded, subject_spans, *known_objects):
        return self.model.object_probs(encoded, subject_spans, *known_objects)


def tune_thresholds(model, pieces_of, predicates: Sequence[str], sentences, start=(0.6, 0.5, 0.6, 0.5),
                    grid=THRESHOLD_GRID, batch_size: int = 64, device="cpu", added=None) -> dict:
    """The four thresholds (subject start, end; object start, end) that give the best exact-match F1
    on ``sentences`` (data.Sentence, the dev split), by coordinate search over ``grid``: the object
    pair with the subject pair fixed, then the subject pair, then the object pair again. The model
    runs once; each try decodes again. ``added``: per sentence, triples added to every answer (the
    dictionary's, known.add_known). Returns {"thresholds", "f1", "f1_before"}."""
    from .data import Triple
    from .metrics import triple_scores

    remembered = _Remembered(model)
    cut: dict[str, tuple] = {}
    own_pieces = pieces_of

    class RememberedPieces:  # each text cut once (the word features' segmentation), not once per try
        max_chars = own_pieces.max_chars
        known = getattr(own_pieces, "known", None)

        def __call__(self, text):
            if text not in cut:
                cut[text] = own_pieces(text)
            return cut[text]

    pieces_of, texts = RememberedPieces(), [s.text for s in sentences]
    gold = [s.triples for s in sentences]

    def f1(thresholds) -> float:
        found = extract_batch(remembered, pieces_of, predicates, texts, thresholds[:2], thresholds[2:],
                              batch_size, device)
        predicted = [{Triple(t.subject, t.predicate, t.object) for t in f.triples} for f in found]
        if added is not None:
            predicted = [p | a for p, a in zip(predicted, added)]
        return triple_scores(predicted, gold)["f1"]

    best = tuple(start)
    best_f1 = before = f1(best)
    for stage in (2, 0, 2):  # which pair moves: the object's, the subject's, the object's
        for a in grid:
            for b in grid:
                trial = best[:stage] + (a, b) + best[stage + 2:]
                if trial != best and (score := f1(trial)) > best_f1:
                    best, best_f1 = trial, score
    return {"thresholds": list(best), "f1": best_f1, "f1_before": before}
