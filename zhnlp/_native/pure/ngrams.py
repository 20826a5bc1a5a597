"""The pure-Python twin of _ngrams.pxi: n-gram counting and the cohesive set."""
from __future__ import annotations

from array import array
from math import inf, log

from .char_vocab import _sentences
from .common import pack_ids, pair_partition, partition_of, unpack_key


class NgramCounter:
    """Counts 1..order-grams of character ids; n-grams of 2+ chars live in nparts partitions.

    With ``max_entries`` set, a partition holding more than max_entries // nparts n-grams drops
    its rarest: the floor doubles (2, 4, 8, ...) until at most half the limit remain.
    """

    def __init__(self, order=4, nparts=1, max_entries=0, expected_entries=0):
        if not 1 <= order <= 4:
            raise ValueError(f"order must be 1..4, got {order}")
        if not 1 <= nparts <= 64:
            raise ValueError(f"nparts must be 1..64, got {nparts}")
        self.order = order
        self.nparts = nparts
        self.max_entries = max_entries
        self.prune_floor = 1
        self.total_chars = 0
        self.total_pairs = 0
        self.unigrams: dict[int, int] = {}
        self.tables: list[dict[tuple, int]] = [{} for _ in range(nparts)]

    def __len__(self):
        return sum(len(t) for t in self.tables)

    @property
    def memory_bytes(self):
        return 0

    def count(self, ids, part=0):
        if not 0 <= part < self.nparts:
            raise ValueError(f"part must be 0..{self.nparts - 1}")
        table = self.tables[part]
        limit = self.max_entries // self.nparts if self.max_entries else 0
        for sent in _sentences(ids):
            n = len(sent)
            for i, c in enumerate(sent):
                if part == 0:
                    self.unigrams[c] = self.unigrams.get(c, 0) + 1
                    self.total_chars += 1
                for k in range(2, self.order + 1):
                    if i + k > n:
                        break
                    gram = sent[i:i + k]
                    if self.nparts > 1 and partition_of(gram, self.nparts) != part:
                        continue
                    if gram in table:
                        table[gram] += 1
                        continue
                    table[gram] = 1
                    if limit and len(table) > limit:
                        floor = self.prune_floor
                        while len(table) > limit // 2:
                            floor *= 2
                            for g in [g for g, v in table.items() if v < floor]:
                                del table[g]
                        self.prune_floor = max(self.prune_floor, floor)

    def get(self, ngram):
        ngram = tuple(ngram)
        if len(ngram) == 1:
            return self.unigrams.get(ngram[0], 0)
        if not 2 <= len(ngram) <= self.order:
            return 0
        return self.tables[partition_of(ngram, self.nparts)].get(ngram, 0)

    def to_dict(self):
        out = {(c,): v for c, v in self.unigrams.items()}
        for table in self.tables:
            out.update(table)
        return out

    def export(self, min_count=1):
        """(keys, counts), two array('Q'): every n-gram (unigrams included) seen at least min_count
        times, as packed keys, in no set order. ``add_counts`` of another counter takes them back."""
        keys, counts = array("Q"), array("Q")
        for c, v in self.unigrams.items():
            if v >= min_count:
                keys.append(c << 48)
                counts.append(v)
        for table in self.tables:
            for gram, v in table.items():
                if v >= min_count:
                    keys.append(pack_ids(gram))
                    counts.append(v)
        return keys, counts

    def add_counts(self, keys, counts):
        """Add counts given as packed keys (what ``export`` returns): a unigram's to its count and to
        total_chars, an n-gram's to its partition. Never prunes."""
        if len(counts) != len(keys):
            raise ValueError(f"{len(keys)} keys but {len(counts)} counts")
        for key, count in zip(keys, counts):
            gram = unpack_key(int(key))
            if not 1 <= len(gram) <= self.order or pack_ids(gram) != key:
                raise ValueError(f"not a packed n-gram of 1..{self.order} chars: {int(key):#x}")
            if count > 0xFFFFFFFF:
                raise ValueError(f"a count over 2**32 - 1: {count}")
            if len(gram) == 1:
                self.unigrams[gram[0]] = self.unigrams.get(gram[0], 0) + int(count)
                self.total_chars += int(count)
            else:
                table = self.tables[partition_of(gram, self.nparts)]
                table[gram] = table.get(gram, 0) + int(count)

    def _pmi(self, gram, split, log_total, count):
        left, right = self.get(gram[:split]), self.get(gram[split:])
        if left == 0 or right == 0:
            return -inf
        return log(count) + log_total - log(left) - log(right)

    def cohesive(self, min_count, thresholds):
        """The n-grams (n >= 2) seen at least min_count times whose weakest binary split still has
        ln(N f(w) / (f(a) f(b))) >= thresholds[n]. Returns (NgramSet, {n: how many kept})."""
        log_total = log(self.total_chars) if self.total_chars else 0.0
        kept = NgramSet()
        by_order = {n: 0 for n in range(2, self.order + 1)}
        for table in self.tables:
            for gram, count in table.items():
                if count < min_count:
                    continue
                n = len(gram)
                worst = min(self._pmi(gram, s, log_total, count) for s in range(1, n))
                if worst >= float(thresholds[n]):
                    kept.add(gram)
                    by_order[n] += 1
        return kept, by_order

    # -- word pairs (最小熵原理(三)): a counter holds either char n-grams or word pairs, not both --

    def count_pairs(self, ids, window, eligible, part=0):
        """Count ordered word pairs (a, b), b at most `window` words after a in one sentence.

        ids are word ids (uint32, 0 = sentence break). Only pairs of two eligible words
        (eligible[id] != 0) are stored; ``total_pairs`` (part 0) counts every pair, stored or not.
        """
        if not 0 <= part < self.nparts:
            raise ValueError(f"part must be 0..{self.nparts - 1}")
        table = self.tables[part]
        for sent in _sentences(ids):
            n = len(sent)
            for i, a in enumerate(sent):
                stop = min(n, i + 1 + window)
                if part == 0:
                    self.total_pairs += stop - i - 1
                if not eligible[a]:
                    continue
                for j in range(i + 1, stop):
                    b = sent[j]
                    if not eligible[b]:
                        continue
                    if self.nparts > 1 and pair_partition(a, b, self.nparts) != part:
                        continue
                    table[a, b] = table.get((a, b), 0) + 1

    def get_pair(self, a, b):
        return self.tables[pair_partition(a, b, self.nparts)].get((a, b), 0)

    def strong_pairs(self, word_counts, total_words, min_prob, min_pmi):
        """The counted pairs with p_ab > min_prob and ln(p_ab / (p_a p_b)) > min_pmi, where
        p_ab = count / total_pairs and p_a = word_counts[a] / total_words. Returns an NgramSet."""
        kept = NgramSet()
        if not self.total_pairs or not total_words:
            return kept
        log_pairs, log_words, log_min = log(self.total_pairs), log(total_words), log(min_prob)
        for table in self.tables:
            for (a, b), count in table.items():
                log_p = log(count) - log_pairs
                if log_p <= log_min:
                    continue
                if log_p - (log(word_counts[a]) - log_words) - (log(word_counts[b]) - log_words) > min_pmi:
                    kept.add_pair(a, b)
        return kept

    def link_pmi(self, a, b, log_total):
        ab = self.get((a, b))
        ua, ub = self.unigrams.get(a, 0), self.unigrams.get(b, 0)
        if ab == 0 or ua == 0 or ub == 0:
            return -inf
        return log(ab) + log_total - log(ua) - log(ub)


class NgramSet:
    """A set of n-grams given as tuples of char ids (the cohesive n-grams)."""

    def __init__(self):
        self._set: set[tuple] = set()

    def add(self, ngram):
        self._set.add(tuple(ngram))

    def __contains__(self, ngram):
        return tuple(ngram) in self._set

    def covers(self, words, vocab, low: int, high: int) -> list[bool]:
        """For each word: is every substring of low..high chars of it in the set (the check back of
        discovery)? Words shorter than low pass."""
        result = []
        for word in words:
            ids = tuple(vocab.id_of(ch) for ch in word)
            result.append(all(ids[i:i + n] in self._set for n in range(low, min(len(ids), high) + 1)
                              for i in range(len(ids) - n + 1)))
        return result

    def add_pair(self, a, b):
        self._set.add(("pair", a, b))

    def has_pair(self, a, b):
        return ("pair", a, b) in self._set

    def __len__(self):
        return len(self._set)

    def keys(self):
        """The packed n-gram keys (a set of n-grams, not of pairs), an array('Q') in no set order;
        ``add_keys`` of another set takes them back."""
        return array("Q", [pack_ids(k) for k in self._set])

    def add_keys(self, keys):
        for key in keys:
            if key == 0:
                raise ValueError("0 is not a packed key")
            self._set.add(unpack_key(int(key)))

    def to_set(self):
        return set(self._set)
