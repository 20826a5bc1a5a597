"""WoBERT: word-level Chinese BERT (提速不掉点:基于词颗粒度的中文WoBERT, kexue.fm/archives/7758).

The tokenizer and vocabulary builder need neither torch nor transformers; the model functions
import them when called.
"""
from __future__ import annotations

from .tokenizer import BatchEncoding, WoBertTokenizer
from .vocab import BuiltVocab, build_vocab, read_vocab, simplify_base_vocab

__all__ = ["BatchEncoding", "BuiltVocab", "WoBertTokenizer", "build_vocab", "read_vocab", "simplify_base_vocab"]
