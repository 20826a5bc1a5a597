"""Sentence classification (issue 18): the data (data.py), training and scoring (train.py), the
Classifier API (classifier.py); BERT-of-Theseus compression (kexue.fm/archives/7575) follows."""
from __future__ import annotations

from .._lazy import lazy_names
from .data import Dataset, Example, load_dataset, read_examples, read_label_file

__all__ = ["Classifier", "Dataset", "Example", "evaluate_classifier", "load_dataset", "read_examples", "read_label_file",
           "train_classifier"]

__getattr__ = lazy_names(globals(), {"Classifier": ".classifier", "evaluate_classifier": ".classifier",
                                     "train_classifier": ".train"})  # torch and transformers when used
