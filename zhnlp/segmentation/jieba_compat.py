"""``jieba.lcut(text, HMM=False)``, exactly, on the project's compiled unigram DP.

jieba 0.42.1 without HMM: the text is split into blocks of ``[\\u4E00-\\u9FD5a-zA-Z0-9+#&._%-]``; in a
block, the maximum-probability path through the DAG of dictionary words is taken (a position where
no word starts falls back to its single character), and runs of single-character ASCII letters or
digits on that path are joined into one token; outside the blocks, ``\\r\\n`` and each whitespace
character are tokens, and every other character is a token of its own. The DP is ``WordLattice``,
the one ``zhnlp segment`` uses, loaded with jieba's dictionary (WoBERT's tokenizer relies on this).
"""
from __future__ import annotations

import os
import re
from typing import Iterable

from .._native import kernels
from ..errors import InputError

_BLOCK = re.compile("([\u4E00-\u9FD5a-zA-Z0-9+#&\\._%\\-]+)")
_SKIP = re.compile("(\r\n|\\s)")
_ASCII_ALNUM = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")


def jieba_dictionary_path() -> str:
    """Path of the dict.txt that the installed jieba ships."""
    try:
        import jieba
    except ImportError:
        raise InputError("jieba is not installed", "pip install jieba==0.42.1") from None
    return os.path.join(os.path.dirname(jieba.__file__), "dict.txt")


class JiebaSegmenter:
    """Cuts text as ``jieba.lcut(text, HMM=False)`` does, given the same dictionary.

    >>> seg = JiebaSegmenter.from_jieba()  # doctest: +SKIP
    >>> seg.cut("我来到北京清华大学")  # doctest: +SKIP
    ['我', '来到', '北京', '清华大学']
    """

    def __init__(self, words: Iterable[tuple[str, float]]):
        self.lattice = kernels.WordLattice()
        total = 0.0
        for word, count in words:
            # as jieba's gen_pfdict: a repeated word keeps its last count, the total counts them all
            self.lattice.set_count(word, float(count))
            total += count
        self.lattice.total = total

    def add_word(self, word: str, count: float) -> None:
        """As ``jieba.add_word(word, count)``: the word takes this count, the total grows by it."""
        total = self.lattice.total + count
        self.lattice.set_count(word, float(count))
        self.lattice.total = total

    @classmethod
    def from_dict_file(cls, path: str | os.PathLike) -> "JiebaSegmenter":
        """A jieba-format dictionary: ``word freq [tag]`` per line."""
        def entries():
            with open(path, encoding="utf-8") as f:
                for number, line in enumerate(f, 1):
                    parts = line.strip().split(" ")
                    if not parts[0]:
                        continue
                    try:
                        yield parts[0], int(parts[1])
                    except (IndexError, ValueError):
                        raise InputError(f"{path}, line {number}: expected 'word freq', got {line.strip()[:60]!r}",
                                         "fix that line of the dictionary") from None
        return cls(entries())

    @classmethod
    def from_jieba(cls, extra_words: Iterable[tuple[str, float]] = ()) -> "JiebaSegmenter":
        """jieba's own dictionary, plus extra (word, count) pairs as ``jieba.add_word`` would add."""
        segmenter = cls.from_dict_file(jieba_dictionary_path())
        for word, count in extra_words:
            segmenter.add_word(word, count)
        return segmenter

    def _cut_block(self, block: str, out: list[str]) -> None:
        buffer = ""
        for word in self.lattice.cut(block):
            if len(word) == 1 and word in _ASCII_ALNUM:
                buffer += word
                continue
            if buffer:
                out.append(buffer)
                buffer = ""
            out.append(word)
        if buffer:
            out.append(buffer)

    def cut(self, text: str) -> list[str]:
        out: list[str] = []
        for block in _BLOCK.split(text):
            if not block:
                continue
            if _BLOCK.fullmatch(block):
                self._cut_block(block, out)
                continue
            for piece in _SKIP.split(block):
                if not piece:
                    continue
                if _SKIP.fullmatch(piece):
                    out.append(piece)
                else:
                    out.extend(piece)
        return out

    def __call__(self, texts):
        if isinstance(texts, str):
            return self.cut(texts)
        return [self.cut(t) for t in texts]
