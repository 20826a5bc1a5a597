"""Titles by seq2seq (玩转Keras之seq2seq自动生成标题, kexue.fm/archives/5861; issue 16): so far the data
(data.py), the published metrics and the Lead-k baseline (metrics.py). The models follow."""
from __future__ import annotations

from .data import TitlePair, dev_split, read_title_pairs
from .metrics import best_lead_k, lead_k, title_scores

__all__ = ["TitlePair", "best_lead_k", "dev_split", "lead_k", "read_title_pairs", "title_scores"]
