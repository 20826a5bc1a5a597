"""Decoding for every autoregressive model (titles, and whatever generates next): greedy, beam
search and consistent sampling on one step function, decodes that always end (decoding.py)."""
from __future__ import annotations

from .decoding import GenerationConfig, Hypothesis, filter_candidates, generate, process_logits, reorder_state

__all__ = ["GenerationConfig", "Hypothesis", "filter_candidates", "generate", "process_logits", "reorder_state"]
