"""Whole-word MLM pre-training's settings, with the reason for each default (imports nothing heavy:
the CLI shows them in --help)."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass
class PretrainConfig:
    seq_len: int = 128  # tokens per packed sequence; 128 WoBERT tokens hold about 170 characters
    batch_size: int = 32
    mask_prob: float = 0.15  # share of tokens to predict, as BERT
    heldout_every: int = 100  # every 100th non-empty line is held out for evaluation (1%)
    eval_lines: int = 2000  # held-out lines scored at the end of training
    encoding: str = "utf-8"
