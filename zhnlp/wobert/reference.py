"""The reference WoBERT tokenization, as the PyTorch port (JunnYu/WoBERT_pytorch) does it.

``jieba.lcut(text.lower(), HMM=False)``; a word in the vocabulary is one token; any other word
goes through transformers' Python ``BertTokenizer`` (basic tokenizer + WordPiece). Slow, and kept
only to prove that :class:`~zhnlp.wobert.WoBertTokenizer` gives the same ids (tests, benchmarks).
Needs jieba and transformers.
"""
from __future__ import annotations

import os


class ReferenceWoBertTokenizer:
    def __init__(self, vocab_file: str | os.PathLike):
        import jieba

        try:  # transformers 5 keeps the Python tokenizer under this name
            from transformers.models.bert import BertTokenizerLegacy as PythonBertTokenizer
        except ImportError:
            from transformers import BertTokenizer as PythonBertTokenizer

        jieba.setLogLevel(60)
        self._jieba = jieba
        self.bert = PythonBertTokenizer(str(vocab_file), do_lower_case=True)
        self.vocab = self.bert.vocab

    def tokenize(self, text: str) -> list[str]:
        tokens: list[str] = []
        for word in self._jieba.lcut(text.lower(), HMM=False):
            if word in self.vocab:
                tokens.append(word)
            else:
                tokens.extend(self.bert.tokenize(word))
        return tokens

    def encode(self, text: str) -> list[int]:
        """Ids with [CLS] and [SEP], as the model sees them."""
        vocab = self.vocab
        unk = vocab["[UNK]"]
        return [vocab["[CLS]"], *(vocab.get(t, unk) for t in self.tokenize(text)), vocab["[SEP]"]]
