"""Triple extraction (用bert4keras做三元组抽取, kexue.fm/archives/7161; Su's kg-2019 DGCNN; issue 17):
the data (data.py), exact-match scores and the dictionary baseline (metrics.py), the light model
(model.py), decoding (extract.py), the TripleExtractor API (extractor.py), training (train.py)."""
from __future__ import annotations

from .data import Sentence, Triple, read_schema, read_sentences
from .extract import Extraction, FoundTriple
from .metrics import TripleDictionary, triple_scores

__all__ = ["Extraction", "FoundTriple", "Sentence", "Triple", "TripleDictionary", "TripleExtractor", "read_schema",
           "read_sentences", "train_triples", "triple_scores"]


def __getattr__(name: str):
    if name == "TripleExtractor":
        from .extractor import TripleExtractor

        return TripleExtractor
    if name == "train_triples":
        from .train import train_triples

        return train_triples
    raise AttributeError(name)
