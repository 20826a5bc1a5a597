"""Sentence classification (issue 18): the data (data.py); the classifier, FGM and BERT-of-Theseus
compression (kexue.fm/archives/7575, 7234) follow."""
from __future__ import annotations

from .data import Dataset, Example, load_dataset, read_examples, read_label_file

__all__ = ["Dataset", "Example", "load_dataset", "read_examples", "read_label_file"]
