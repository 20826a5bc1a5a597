"""The reference WoBERT tokenization, written out plainly: bert4keras 0.8.8's ``Tokenizer`` with
``pre_tokenize=lambda s: jieba.cut(s, HMM=False)``, as WoBERT was trained, plus the one rule of the
published PyTorch port (JunnYu/WoBERT_pytorch) and of Hugging Face that bert4keras lacks: a special
token written in the text (``[MASK]``) is one token.

Per text: split off the special tokens; lowercase, NFD and drop the combining marks (Mn); cut with
jieba; a word in the vocabulary is one token; any other word is spaced as bert4keras' ``_tokenize``
spaces it (CJK characters and punctuation apart, whitespace a break, NUL, U+FFFD and control
characters, Cc and Cf, dropped; everything else, private-use characters included, kept) and each
part goes through WordPiece (a part of over 200 characters, or one WordPiece cannot spell, is one
[UNK]). Slow, and kept only to prove that :class:`~zhnlp.wobert.WoBertTokenizer` gives the same
ids (tests, benchmarks). Needs jieba alone.

``PortWoBertTokenizer`` is the published port's path (``jieba.lcut(text.lower(), HMM=False)``, the
rest through transformers' Python BertTokenizer), the baseline the benchmarks time zhnlp against.
"""
from __future__ import annotations

import os
import re
import unicodedata

from .vocab import SPECIAL_TOKENS, is_cjk, is_punctuation, read_vocab

WORD_MAX_LENGTH = 200  # bert4keras' _word_maxlen


def lowercase_and_normalize(text: str) -> str:
    """bert4keras' lowercase_and_normalize: lower, NFD, no combining marks (é -> e)."""
    text = unicodedata.normalize("NFD", text.lower())
    return "".join(ch for ch in text if unicodedata.category(ch) != "Mn")


class ReferenceWoBertTokenizer:
    def __init__(self, vocab_file: str | os.PathLike):
        import jieba

        jieba.setLogLevel(60)
        self._jieba = jieba
        tokens = read_vocab(vocab_file)
        self.vocab = {token: index for index, token in enumerate(tokens)}
        specials = [t for t in SPECIAL_TOKENS if t in self.vocab]
        self._specials = re.compile("(" + "|".join(map(re.escape, specials)) + ")")

    def tokenize(self, text: str) -> list[str]:
        tokens: list[str] = []
        for index, part in enumerate(self._specials.split(text)):
            if index % 2:  # a special token, as written
                tokens.append(part)
                continue
            for word in self._jieba.cut(lowercase_and_normalize(part), HMM=False):
                if word in self.vocab:
                    tokens.append(word)
                else:
                    tokens.extend(self._basic_tokenize(word))
        return tokens

    def _basic_tokenize(self, word: str) -> list[str]:
        spaced = []
        for ch in lowercase_and_normalize(word):
            if is_punctuation(ch) or is_cjk(ch):
                spaced += [" ", ch, " "]
            elif ch in " \t\n\r" or unicodedata.category(ch) == "Zs":
                spaced.append(" ")
            elif ord(ch) in (0, 0xFFFD) or unicodedata.category(ch) in ("Cc", "Cf"):
                continue
            else:
                spaced.append(ch)
        return [piece for part in "".join(spaced).split() for piece in self._word_pieces(part)]

    def _word_pieces(self, word: str) -> list[str]:
        if len(word) > WORD_MAX_LENGTH:
            return [word]
        pieces, start = [], 0
        while start < len(word):
            end = len(word)
            while end > start:
                piece = word[start:end] if start == 0 else "##" + word[start:end]
                if piece in self.vocab:
                    break
                end -= 1
            if end == start:
                return [word]  # unspellable: the whole word, which is [UNK]
            pieces.append(piece)
            start = end
        return pieces

    def encode(self, text: str) -> list[int]:
        """Ids with [CLS] and [SEP], as the model sees them."""
        vocab = self.vocab
        unk = vocab["[UNK]"]
        return [vocab["[CLS]"], *(vocab.get(t, unk) for t in self.tokenize(text)), vocab["[SEP]"]]


class PortWoBertTokenizer:
    """The PyTorch port's tokenization: jieba on the lowercased text, in-vocabulary words as tokens,
    any other word through transformers' Python BertTokenizer. Needs jieba and transformers."""

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
        vocab = self.vocab
        unk = vocab["[UNK]"]
        return [vocab["[CLS]"], *(vocab.get(t, unk) for t in self.tokenize(text)), vocab["[SEP]"]]
