"""Titles by seq2seq (玩转Keras之seq2seq自动生成标题, kexue.fm/archives/5861; issue 16): the light copying
model (pointer_model.py, run on the CPU by pointer_numpy.py), UniLM on any BERT (unilm.py), one API
(generator.py: TitleGenerator), training and evaluation (train.py), the data (data.py), the published
metrics and the Lead-k baseline (metrics.py). Decoding is zhnlp.generation's."""
from __future__ import annotations

from .data import TitlePair, dev_split, read_title_pairs
from .generator import TitleGenerator, TitleResult
from .metrics import best_lead_k, lead_k, title_scores

__all__ = ["TitleGenerator", "TitlePair", "TitleResult", "best_lead_k", "dev_split", "lead_k", "read_title_pairs",
           "title_scores"]


def __getattr__(name: str):
    if name in ("train_title", "evaluate_title"):  # import torch-free, but say where they live
        from . import train

        return getattr(train, name)
    raise AttributeError(name)
