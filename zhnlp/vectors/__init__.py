"""Word and character vectors trained on the project's own corpora, for the light models' embeddings
(no pretrained weights exist here): ``train_vectors`` (word2vec through gensim) writes a typed folder,
``Vectors.from_pretrained`` reads it, ``Vectors.fill`` fills a model's embedding matrix."""
from __future__ import annotations

from .vectors import FillReport, Vectors

__all__ = ["FillReport", "Vectors", "train_vectors"]


def __getattr__(name: str):
    if name == "train_vectors":
        from .train import train_vectors

        return train_vectors
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
