"""The pure-Python twin of _pieces.pxi: the cut (当机立断) and piece counting."""
from __future__ import annotations

from array import array
from math import inf, log

from .char_vocab import _sentences
from .common import pack_ids, unpack_key


class PieceCounter:
    """Counts the pieces (candidate words, 1..max_len chars) that the cut leaves."""

    def __init__(self, max_len=6):
        if not 1 <= max_len <= 8:
            raise ValueError(f"max_len must be 1..8, got {max_len}")
        self.max_len = max_len
        self.total = 0
        self._counts: dict[tuple, int] = {}

    def __len__(self):
        return len(self._counts)

    def _emit(self, piece):
        self._counts[piece] = self._counts.get(piece, 0) + 1
        self.total += 1

    def _emit_fitting(self, piece, counts, log_total):
        """Emit piece, first cutting it at its weakest link until every part fits max_len."""
        if len(piece) <= self.max_len:
            self._emit(piece)
            return
        weakest, worst = 1, inf
        for k in range(1, len(piece)):
            pmi = counts.link_pmi(piece[k - 1], piece[k], log_total)
            if pmi < worst:
                weakest, worst = k, pmi
        self._emit_fitting(piece[:weakest], counts, log_total)
        self._emit_fitting(piece[weakest:], counts, log_total)

    def cut_and_count(self, ids, cohesive, counts):
        """Cut every sentence between characters that no cohesive n-gram spans ("当机立断"),
        then count the pieces."""
        log_total = log(counts.total_chars) if counts.total_chars else 0.0
        for sent in _sentences(ids):
            n = len(sent)
            joined = [False] * (n + 1)
            for i in range(n):
                for k in range(2, counts.order + 1):
                    if i + k > n:
                        break
                    if sent[i:i + k] in cohesive:
                        for b in range(i + 1, i + k):
                            joined[b] = True
            start = 0
            for b in range(1, n + 1):
                if b < n and joined[b]:
                    continue
                self._emit_fitting(sent[start:b], counts, log_total)
                start = b

    def merge(self, other):
        for piece, count in other._counts.items():
            self._counts[piece] = self._counts.get(piece, 0) + count
        self.total += other.total

    def export(self, min_count=1):
        """(hi, lo, counts), three array('Q'): the pieces seen at least min_count times, each packed
        as chars 0..3 and 4..7 left-aligned, in no set order; ``add_counts`` takes them back."""
        hi, lo, counts = array("Q"), array("Q"), array("Q")
        for piece, count in self._counts.items():
            if count >= min_count:
                hi.append(pack_ids(piece[:4]))
                lo.append(pack_ids(piece[4:]))
                counts.append(count)
        return hi, lo, counts

    def add_counts(self, hi, lo, counts):
        """Add the counts of packed pieces (what ``export`` returns)."""
        if not len(hi) == len(lo) == len(counts):
            raise ValueError("hi, lo and counts differ in length")
        for h, low, count in zip(hi, lo, counts):
            piece = unpack_key(int(h)) + unpack_key(int(low))
            if not h or (low and len(unpack_key(int(h))) < 4) or count > 0xFFFFFFFF:
                raise ValueError(f"not a packed piece and count: {int(h):#x} {int(low):#x} {count}")
            self._counts[piece] = self._counts.get(piece, 0) + int(count)
            self.total += int(count)

    def items(self, chars, min_count=1):
        """[(piece as str, count)] for pieces seen at least min_count times, in no set order."""
        return [(''.join(chars[c] for c in piece), count)
                for piece, count in self._counts.items() if count >= min_count]
