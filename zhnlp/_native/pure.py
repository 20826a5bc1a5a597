"""Pure-Python twin of the compiled kernels (``_kernels.pyx``): same names, same results.

Used when the extension is missing or ``ZHNLP_PURE_PYTHON=1``; tests/test_native_parity.py
checks that both agree on random input. It is also the readable statement of what the kernels
compute: the Cython file does the same with C hash tables and without the GIL.
"""
from __future__ import annotations

from array import array
import re
from math import inf, log

MAX_CHAR_ID = 65534  # ids are 16 bits; 0 marks a sentence break and 0xFFFF is reserved
_MASK64 = (1 << 64) - 1


def is_word_char(ch: str) -> bool:
    """CJK ideographs (URO, extensions A to H, compatibility) and 〇: what words are made of."""
    cp = ord(ch)
    return (0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0x20000 <= cp <= 0x323AF
            or 0xF900 <= cp <= 0xFAFF or cp == 0x3007)


def mix64(x: int) -> int:
    """splitmix64's finaliser; decides which partition an n-gram belongs to."""
    x ^= x >> 30
    x = (x * 0xBF58476D1CE4E5B9) & _MASK64
    x ^= x >> 27
    x = (x * 0x94D049BB133111EB) & _MASK64
    x ^= x >> 31
    return x


def pack_ids(ngram) -> int:
    key = 0
    for k, c in enumerate(ngram):
        if not 1 <= c <= MAX_CHAR_ID:
            raise ValueError(f"char id out of range: {c}")
        key |= c << (48 - 16 * k)
    return key


def partition_of(ngram: tuple, nparts: int) -> int:
    return (mix64(pack_ids(ngram)) & 0xFFFFFFFF) % nparts


def pair_partition(a: int, b: int, nparts: int) -> int:
    """Partition of a word pair, keyed as a << 32 | b."""
    return (mix64((a << 32) | b) & 0xFFFFFFFF) % nparts


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

    def to_set(self):
        return set(self._set)


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

    def items(self, chars, min_count=1):
        """[(piece as str, count)] for pieces seen at least min_count times, in no set order."""
        return [(''.join(chars[c] for c in piece), count)
                for piece, count in self._counts.items() if count >= min_count]


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


# ---------------------------------------------------------------------------------------------
# sentence templates (最小熵原理(三) "飞象过河"): word ids >= 1, 0 = a slot (X) in a template
# ---------------------------------------------------------------------------------------------
SLOT = 0


def sentence_templates(sent, window, strong, max_paths):
    """The templates of one sentence (a sequence of word ids), and whether it was skipped.

    Edges i -> j join words at most `window` apart whose pair is strong; every maximal path (from a
    word with no incoming edge to one with no outgoing edge, isolated words included) is a
    template: its words, with a slot wherever the path skips words and at open ends. Paths can
    be exponentially many (a long list repeating one word); a sentence with more than max_paths
    gives no templates at all rather than a flood of near-copies.
    """
    n = len(sent)
    out: list[list[int]] = [[] for _ in range(n)]
    has_in = [False] * n
    for i in range(n):
        for j in range(i + 1, min(n, i + 1 + window)):
            if strong.has_pair(sent[i], sent[j]):
                out[i].append(j)
                has_in[j] = True
    paths = [0] * n  # paths from i to a sink, saturating at max_paths + 1
    for i in range(n - 1, -1, -1):
        paths[i] = min(max_paths + 1, sum(paths[j] for j in out[i])) if out[i] else 1
    if min(max_paths + 1, sum(paths[i] for i in range(n) if not has_in[i])) > max_paths:
        return [], True
    found: list[tuple] = []

    def emit(path):
        t = [] if path[0] == 0 else [SLOT]
        t.append(sent[path[0]])
        for prev, cur in zip(path, path[1:]):
            if cur - prev > 1:
                t.append(SLOT)
            t.append(sent[cur])
        if path[-1] != n - 1:
            t.append(SLOT)
        found.append(tuple(t))

    for source in range(n):
        if has_in[source]:
            continue
        if not out[source]:
            emit([source])
            continue
        path, stack = [source], [iter(out[source])]
        while stack:
            j = next(stack[-1], None)
            if j is None:
                stack.pop()
                path.pop()
                continue
            path.append(j)
            if out[j]:
                stack.append(iter(out[j]))
                continue
            emit(path)
            path.pop()
    return found, False


class TemplateCounter:
    """Counts the templates of sentences; each distinct template is kept exactly (no hash identity)."""

    def __init__(self):
        self.counts: dict[tuple, int] = {}
        self.total = 0
        self.skipped_sentences = 0

    def __len__(self):
        return len(self.counts)

    def add(self, ids, window, strong, max_paths=100_000):
        """Count the templates of every sentence of ids (word ids, 0 = sentence break)."""
        counts = self.counts
        for sent in _sentences(ids):
            found, skipped = sentence_templates(sent, window, strong, max_paths)
            self.skipped_sentences += skipped
            self.total += len(found)
            for t in found:
                counts[t] = counts.get(t, 0) + 1

    def merge(self, other):
        for t, c in other.counts.items():
            self.counts[t] = self.counts.get(t, 0) + c
        self.total += other.total
        self.skipped_sentences += other.skipped_sentences

    def items(self, min_count=1):
        """[(template tuple, count)] with count >= min_count, in no particular order."""
        return [(t, c) for t, c in self.counts.items() if c >= min_count]


class TemplateMatcher:
    """Best-scoring nested template cover of a sentence (the parse of 最小熵原理(三)).

    A template matches a span when its words equal the span's words in order and each slot takes
    one or more consecutive words; the span is covered exactly. The score of a span is
    log p(template) plus the scores of the blocks filling its slots, maximised over templates and
    fillings; a span that no template matches scores null_score per word beyond the first.
    Ties go to the template with more words, then to the first found.
    """

    def __init__(self, templates, log_probs):
        self.children: list[dict[int, int]] = [{}]
        self.slot: list[int] = [-1]
        self.end: list[int] = [-1]
        self.log_probs = [float(x) for x in log_probs]
        self.n_words: list[int] = []
        for index, template in enumerate(templates):
            template = tuple(template)
            _check_template(template)
            self.n_words.append(sum(1 for w in template if w != SLOT))
            node = 0
            for w in template:
                if w == SLOT:
                    if self.slot[node] < 0:
                        self.slot[node] = self._new_node()
                    node = self.slot[node]
                else:
                    child = self.children[node].get(w)
                    if child is None:
                        child = self.children[node][w] = self._new_node()
                    node = child
            if self.end[node] < 0 or self.log_probs[index] > self.log_probs[self.end[node]]:
                self.end[node] = index
        if len(self.n_words) != len(self.log_probs):
            raise ValueError("templates and log_probs differ in length")

    def _new_node(self):
        self.children.append({})
        self.slot.append(-1)
        self.end.append(-1)
        return len(self.end) - 1

    def parse(self, words, null_score=-20.0):
        """Tree of the best cover of words (ids; 0 = a word no template contains).

        A node is (template index or -1, start, end, positions of the template's words, children),
        children being the nodes of the slot fillers from left to right.
        """
        words = list(words)
        n = len(words)
        if n == 0:
            return None
        children, slot, end = self.children, self.slot, self.end
        log_probs, n_words = self.log_probs, self.n_words
        best = [[0.0] * (n + 1) for _ in range(n + 1)]
        back = [[(-1, -1)] * (n + 1) for _ in range(n + 1)]
        pool: list[tuple[int, int, int, int]] = []  # (parent, kind, a, b): kind 0 word a, 1 slot [a, b)

        for s in range(n - 1, -1, -1):
            states: list[dict[int, tuple[float, int]]] = [{} for _ in range(n - s + 1)]
            states[0][0] = (0.0, -1)
            for q in range(s, n + 1):
                here = states[q - s]
                if q > s:
                    top, top_t, top_p = 0.0, -1, -1
                    for node, (score, p) in here.items():
                        t = end[node]
                        if t >= 0:
                            cand = score + log_probs[t]
                            if top_t < 0 or cand > top or (cand == top and n_words[t] > n_words[top_t]):
                                top, top_t, top_p = cand, t, p
                    if top_t < 0:
                        top = null_score * (q - s - 1)
                    best[s][q] = top
                    back[s][q] = (top_t, top_p)
                    if q < n and slot[0] >= 0 and _useful(children, end, slot[0], words, q, n):
                        pool.append((-1, 1, s, q))
                        _merge(here, slot[0], top, len(pool) - 1)
                if q == n:
                    break
                w = words[q]
                for node, (score, p) in list(here.items()):
                    child = children[node].get(w) if w else None
                    if child is not None:
                        pool.append((p, 0, q, q + 1))
                        _merge(states[q + 1 - s], child, score, len(pool) - 1)
                    if node != 0 and slot[node] >= 0:
                        x = slot[node]
                        for r in range(q + 1, n + 1):
                            if _useful(children, end, x, words, r, n):
                                pool.append((p, 1, q, r))
                                _merge(states[r - s], x, score + best[q][r], len(pool) - 1)

        def build(s, e):
            t, p = back[s][e]
            if t < 0:
                return (-1, s, e, tuple(range(s, e)), [])
            positions, kids = [], []
            while p >= 0:
                parent, kind, a, b = pool[p]
                if kind == 0:
                    positions.append(a)
                else:
                    kids.append(build(a, b))
                p = parent
            return (t, s, e, tuple(reversed(positions)), list(reversed(kids)))

        return build(0, n)


def _merge(states, node, score, p):
    old = states.get(node)
    if old is None or score > old[0]:
        states[node] = (score, p)


def _useful(children, end, slot_node, words, r, n):
    """Whether a slot closing before position r can lead anywhere (an end, or the word at r)."""
    return end[slot_node] >= 0 or (r < n and words[r] != 0 and words[r] in children[slot_node])


def _check_template(template):
    if not template or all(w == SLOT for w in template):
        raise ValueError(f"a template needs at least one word: {template}")
    for a, b in zip(template, template[1:]):
        if a == SLOT and b == SLOT:
            raise ValueError(f"two slots in a row: {template}")
    for w in template:
        if not 0 <= w <= 0xFFFFFFFF:
            raise ValueError(f"word id out of range: {w}")


def best_assignments(ids, scores, n: int = 1, max_expansions: int = 100_000) -> list[tuple[float, list[int]]]:
    """The n best ways to give each group (row) a distinct id, best first, exactly: the couplet
    decoder's search (zhnlp/couplet/decode.py). ``ids``, ``scores``: (G, k), each row its group's
    candidates best first, -inf where not allowed (trailing). Returns (total score, id per group).

    Best-first search over groups in a fixed order; the bound of a partial assignment is its score
    plus every remaining group's best score, which never underestimates, so complete assignments
    come off the queue best first. A popped node pushes only its best free child and its next free
    sibling, so groups whose best ids differ cost one pop each.
    """
    import heapq

    ids = ids.tolist() if hasattr(ids, "tolist") else [list(row) for row in ids]
    scores = scores.tolist() if hasattr(scores, "tolist") else [list(row) for row in scores]
    lists = []
    for row_ids, row_scores in zip(ids, scores):
        length = 0
        while length < len(row_scores) and row_scores[length] > -inf:
            length += 1
        lists.append((row_ids[:length], row_scores[:length]))
    if any(not row_ids for row_ids, _ in lists):
        return []
    # groups whose best ids clash go first, so the bound pays for the clash at once and stays tight
    # below; then the most confident
    firsts = [row_ids[0] for row_ids, _ in lists]
    order = sorted(range(len(lists)), key=lambda g: (firsts.count(firsts[g]) == 1, -lists[g][1][0]))
    ids_in_order = [lists[g][0] for g in order]
    scores_in_order = [lists[g][1] for g in order]
    rest = [0.0] * (len(order) + 1)  # rest[d]: sum of the best scores of groups d, d+1, ...
    for d in range(len(order) - 1, -1, -1):
        rest[d] = rest[d + 1] + scores_in_order[d][0]

    def next_free(depth: int, start: int, chosen: tuple[int, ...]) -> int:
        row = ids_in_order[depth]
        while start < len(row) and row[start] in chosen:
            start += 1
        return start

    # node: (-bound, tie-breaker, score, chosen ids, index of the last choice in its group's list)
    queue = [(-rest[0], 0, 0.0, (), -1)]
    found: list[tuple[float, list[int]]] = []
    pushed = 1
    while queue and len(found) < n and pushed < max_expansions:
        _, _, score, chosen, index = heapq.heappop(queue)
        depth = len(chosen)
        if depth == len(order):
            result = [0] * len(order)
            for d, token in enumerate(chosen):
                result[order[d]] = token
            found.append((score, result))
        else:  # the best free child
            child = next_free(depth, 0, chosen)
            if child < len(ids_in_order[depth]):
                new_score = score + scores_in_order[depth][child]
                heapq.heappush(queue, (-(new_score + rest[depth + 1]), pushed, new_score,
                                       chosen + (ids_in_order[depth][child],), child))
                pushed += 1
        if depth:  # the next free sibling: same parent, the next id for the last group
            parent = chosen[:-1]
            sibling = next_free(depth - 1, index + 1, parent)
            if sibling < len(ids_in_order[depth - 1]):
                new_score = score - scores_in_order[depth - 1][index] + scores_in_order[depth - 1][sibling]
                heapq.heappush(queue, (-(new_score + rest[depth]), pushed, new_score,
                                       parent + (ids_in_order[depth - 1][sibling],), sibling))
                pushed += 1
    return found
