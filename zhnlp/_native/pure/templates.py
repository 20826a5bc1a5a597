"""The pure-Python twin of _templates.pxi: sentence templates (最小熵原理(三)): counting and parsing."""
from __future__ import annotations


from .char_vocab import _sentences


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
