"""The training triples as a dictionary, and kg-2019's distant supervision from it.

``TripleDictionary`` finds, in a sentence, every training triple whose subject and object both occur:
the baseline the issue measures models against. Su's kg-2019 system also feeds those finds to the
model as inputs ("远程监督": prior marks), so that it learns when the dictionary is right instead of
adding its triples blindly: per character, whether a found subject starts or ends there
(``subject_marks``), and, given one subject, per predicate whether one of its found objects starts or
ends there (``object_marks``). A model trained on these marks must not see its own sentence's
triples in them, so training draws each sentence's marks from a dictionary of the other folds
(``cross_fitted``), and extraction uses the whole training split's (kept in the model folder as
``known_triples.tsv``). A model that reads the marks still leaves some found triples out that are
right more often than not; ``add_known`` adds them to its answer (kg-2019's post-processing), where
dev says it helps.
"""
from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from ..errors import InputError
from .data import Sentence, Triple, occurrences

KNOWN_TRIPLES_FILE = "known_triples.tsv"


class TripleDictionary:
    """The training triples, looked up by their subjects: a sentence gets every training triple whose
    subject and object both occur in it."""

    def __init__(self, sentences: Iterable[Sentence] = (), triples: Iterable[Triple] = ()):
        self.by_subject: dict[str, set[Triple]] = defaultdict(set)
        for triple in [*(t for s in sentences for t in s.triples), *triples]:
            self.by_subject[triple.subject].add(triple)
        lengths: dict[str, set[int]] = defaultdict(set)
        for subject in self.by_subject:
            lengths[subject[:2]].add(len(subject))
        self._lengths = {key: sorted(n) for key, n in lengths.items()}  # the subject lengths per first two characters
        self._recent: dict[str, list] = {}  # text -> its spans: extraction asks twice (marks, then add_known)

    def __len__(self) -> int:
        return sum(len(t) for t in self.by_subject.values())

    def subject_spans(self, text: str) -> list[tuple[int, int, str]]:
        """(start, end exclusive, subject) of every occurrence of a known subject that has a triple
        whose object occurs in ``text``."""
        if text in self._recent:
            return self._recent[text]
        found, lengths = [], self._lengths
        for start in range(len(text)):
            for length in (*lengths.get(text[start], ()), *lengths.get(text[start:start + 2], ())):
                subject = text[start:start + length]
                if len(subject) == length and any(t.object in text for t in self.by_subject.get(subject, ())):
                    found.append((start, start + length, subject))
        if len(self._recent) >= 4096:
            self._recent.clear()
        self._recent[text] = found
        return found

    def __call__(self, text: str) -> set[Triple]:
        return {t for _, _, subject in self.subject_spans(text) for t in self.by_subject[subject] if t.object in text}

    def subject_marks(self, text: str) -> np.ndarray:
        """(T, 2) int64: 1 where a found subject starts (column 0) or ends (column 1, inclusive)."""
        marks = np.zeros((len(text), 2), dtype=np.int64)
        for start, end, _ in self.subject_spans(text):
            marks[start, 0] = marks[end - 1, 1] = 1
        return marks

    def object_marks(self, text: str, subject: str, predicate_index: dict[str, int], length: int | None = None) -> np.ndarray:
        """(length or T, P, 2) float32: 1 where an object of ``subject``'s found triples starts or
        ends (inclusive), in its predicate's channel."""
        marks = np.zeros((length or len(text), len(predicate_index), 2), dtype=np.float32)
        for triple in self.by_subject.get(subject, ()):
            p = predicate_index.get(triple.predicate)
            if p is None:
                continue
            for start, end in occurrences(text, triple.object):
                marks[start, p, 0] = marks[end - 1, p, 1] = 1
        return marks

    def save(self, path: str | os.PathLike) -> Path:
        """``subject<TAB>predicate<TAB>object`` lines, sorted (atomic)."""
        from ..outputs import write_text

        rows = sorted((t.subject, t.predicate, t.object) for ts in self.by_subject.values() for t in ts)
        return write_text(path, "".join("\t".join(row) + "\n" for row in rows))

    @classmethod
    def from_file(cls, path: str | os.PathLike) -> "TripleDictionary":
        path = Path(path)
        hint = "train the model again (zhnlp train triples --known-triples), which writes this file"
        if not path.is_file():
            raise InputError(f"model folder {path.parent} lacks {path.name}", hint)
        triples = []
        for number, line in enumerate(path.read_text(encoding="utf-8").split("\n")[:-1], 1):
            parts = line.split("\t")
            if len(parts) != 3 or not all(parts):
                raise InputError(f"{path}, line {number}: not subject<TAB>predicate<TAB>object", hint)
            triples.append(Triple(*parts))
        return cls(triples=triples)


def add_known(extraction, dictionary: TripleDictionary, score: float):
    """``extraction`` (extract.Extraction) with every triple ``dictionary`` finds in its text that
    the model did not give, each at the first occurrences of its subject and object and with
    ``score`` (the precision such additions had on dev)."""
    from .extract import Extraction, FoundTriple

    text = extraction.text
    given = {(t.subject, t.predicate, t.object) for t in extraction.triples}
    added = []
    for triple in dictionary(text):
        if (triple.subject, triple.predicate, triple.object) not in given:
            s, o = text.find(triple.subject), text.find(triple.object)
            added.append(FoundTriple(triple.subject, triple.predicate, triple.object, (s, s + len(triple.subject)),
                                     (o, o + len(triple.object)), score))
    if not added:
        return extraction
    return Extraction(text, sorted(extraction.triples + added, key=lambda t: (t.subject_span, t.object_span, t.predicate)))


def cross_fitted(sentences: Sequence[Sentence], folds: int = 5, seed: int = 0) -> list[TripleDictionary]:
    """For each sentence, a dictionary of the training triples of the other ``folds - 1`` folds
    (drawn with ``seed``), so that the marks a sentence trains on never hold its own triples (a
    triple that other sentences also state is still there, as it would be for an unseen sentence)."""
    fold_of = np.random.default_rng(seed).permutation(len(sentences)) % folds
    dictionaries = [TripleDictionary(s for s, f in zip(sentences, fold_of) if f != k) for k in range(folds)]
    return [dictionaries[f] for f in fold_of]
