"""WoBERT: word-level Chinese BERT (提速不掉点:基于词颗粒度的中文WoBERT, kexue.fm/archives/7758).

The tokenizer and vocabulary builder need neither torch nor transformers; the model functions
import them when called, and ``WoBertTokenizerFast`` (hf.py) puts the tokenizer behind transformers'
API and AutoTokenizer.
"""
from __future__ import annotations

from .._lazy import lazy_names
from .tokenizer import BatchEncoding, WoBertTokenizer
from .vocab import BuiltVocab, build_vocab, read_vocab, simplify_base_vocab

__all__ = ["BatchEncoding", "BuiltVocab", "WoBertTokenizer", "WoBertTokenizerFast", "build_vocab", "read_vocab",
           "simplify_base_vocab"]

__getattr__ = lazy_names(globals(), {"WoBertTokenizerFast": ".hf"})  # transformers' face (needs transformers)
