# Included by _kernels.pyx (one extension, one file per structure, as msgpack's _cmsgpack.pyx):
# sentence templates (最小熵原理(三)): counting and parsing. Its pure-Python twin: pure/templates.py.

# ---------------------------------------------------------------------------------------------
# sentence templates (最小熵原理(三) "飞象过河"): word ids >= 1, 0 = a slot (X) in a template
# ---------------------------------------------------------------------------------------------
DEF SLOT = 0


cdef inline uint64_t sequence_hash(const uint32_t* seq, size_t n) noexcept nogil:
    cdef uint64_t h = <uint64_t>0x9E3779B97F4A7C15 ^ n
    cdef size_t i
    for i in range(n):
        h = mix64(h + seq[i] + <uint64_t>0x632BE59BD9B4E019)
    return h


cdef class TemplateCounter:
    """Counts the templates of sentences; each distinct template is stored and compared exactly.

    Templates lie back to back in one uint32 buffer; an open-addressing index (template number + 1,
    power-of-two capacity) finds them by a 64-bit hash, and equal hashes are then compared word by
    word, so two templates are never merged because their hashes collide.
    """

    cdef uint32_t* words
    cdef size_t words_used
    cdef size_t words_allocated
    cdef uint64_t* starts  # template i is words[starts[i]:starts[i + 1]]
    cdef uint64_t* counts
    cdef uint64_t* hashes
    cdef size_t size
    cdef size_t allocated
    cdef uint32_t* index
    cdef size_t index_capacity
    cdef readonly uint64_t total
    cdef readonly uint64_t skipped_sentences
    cdef int failed

    def __cinit__(self):
        self.words_allocated = 1 << 12
        self.allocated = 1 << 10
        self.index_capacity = 1 << 11
        self.words = <uint32_t*>malloc(self.words_allocated * sizeof(uint32_t))
        self.starts = <uint64_t*>malloc((self.allocated + 1) * sizeof(uint64_t))
        self.counts = <uint64_t*>malloc(self.allocated * sizeof(uint64_t))
        self.hashes = <uint64_t*>malloc(self.allocated * sizeof(uint64_t))
        self.index = <uint32_t*>calloc(self.index_capacity, sizeof(uint32_t))
        if (self.words == NULL or self.starts == NULL or self.counts == NULL or self.hashes == NULL
                or self.index == NULL):
            raise MemoryError()
        self.starts[0] = 0

    def __dealloc__(self):
        free(self.words)
        free(self.starts)
        free(self.counts)
        free(self.hashes)
        free(self.index)

    def __len__(self):
        return self.size

    cdef int _grow_index(self) noexcept nogil:
        cdef size_t capacity = self.index_capacity * 2, i, slot
        cdef uint32_t* fresh = <uint32_t*>calloc(capacity, sizeof(uint32_t))
        if fresh == NULL:
            return -1
        for i in range(self.size):
            slot = self.hashes[i] & (capacity - 1)
            while fresh[slot] != 0:
                slot = (slot + 1) & (capacity - 1)
            fresh[slot] = <uint32_t>(i + 1)
        free(self.index)
        self.index = fresh
        self.index_capacity = capacity
        return 0

    cdef int _add(self, const uint32_t* seq, size_t n, uint64_t amount) noexcept nogil:
        """Add amount to the count of template seq[:n]; -1 when memory ran out."""
        cdef uint64_t h = sequence_hash(seq, n)
        cdef size_t slot = h & (self.index_capacity - 1), t, need
        cdef void* grown
        while self.index[slot] != 0:
            t = self.index[slot] - 1
            if (self.hashes[t] == h and self.starts[t + 1] - self.starts[t] == n
                    and memcmp(&self.words[self.starts[t]], seq, n * sizeof(uint32_t)) == 0):
                self.counts[t] += amount
                return 0
            slot = (slot + 1) & (self.index_capacity - 1)
        if self.size >= <size_t>0xFFFFFFFE:
            return -1
        need = self.words_used + n
        if need > self.words_allocated:
            while self.words_allocated < need:
                self.words_allocated *= 2
            grown = realloc(self.words, self.words_allocated * sizeof(uint32_t))
            if grown == NULL:
                return -1
            self.words = <uint32_t*>grown
        if self.size == self.allocated:
            self.allocated *= 2
            grown = realloc(self.starts, (self.allocated + 1) * sizeof(uint64_t))
            if grown == NULL:
                return -1
            self.starts = <uint64_t*>grown
            grown = realloc(self.counts, self.allocated * sizeof(uint64_t))
            if grown == NULL:
                return -1
            self.counts = <uint64_t*>grown
            grown = realloc(self.hashes, self.allocated * sizeof(uint64_t))
            if grown == NULL:
                return -1
            self.hashes = <uint64_t*>grown
        memcpy(&self.words[self.words_used], seq, n * sizeof(uint32_t))
        self.words_used = need
        t = self.size
        self.starts[t + 1] = need
        self.counts[t] = amount
        self.hashes[t] = h
        self.index[slot] = <uint32_t>(t + 1)
        self.size += 1
        if self.size * 2 > self.index_capacity:
            return self._grow_index()
        return 0

    def add(self, const uint32_t[::1] ids, int window, NgramSet strong, size_t max_paths=100000):
        """Count the templates of every sentence of ids (word ids, 0 = sentence break).

        Edges i -> j join words at most `window` apart whose pair is in `strong`; every maximal
        path (from a word with no incoming edge to one with no outgoing edge, isolated words
        included) is a template: its words, with a slot wherever the path skips words and at open
        ends. A sentence with more than max_paths paths (a long list repeating one word) gives no
        templates at all and is counted in skipped_sentences.
        The GIL is released: threads may fill different counters at once.
        """
        cdef Py_ssize_t n_ids = ids.shape[0], i, start, longest = 0
        cdef size_t n, k, k2, j, depth, m, width
        cdef Py_ssize_t kk
        cdef int32_t* out = NULL
        cdef uint8_t* out_len = NULL
        cdef uint8_t* has_in = NULL
        cdef size_t* path = NULL
        cdef uint8_t* next_edge = NULL
        cdef uint32_t* tpl = NULL
        cdef const uint32_t* sent
        cdef uint64_t* paths = NULL
        cdef uint64_t total_paths
        cdef int status = 0
        if window < 1 or window > 255:
            raise ValueError(f"window must be 1..255, got {window}")
        if max_paths < 1:
            raise ValueError("max_paths must be at least 1")
        width = window
        start = 0
        for i in range(n_ids + 1):
            if i == n_ids or ids[i] == 0:
                if i - start > longest:
                    longest = i - start
                start = i + 1
        if longest == 0:
            return
        out = <int32_t*>malloc(longest * width * sizeof(int32_t))
        out_len = <uint8_t*>malloc(longest)
        has_in = <uint8_t*>malloc(longest)
        path = <size_t*>malloc(longest * sizeof(size_t))
        next_edge = <uint8_t*>malloc(longest)
        tpl = <uint32_t*>malloc((2 * longest + 2) * sizeof(uint32_t))
        paths = <uint64_t*>malloc(longest * sizeof(uint64_t))
        if (out == NULL or out_len == NULL or has_in == NULL or path == NULL or next_edge == NULL
                or tpl == NULL or paths == NULL):
            free(out); free(out_len); free(has_in); free(path); free(next_edge); free(tpl); free(paths)
            raise MemoryError()
        with nogil:
            start = 0
            i = 0
            while i <= n_ids and status == 0:
                if i < n_ids and ids[i] != 0:
                    i += 1
                    continue
                n = i - start
                sent = &ids[start]
                start = i + 1
                i += 1
                if n == 0:
                    continue
                # the graph of strong pairs inside the window
                for k in range(n):
                    out_len[k] = 0
                    has_in[k] = 0
                for k in range(n):
                    for j in range(k + 1, min(n, k + 1 + width)):
                        if strong._has(((<uint64_t>sent[k]) << 32) | sent[j]):
                            out[k * width + out_len[k]] = <int32_t>j
                            out_len[k] += 1
                            has_in[j] = 1
                # how many maximal paths (saturating): too many, and the sentence is skipped
                for kk in range(<Py_ssize_t>n - 1, -1, -1):
                    if out_len[kk] == 0:
                        paths[kk] = 1
                        continue
                    paths[kk] = 0
                    for j in range(out_len[kk]):
                        paths[kk] += paths[out[kk * width + j]]
                        if paths[kk] > max_paths:
                            paths[kk] = max_paths + 1
                total_paths = 0
                for k in range(n):
                    if not has_in[k]:
                        total_paths += paths[k]
                        if total_paths > max_paths:
                            break
                if total_paths > max_paths:
                    self.skipped_sentences += 1
                    continue
                # every maximal path, depth first, in the pure twin's order
                for k in range(n):
                    if has_in[k]:
                        continue
                    depth = 1
                    path[0] = k
                    next_edge[0] = 0
                    while depth > 0 and status == 0:
                        j = path[depth - 1]
                        if out_len[j] == 0:
                            # a sink: emit the path, then step back
                            m = 0
                            if path[0] != 0:
                                tpl[m] = SLOT
                                m += 1
                            tpl[m] = sent[path[0]]
                            m += 1
                            for k2 in range(1, depth):
                                if path[k2] - path[k2 - 1] > 1:
                                    tpl[m] = SLOT
                                    m += 1
                                tpl[m] = sent[path[k2]]
                                m += 1
                            if path[depth - 1] != n - 1:
                                tpl[m] = SLOT
                                m += 1
                            if self._add(tpl, m, 1) != 0:
                                status = -1
                                break
                            self.total += 1
                            depth -= 1
                            continue
                        if next_edge[depth - 1] == out_len[j]:
                            depth -= 1
                            continue
                        path[depth] = <size_t>out[j * width + next_edge[depth - 1]]
                        next_edge[depth - 1] += 1
                        next_edge[depth] = 0
                        depth += 1
        free(out); free(out_len); free(has_in); free(path); free(next_edge); free(tpl); free(paths)
        if status != 0:
            raise MemoryError("out of memory while counting templates")

    def merge(self, TemplateCounter other):
        cdef size_t t
        for t in range(other.size):
            if self._add(&other.words[other.starts[t]], other.starts[t + 1] - other.starts[t],
                         other.counts[t]) != 0:
                raise MemoryError()
        self.total += other.total
        self.skipped_sentences += other.skipped_sentences

    def items(self, uint64_t min_count=1):
        """[(template tuple, count)] with count >= min_count, in no particular order."""
        cdef list result = []
        cdef size_t t, k
        for t in range(self.size):
            if self.counts[t] >= min_count:
                result.append((tuple([self.words[k] for k in range(self.starts[t], self.starts[t + 1])]),
                               self.counts[t]))
        return result


cdef struct ParseStep:
    int64_t parent  # previous step of the same match, -1 at its start
    int32_t kind  # 0: the template word at a; 1: a slot filled by the block [a, b)
    int32_t a
    int32_t b


cdef struct ParseState:
    int32_t node
    double score
    int64_t step
    int64_t next  # next state at the same position, in insertion order


cdef class TemplateMatcher:
    """Best-scoring nested template cover of a sentence (the parse of 最小熵原理(三)).

    A template matches a span when its words equal the span's words in order and each slot takes
    one or more consecutive words; the span is covered exactly. The score of a span is
    log p(template) plus the scores of the blocks filling its slots, maximised over templates and
    fillings; a span that no template matches scores null_score per word beyond the first.
    Ties go to the template with more words, then to the first found.

    The templates form a trie whose edges are words or a slot. For each start s, from the right,
    a Viterbi pass over (trie node, position) states finds the best match of every span [s, e);
    the blocks inside a span start after s, or end before e, so their scores are already known.
    Time O(n^2 x matching states), memory O(n^2).
    """

    cdef Table children  # ((node + 1) << 32 | word) -> child node
    cdef int32_t* slot  # node -> node after a slot, -1 if none
    cdef int32_t* end  # node -> template ending here, -1 if none
    cdef double* log_probs
    cdef int32_t* n_words
    cdef size_t n_nodes
    cdef size_t n_templates

    def __cinit__(self):
        if table_init(&self.children, MIN_CAPACITY, <uint64_t>0x2545F4914F6CDD1D) != 0:
            raise MemoryError()

    def __init__(self, templates, log_probs):
        cdef size_t allocated = 1024, index = 0
        cdef int32_t node, child
        cdef uint64_t key, h
        cdef size_t found
        templates = [tuple(t) for t in templates]
        log_probs = [float(x) for x in log_probs]
        if len(templates) != len(log_probs):
            raise ValueError("templates and log_probs differ in length")
        for t in templates:
            _check_template(t)
        self.n_templates = len(templates)
        self.log_probs = <double*>malloc((self.n_templates + 1) * sizeof(double))
        self.n_words = <int32_t*>malloc((self.n_templates + 1) * sizeof(int32_t))
        self.slot = <int32_t*>malloc(allocated * sizeof(int32_t))
        self.end = <int32_t*>malloc(allocated * sizeof(int32_t))
        if self.log_probs == NULL or self.n_words == NULL or self.slot == NULL or self.end == NULL:
            raise MemoryError()
        self.slot[0] = -1
        self.end[0] = -1
        self.n_nodes = 1
        for index in range(self.n_templates):
            template = templates[index]
            self.log_probs[index] = log_probs[index]
            self.n_words[index] = sum(1 for w in template if w != SLOT)
            node = 0
            for w in template:
                if self.n_nodes + 1 >= allocated:
                    allocated *= 2
                    self.slot = <int32_t*>realloc(self.slot, allocated * sizeof(int32_t))
                    self.end = <int32_t*>realloc(self.end, allocated * sizeof(int32_t))
                    if self.slot == NULL or self.end == NULL:
                        raise MemoryError()
                if w == SLOT:
                    if self.slot[node] < 0:
                        self.slot[node] = self._new_node()
                    node = self.slot[node]
                else:
                    key = ((<uint64_t>(node + 1)) << 32) | <uint32_t>w
                    h = table_hash(&self.children, key)
                    found = table_find(&self.children, key, h)
                    if self.children.entries[found].key == key:
                        node = <int32_t>self.children.entries[found].val
                    else:
                        child = self._new_node()
                        table_add(&self.children, key, h, <uint32_t>child)
                        if self.children.failed:
                            raise MemoryError()
                        node = child
            if self.end[node] < 0 or self.log_probs[index] > self.log_probs[self.end[node]]:
                self.end[node] = <int32_t>index

    cdef int32_t _new_node(self):
        cdef int32_t node = <int32_t>self.n_nodes
        self.slot[node] = -1
        self.end[node] = -1
        self.n_nodes += 1
        return node

    def __dealloc__(self):
        table_free(&self.children)
        free(self.slot)
        free(self.end)
        free(self.log_probs)
        free(self.n_words)

    cdef inline int32_t _child(self, int32_t node, uint32_t word) noexcept nogil:
        if word == 0:
            return -1
        cdef uint64_t key = ((<uint64_t>(node + 1)) << 32) | word
        cdef uint32_t child = table_get(&self.children, key)
        return <int32_t>child if child != 0 else -1

    cdef inline bint _useful(self, int32_t slot_node, const uint32_t* words, Py_ssize_t r,
                             Py_ssize_t n) noexcept nogil:
        """Whether a slot closing before position r can lead anywhere (an end, or the word at r)."""
        return self.end[slot_node] >= 0 or (r < n and self._child(slot_node, words[r]) >= 0)

    def parse(self, words, double null_score=-20.0):
        """Tree of the best cover of words (ids; 0 = a word no template contains).

        A node is (template index or -1, start, end, positions of the template's words, children),
        children being the nodes of the slot fillers from left to right.
        """
        cdef Py_ssize_t n = len(words), s, q, r, k
        cdef uint32_t* ws
        cdef double* best
        cdef int32_t* back_t
        cdef int64_t* back_step
        cdef int64_t* first
        cdef int64_t* last
        cdef ParseStep* steps = NULL
        cdef ParseState* states = NULL
        cdef size_t n_steps = 0, steps_allocated = 1024, n_states = 0, states_allocated = 1024
        cdef Table lookup
        cdef int64_t st, it
        cdef int32_t node, child, x, top_t, t
        cdef double top, cand, score
        cdef int64_t top_step, p
        cdef uint32_t w
        cdef int failed = 0
        if n == 0:
            return None
        if n > 65535:
            raise ValueError("a sentence to parse may hold at most 65535 words")
        ws = <uint32_t*>malloc(n * sizeof(uint32_t))
        best = <double*>malloc((n + 1) * (n + 1) * sizeof(double))
        back_t = <int32_t*>malloc((n + 1) * (n + 1) * sizeof(int32_t))
        back_step = <int64_t*>malloc((n + 1) * (n + 1) * sizeof(int64_t))
        first = <int64_t*>malloc((n + 1) * sizeof(int64_t))
        last = <int64_t*>malloc((n + 1) * sizeof(int64_t))
        steps = <ParseStep*>malloc(steps_allocated * sizeof(ParseStep))
        states = <ParseState*>malloc(states_allocated * sizeof(ParseState))
        if (ws == NULL or best == NULL or back_t == NULL or back_step == NULL or first == NULL
                or last == NULL or steps == NULL or states == NULL
                or table_init(&lookup, 4096, <uint64_t>0x9FB21C651E98DF25) != 0):
            free(ws); free(best); free(back_t); free(back_step); free(first); free(last)
            free(steps); free(states)
            raise MemoryError()
        for k in range(n):
            ws[k] = words[k]
        with nogil:
            for s in range(n - 1, -1, -1):
                for q in range(n + 1):
                    first[q] = -1
                    last[q] = -1
                if self._merge(&lookup, &states, &n_states, &states_allocated, first, last,
                               s, s, 0, 0.0, -1) != 0:
                    failed = 1
                    break
                for q in range(s, n + 1):
                    if q > s:
                        top = 0.0
                        top_t = -1
                        top_step = -1
                        it = first[q]
                        while it >= 0:
                            t = self.end[states[it].node]
                            if t >= 0:
                                cand = states[it].score + self.log_probs[t]
                                if top_t < 0 or cand > top or (cand == top and self.n_words[t] > self.n_words[top_t]):
                                    top = cand
                                    top_t = t
                                    top_step = states[it].step
                            it = states[it].next
                        if top_t < 0:
                            top = null_score * (q - s - 1)
                        best[s * (n + 1) + q] = top
                        back_t[s * (n + 1) + q] = top_t
                        back_step[s * (n + 1) + q] = top_step
                        if q < n and self.slot[0] >= 0 and self._useful(self.slot[0], ws, q, n):
                            p = self._step(&steps, &n_steps, &steps_allocated, -1, 1, s, q)
                            if p < 0 or self._merge(&lookup, &states, &n_states, &states_allocated,
                                                    first, last, s, q, self.slot[0], top, p) != 0:
                                failed = 1
                                break
                    if q == n:
                        break
                    w = ws[q]
                    it = first[q]
                    while it >= 0 and not failed:
                        node = states[it].node
                        score = states[it].score
                        p = states[it].step
                        child = self._child(node, w)
                        if child >= 0:
                            st = self._step(&steps, &n_steps, &steps_allocated, p, 0, q, q + 1)
                            if st < 0 or self._merge(&lookup, &states, &n_states, &states_allocated,
                                                     first, last, s, q + 1, child, score, st) != 0:
                                failed = 1
                                break
                        if node != 0 and self.slot[node] >= 0:
                            x = self.slot[node]
                            for r in range(q + 1, n + 1):
                                if self._useful(x, ws, r, n):
                                    st = self._step(&steps, &n_steps, &steps_allocated, p, 1, q, r)
                                    if st < 0 or self._merge(&lookup, &states, &n_states, &states_allocated,
                                                             first, last, s, r, x,
                                                             score + best[q * (n + 1) + r], st) != 0:
                                        failed = 1
                                        break
                        it = states[it].next
                    if failed:
                        break
                if failed:
                    break
        try:
            if failed:
                raise MemoryError("out of memory while parsing")
            return self._build(0, n, n, back_t, back_step, steps)
        finally:
            free(ws); free(best); free(back_t); free(back_step); free(first); free(last)
            free(steps); free(states)
            table_free(&lookup)

    cdef int64_t _step(self, ParseStep** steps, size_t* n_steps, size_t* allocated, int64_t parent,
                       int32_t kind, Py_ssize_t a, Py_ssize_t b) noexcept nogil:
        cdef ParseStep* grown
        if n_steps[0] == allocated[0]:
            grown = <ParseStep*>realloc(steps[0], allocated[0] * 2 * sizeof(ParseStep))
            if grown == NULL:
                return -1
            steps[0] = grown
            allocated[0] *= 2
        steps[0][n_steps[0]].parent = parent
        steps[0][n_steps[0]].kind = kind
        steps[0][n_steps[0]].a = <int32_t>a
        steps[0][n_steps[0]].b = <int32_t>b
        n_steps[0] += 1
        return <int64_t>(n_steps[0] - 1)

    cdef int _merge(self, Table* lookup, ParseState** states, size_t* n_states, size_t* allocated,
                    int64_t* first, int64_t* last, Py_ssize_t s, Py_ssize_t q, int32_t node,
                    double score, int64_t step) noexcept nogil:
        """Keep the better of the state (node, q) seen so far and this one."""
        cdef uint64_t key = ((<uint64_t>(node + 1)) << 32) | ((<uint64_t>s) << 16) | <uint64_t>q
        cdef uint64_t h = table_hash(lookup, key)
        cdef size_t slot = table_find(lookup, key, h)
        cdef size_t index
        cdef ParseState* grown
        if lookup.entries[slot].key == key:
            index = lookup.entries[slot].val - 1
            if score > states[0][index].score:
                states[0][index].score = score
                states[0][index].step = step
            return 0
        if n_states[0] == allocated[0]:
            grown = <ParseState*>realloc(states[0], allocated[0] * 2 * sizeof(ParseState))
            if grown == NULL:
                return -1
            states[0] = grown
            allocated[0] *= 2
        index = n_states[0]
        n_states[0] += 1
        states[0][index].node = node
        states[0][index].score = score
        states[0][index].step = step
        states[0][index].next = -1
        if last[q] >= 0:
            states[0][last[q]].next = <int64_t>index
        else:
            first[q] = <int64_t>index
        last[q] = <int64_t>index
        table_add(lookup, key, h, <uint32_t>(index + 1))
        return -1 if lookup.failed else 0

    cdef tuple _build(self, Py_ssize_t s, Py_ssize_t e, Py_ssize_t n, const int32_t* back_t,
                      const int64_t* back_step, const ParseStep* steps):
        cdef int32_t t = back_t[s * (n + 1) + e]
        cdef int64_t p = back_step[s * (n + 1) + e]
        cdef list positions = [], kids = []
        if t < 0:
            return (-1, s, e, tuple(range(s, e)), [])
        while p >= 0:
            if steps[p].kind == 0:
                positions.append(steps[p].a)
            else:
                kids.append(self._build(steps[p].a, steps[p].b, n, back_t, back_step, steps))
            p = steps[p].parent
        positions.reverse()
        kids.reverse()
        return (t, s, e, tuple(positions), kids)
