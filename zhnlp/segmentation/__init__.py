"""Unigram-model segmentation: the maximum-probability path through the DAG of lexicon words.

Inside a run of Chinese characters this is exactly what ``jieba.cut(s, HMM=False)`` computes from
its dictionary (the DP lives in the compiled ``WordLattice``). Around the runs, a run of Latin
letters or digits (half or full width) is one token, whitespace is dropped, and any other
character (punctuation) is a token of its own.
"""
from __future__ import annotations

import os
import re
from typing import Iterable, Iterator, overload

from .._native import kernels
from ..chars import HAN, LATIN_AND_DIGITS
from ..lexicon import Lexicon

# a CJK run, a Latin/digit run (ASCII and full width, with decimal point or percent), whitespace, anything else
_BLOCKS = re.compile(
    f"([{HAN}]+)"
    f"|([{LATIN_AND_DIGITS}]+" r"(?:[.．％%][0-9\uff10-\uff19]+)*[%％]?)"
    r"|(\s+)"
    r"|(.)",
    re.S,
)
MAX_BLOCK = 4096  # a Chinese run longer than this (no punctuation at all) is segmented in parts


class Segmenter:
    """Segments text with a lexicon's word counts under the unigram model.

    >>> seg = Segmenter({"今天": 10, "天气": 8, "很": 5, "好": 5})
    >>> seg.cut("今天天气很好")
    ['今天', '天气', '很', '好']
    """

    def __init__(self, lexicon: Lexicon | dict[str, int] | Iterable[tuple[str, int]]):
        self.lattice = kernels.WordLattice()
        entries = lexicon.counts().items() if isinstance(lexicon, Lexicon) else (
            lexicon.items() if isinstance(lexicon, dict) else lexicon)
        for word, count in entries:
            if count > 0:
                self.lattice.set_count(word, float(count))

    @classmethod
    def from_file(cls, path: str | os.PathLike) -> "Segmenter":
        return cls(Lexicon.load(path))

    def __len__(self) -> int:
        return len(self.lattice)

    def cut(self, text: str) -> list[str]:
        """The words of one text (a line; line breaks count as whitespace)."""
        words: list[str] = []
        lattice_cut = self.lattice.cut
        for match in _BLOCKS.finditer(text):
            han, latin, space, other = match.groups()
            if han is not None:
                for start in range(0, len(han), MAX_BLOCK):
                    words.extend(lattice_cut(han[start:start + MAX_BLOCK]))
            elif latin is not None:
                words.append(latin)
            elif other is not None:
                words.append(other)
        return words

    @overload
    def __call__(self, texts: str) -> list[str]: ...
    @overload
    def __call__(self, texts: list[str]) -> list[list[str]]: ...

    def __call__(self, texts):
        """Segment one string or a list of strings."""
        if isinstance(texts, str):
            return self.cut(texts)
        return [self.cut(t) for t in texts]

    def segment_lines(self, lines: Iterable[str]) -> Iterator[str]:
        """Each line's words joined by one space (streaming; one output line per input line)."""
        for line in lines:
            yield " ".join(self.cut(line))


from .jieba_compat import JiebaSegmenter  # noqa: E402  (jieba itself is imported only when its dictionary is loaded)

__all__ = ["JiebaSegmenter", "Segmenter", "MAX_BLOCK"]
