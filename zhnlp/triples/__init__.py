"""Triple extraction (用bert4keras做三元组抽取, kexue.fm/archives/7161; Su's kg-2019 DGCNN; issue 17):
the data (data.py), exact-match scores (metrics.py), the dictionary of training triples and
kg-2019's distant supervision from it (known.py), the light model
(model.py), decoding (extract.py), the TripleExtractor API (extractor.py), training (train.py)."""
from __future__ import annotations

from .data import Sentence, Triple, read_schema, read_sentences
from .extract import Extraction, FoundTriple
from .known import TripleDictionary
from .metrics import triple_scores

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
