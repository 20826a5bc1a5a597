"""Word and character vectors trained on the project's own corpora, for the light models' embeddings
(no pretrained weights exist here): ``train_vectors`` (word2vec through gensim) writes a typed folder,
``Vectors.from_pretrained`` reads it, ``Vectors.fill`` fills a model's embedding matrix."""
from __future__ import annotations

from .._lazy import lazy_names
from .vectors import FillReport, Vectors

__all__ = ["FillReport", "Vectors", "train_vectors"]

__getattr__ = lazy_names(globals(), {"train_vectors": ".train"})  # needs gensim when called
