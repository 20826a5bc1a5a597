"""The pure-Python twin of _char_vocab.pxi: characters to 16-bit ids."""
from __future__ import annotations

from array import array

from .common import MAX_CHAR_ID, is_word_char


class CharVocab:
    """Maps word characters (CJK ideographs) to dense ids 1..65534; everything else to 0."""

    def __init__(self):
        self.chars = ['']
        self._ids: dict[str, int] = {}

    def __len__(self):
        return len(self.chars) - 1

    def encode(self, text: str) -> array:
        """ids of text's characters, 0 for every non-word character, plus a closing 0."""
        ids = self._ids
        out = array('H')
        for ch in text:
            cid = ids.get(ch)
            if cid is None:
                if is_word_char(ch) and len(self.chars) <= MAX_CHAR_ID:
                    cid = len(self.chars)
                    self.chars.append(ch)
                else:
                    cid = 0
                ids[ch] = cid
            out.append(cid)
        out.append(0)
        return out

    def id_of(self, ch: str) -> int:
        return self._ids.get(ch, 0)


def _sentences(ids):
    """Maximal runs of non-zero ids, as tuples."""
    run: list[int] = []
    for c in ids:
        if c:
            run.append(c)
        elif run:
            yield tuple(run)
            run = []
    if run:
        yield tuple(run)
