"""The pure-Python twin of _lattice.pxi: the word lattice: unigram segmentation and jieba's cut."""
from __future__ import annotations

import re
from math import inf, log


class WordLattice:
    """A lexicon of words with counts and the maximum-probability segmentation over it.

    ``cut`` is exactly the DP of ``jieba.cut(s, HMM=False)`` inside one block: from right to
    left, route[k] = max over words s[k:x+1] of log(count or 1) - log(total) + route[x+1], ties
    going to the longer word; a position where no word starts falls back to its single char.
    """

    def __init__(self):
        self._counts: dict[str, float] = {}
        self._prefixes: set[str] = set()
        self._index: dict[str, int] = {}  # word -> its slot in a tally (0: unknown single chars)
        self.total = 0.0

    def __len__(self):
        return len(self._counts)

    @property
    def num_words(self):
        return len(self._counts)

    def load_dictionary(self, text: str) -> int:
        """The words of a jieba dictionary's text, ``word count [tag]`` per line, each set as
        set_count sets it, with total the sum of every line's count, as jieba's gen_pfdict makes
        it. Returns 0, or the number of the first line not of that form (nothing is then set)."""
        entries, total = [], 0.0
        for number, line in enumerate(text.split("\n"), 1):
            if line in ("", "\r"):
                continue
            word, space, rest = line.partition(" ")
            if not space or not word:
                return number
            try:
                count = int(rest.split(" ", 1)[0])
            except ValueError:
                return number
            entries.append((word, count))
            total += count
        for word, count in entries:
            self.set_count(word, float(count))
        self.total = total
        return 0

    def to_bytes(self) -> bytes:
        """The whole lattice as bytes, for ``from_bytes``: a cache of a large dictionary."""
        import pickle

        return pickle.dumps((b"ZHNLPWL1-pure", self._counts, self._index, self._prefixes, self.total))

    @staticmethod
    def from_bytes(data: bytes) -> "WordLattice":
        """The lattice ``to_bytes`` wrote; ValueError for bytes of anything else."""
        import pickle

        try:
            magic, counts, index, prefixes, total = pickle.loads(data)
        except Exception:
            raise ValueError("not a word lattice") from None
        if magic != b"ZHNLPWL1-pure":
            raise ValueError("not a word lattice of this version")
        lattice = WordLattice()
        lattice._counts, lattice._index, lattice._prefixes, lattice.total = counts, index, prefixes, total
        return lattice

    def set_count(self, word: str, count: float):
        if not word:
            raise ValueError("empty word")
        if count < 0:
            raise ValueError("negative count")
        old = self._counts.get(word, 0.0)
        if count > 0:
            self._counts[word] = float(count)
            self._index.setdefault(word, len(self._index) + 1)
            for i in range(1, len(word) + 1):
                self._prefixes.add(word[:i])
        else:
            self._counts.pop(word, None)
        self.total += count - old

    def add_count(self, word, amount):
        self.set_count(word, self.get_count(word) + amount)

    def get_count(self, word):
        return self._counts.get(word, 0.0)

    def __contains__(self, word):
        return word in self._counts

    def cut(self, text: str) -> list[str]:
        n = len(text)
        if n == 0:
            return []
        log_total = log(self.total) if self.total > 0 else 0.0
        route = [0.0] * (n + 1)
        nxt = [0] * (n + 1)
        counts, prefixes = self._counts, self._prefixes
        for k in range(n - 1, -1, -1):
            best, best_x = -inf, -1
            for x in range(k, n):
                frag = text[k:x + 1]
                if frag not in prefixes:
                    break
                count = counts.get(frag, 0.0)
                if count > 0:
                    score = (log(count) - log_total) + route[x + 1]
                    if best_x < 0 or score >= best:
                        best, best_x = score, x
            if best_x < 0:
                best, best_x = (0.0 - log_total) + route[k + 1], k
            route[k] = best
            nxt[k] = best_x + 1
        words, k = [], 0
        while k < n:
            words.append(text[k:nxt[k]])
            k = nxt[k]
        return words

    def words(self) -> dict[str, float]:
        """{word: count} of every word in the lexicon."""
        return dict(self._counts)

    def remove_redundancy(self, candidates, passes_check, threshold: float) -> dict[str, float]:
        """Eq. 2.17 over candidates in order (longest first): w stays when
        ln(p_w / ∏ p_i) > threshold for its best split w = i1 i2 ... into the other words (a part
        not in the lexicon counts 1); otherwise, or when its ``passes_check`` is false, its count
        moves to its parts. Returns the score of each candidate that stays."""
        scores: dict[str, float] = {}
        for word, check in zip(candidates, passes_check):
            count = self.get_count(word)
            self.set_count(word, 0.0)
            parts = self.cut(word)
            keep = bool(check) and count > 0
            if keep:
                log_total = log(self.total + count)
                score = log(count) - log_total
                for part in parts:
                    score -= log(max(self.get_count(part), 1.0)) - log_total
                keep = score > threshold
            if keep:
                self.set_count(word, count)
                scores[word] = score
            elif count > 0:
                for part in parts:
                    self.add_count(part, count)
        return scores

    @property
    def tally_size(self):
        """The length of a tally array for ``count_words``."""
        return len(self._index) + 1

    def count_words(self, ids, codepoints, tally):
        """Cut every sentence of an encoded corpus chunk (char ids, 0 = a break; ``codepoints``
        maps an id to its character) along the maximum-probability path and add 1 to
        ``tally[word's index]`` for each lexicon word on it (unknown single chars are not counted)."""
        if len(tally) < self.tally_size:
            raise ValueError("tally is shorter than tally_size")
        text = "".join(chr(codepoints[i]) if i else "\n" for i in ids)
        for sentence in text.split("\n"):
            for word in self.cut(sentence) if sentence else ():
                if word in self._counts:
                    tally[self._index[word]] += 1.0

    def tally_words(self, tallies, min_count: float = 1.0):
        """{word: count} of the tallies filled by ``count_words``, summed, for counts of at least min_count."""
        counts = {word: sum(t[i] for t in tallies if i < len(t)) for word, i in self._index.items()}
        return {word: count for word, count in counts.items() if count >= min_count and count > 0}

    def cut_jieba(self, text: str) -> list[str]:
        """``jieba.lcut(text, HMM=False)``: the DP inside each run of jieba's block characters,
        where consecutive single ASCII letters or digits join into one word; outside the runs
        every character is a word, except that \\r\\n stays together."""
        words: list[str] = []
        for block in _JIEBA_BLOCK.split(text):
            if not block:
                continue
            if not _JIEBA_BLOCK.fullmatch(block):
                words.extend(_JIEBA_OTHER.findall(block))
                continue
            run = ""
            for word in self.cut(block):
                if len(word) == 1 and word in _ASCII_ALNUM:
                    run += word
                    continue
                if run:
                    words.append(run)
                    run = ""
                words.append(word)
            if run:
                words.append(run)
        return words

    def encode_jieba(self, text: str, pieces: dict, offsets: bool = False, word_ids: bool = False,
                     on_missing=None):
        """Cut as ``cut_jieba`` and map each word through ``pieces`` (word -> flat tuple
        ``(id, start, end, ...)``, or ``on_missing(word)`` when absent and given); returns
        (ids, spans, word_indices, missing)."""
        ids: list[int] = []
        spans: list[int] | None = [] if offsets else None
        indices: list[int] | None = [] if word_ids else None
        missing: list[str] = []
        start = 0
        for index, word in enumerate(self.cut_jieba(text)):
            entry = pieces.get(word)
            if entry is None and on_missing is not None:
                entry = on_missing(word)
            if entry is None:
                missing.append(word)
            else:
                for j in range(0, len(entry), 3):
                    ids.append(entry[j])
                    if offsets:
                        spans += (start + entry[j + 1], start + entry[j + 2])
                    if word_ids:
                        indices.append(index)
            start += len(word)
        return ids, spans, indices, missing


_JIEBA_BLOCK = re.compile("([\u4E00-\u9FD5a-zA-Z0-9+#&\\._%\\-]+)")
_JIEBA_OTHER = re.compile("\r\n|.", re.S)
_ASCII_ALNUM = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
