# Included by _kernels.pyx (one extension, one file per structure, as msgpack's _cmsgpack.pyx):
# the word lattice: unigram segmentation and jieba's cut. Its pure-Python twin: pure/lattice.py.

# ---------------------------------------------------------------------------------------------
# unigram segmentation: best path through the DAG of lexicon words (jieba's HMM-free DP)
# ---------------------------------------------------------------------------------------------
cdef size_t ROOT_FANOUT = 0x10000
_LATTICE_MAGIC = b"ZHNLPWL1"  # to_bytes' format; a change of layout needs a new one
_LATTICE_HEADER = _struct.Struct("<8sQQQdQ")  # magic, nodes used, table capacity, table size, total, words
DEF MAX_WORD = 64  # the longest candidate remove_redundancy takes (words are at most 8 chars)


cdef void* grow_array(void* old, size_t n, size_t itemsize) except NULL:
    """A zeroed array of 2n items holding old's n first; old is freed."""
    cdef void* grown = calloc(n * 2, itemsize)
    if grown == NULL:
        raise MemoryError()
    memcpy(grown, old, n * itemsize)
    free(old)
    return grown


cdef class WordLattice:
    """A lexicon of words with counts and the maximum-probability segmentation over it.

    ``cut`` is exactly the DP of ``jieba.cut(s, HMM=False)`` inside one block: from right to
    left, route[k] = max over words s[k:x+1] of log(count or 1) - log(total) + route[x+1], ties
    going to the longer word; a position where no word starts falls back to its single char.
    """

    cdef Table children  # (node << 32 | code point) -> child node
    cdef uint32_t* root_children  # BMP code point -> child of the root: the first step, without hashing
    cdef double* counts  # node -> count of the word ending there (0: not a word)
    cdef double* log_counts  # node -> log(count), kept beside counts for the DP
    cdef size_t nodes_used
    cdef size_t nodes_allocated
    cdef public double total
    cdef readonly size_t num_words
    cdef uint32_t* parents  # node -> its parent: with last_chars, a node's word, read backwards
    cdef Py_UCS4* last_chars  # node -> the char that leads to it from its parent

    def __cinit__(self):
        if table_init(&self.children, MIN_CAPACITY) != 0:
            raise MemoryError()
        self.nodes_allocated = 1024
        self.counts = <double*>calloc(self.nodes_allocated, sizeof(double))
        self.log_counts = <double*>calloc(self.nodes_allocated, sizeof(double))
        self.root_children = <uint32_t*>calloc(ROOT_FANOUT, sizeof(uint32_t))
        self.parents = <uint32_t*>calloc(self.nodes_allocated, sizeof(uint32_t))
        self.last_chars = <Py_UCS4*>calloc(self.nodes_allocated, sizeof(Py_UCS4))
        if (self.counts == NULL or self.log_counts == NULL or self.root_children == NULL or self.parents == NULL
                or self.last_chars == NULL):
            raise MemoryError()
        self.nodes_used = 2  # node 0 = none, node 1 = root
        self.total = 0.0
        self.num_words = 0

    def __dealloc__(self):
        table_free(&self.children)
        free(self.counts)
        free(self.log_counts)
        free(self.root_children)
        free(self.parents)
        free(self.last_chars)

    def __len__(self):
        return self.num_words

    cdef size_t _walk(self, str word, bint create) except? 0:
        cdef size_t node = 1, i, slot
        cdef uint64_t key, h
        cdef Py_UCS4 ch
        for ch in word:
            key = ((<uint64_t>node) << 32) | (<uint64_t>ch)
            h = mix64(key)
            slot = table_find(&self.children, key, h)
            if self.children.entries[slot].key == key:
                node = self.children.entries[slot].val
                continue
            if not create:
                return 0
            if self.nodes_used == self.nodes_allocated:
                self.counts = <double*>grow_array(self.counts, self.nodes_allocated, sizeof(double))
                self.log_counts = <double*>grow_array(self.log_counts, self.nodes_allocated, sizeof(double))
                self.parents = <uint32_t*>grow_array(self.parents, self.nodes_allocated, sizeof(uint32_t))
                self.last_chars = <Py_UCS4*>grow_array(self.last_chars, self.nodes_allocated, sizeof(Py_UCS4))
                self.nodes_allocated *= 2
            table_add(&self.children, key, h, <uint32_t>self.nodes_used)
            if self.children.failed:
                raise MemoryError()
            if node == 1 and ch < ROOT_FANOUT:
                self.root_children[ch] = <uint32_t>self.nodes_used
            self.parents[self.nodes_used] = <uint32_t>node
            self.last_chars[self.nodes_used] = ch
            node = self.nodes_used
            self.nodes_used += 1
        return node

    def set_count(self, str word, double count):
        """Set a word's count (0 removes it); total follows."""
        self._set_count(word, count)

    cdef int _set_count(self, str word, double count) except -1:
        if not word:
            raise ValueError("empty word")
        if count < 0:
            raise ValueError("negative count")
        cdef size_t node = self._walk(word, count > 0)
        if node == 0:
            return 0
        if self.counts[node] > 0:
            self.num_words -= 1
        if count > 0:
            self.num_words += 1
        self.total += count - self.counts[node]
        self.counts[node] = count
        self.log_counts[node] = log(count) if count > 0 else 0.0
        return 0

    def to_bytes(self):
        """The whole lattice as bytes, for ``from_bytes``: a cache of a large dictionary (jieba's
        349,046 words load from it in milliseconds instead of being parsed and inserted)."""
        cdef size_t n = self.nodes_used
        header = _LATTICE_HEADER.pack(_LATTICE_MAGIC, n, self.children.capacity, self.children.size,
                                      self.total, self.num_words)
        return b"".join([header,
                         (<char*>self.children.entries)[:self.children.capacity * sizeof(Entry)],
                         (<char*>self.root_children)[:ROOT_FANOUT * sizeof(uint32_t)],
                         (<char*>self.counts)[:n * sizeof(double)],
                         (<char*>self.log_counts)[:n * sizeof(double)],
                         (<char*>self.parents)[:n * sizeof(uint32_t)],
                         (<char*>self.last_chars)[:n * sizeof(Py_UCS4)]])

    @staticmethod
    def from_bytes(bytes data):
        """The lattice ``to_bytes`` wrote; ValueError for bytes of anything else."""
        cdef Py_ssize_t head = _LATTICE_HEADER.size
        if len(data) < head:
            raise ValueError("not a word lattice")
        magic, n, capacity, used, total, num_words = _LATTICE_HEADER.unpack_from(data)
        cdef size_t table_bytes = capacity * sizeof(Entry), root_bytes = ROOT_FANOUT * sizeof(uint32_t)
        cdef size_t expected = head + table_bytes + root_bytes + n * (2 * sizeof(double) + sizeof(uint32_t)
                                                                      + sizeof(Py_UCS4))
        if magic != _LATTICE_MAGIC or <size_t>len(data) != expected or n < 2 or capacity < MIN_CAPACITY:
            raise ValueError("not a word lattice of this version")
        cdef const char* raw = data
        cdef WordLattice lattice = WordLattice()
        table_free(&lattice.children)
        if table_init(&lattice.children, capacity) != 0 or lattice.children.capacity != capacity:
            raise MemoryError()
        cdef size_t offset = head
        memcpy(lattice.children.entries, raw + offset, table_bytes)
        lattice.children.size = used
        offset += table_bytes
        memcpy(lattice.root_children, raw + offset, root_bytes)
        offset += root_bytes
        cdef size_t allocated = n if n > 1024 else 1024
        free(lattice.counts)
        free(lattice.log_counts)
        free(lattice.parents)
        free(lattice.last_chars)
        lattice.counts = <double*>calloc(allocated, sizeof(double))
        lattice.log_counts = <double*>calloc(allocated, sizeof(double))
        lattice.parents = <uint32_t*>calloc(allocated, sizeof(uint32_t))
        lattice.last_chars = <Py_UCS4*>calloc(allocated, sizeof(Py_UCS4))
        if lattice.counts == NULL or lattice.log_counts == NULL or lattice.parents == NULL or lattice.last_chars == NULL:
            raise MemoryError()
        lattice.nodes_allocated = allocated
        memcpy(lattice.counts, raw + offset, n * sizeof(double))
        offset += n * sizeof(double)
        memcpy(lattice.log_counts, raw + offset, n * sizeof(double))
        offset += n * sizeof(double)
        memcpy(lattice.parents, raw + offset, n * sizeof(uint32_t))
        offset += n * sizeof(uint32_t)
        memcpy(lattice.last_chars, raw + offset, n * sizeof(Py_UCS4))
        lattice.nodes_used = n
        lattice.total = total
        lattice.num_words = num_words
        return lattice

    def add_count(self, str word, double amount):
        self.set_count(word, self.get_count(word) + amount)

    def load_dictionary(self, str text):
        """The words of a jieba dictionary's text, ``word count [tag]`` per line, each set as
        set_count sets it, with total the sum of every line's count, as jieba's gen_pfdict makes
        it. Returns 0, or the number of the first line not of that form (nothing is then set)."""
        cdef Py_ssize_t n = len(text), start = 0, end, space, stop
        cdef Py_ssize_t line = 0
        cdef double total = 0.0
        cdef list entries = []
        while start < n:
            end = text.find("\n", start)
            if end < 0:
                end = n
            line += 1
            if end > start and not (end == start + 1 and text[start] == "\r"):
                space = text.find(" ", start, end)
                if space <= start:
                    return line
                stop = text.find(" ", space + 1, end)
                if stop < 0:
                    stop = end
                try:
                    count = int(text[space + 1:stop])
                except ValueError:
                    return line
                entries.append((text[start:space], count))
                total += count
            start = end + 1
        for word, count in entries:
            self._set_count(word, <double>count)
        self.total = total
        return 0

    def get_count(self, str word):
        cdef size_t node = self._walk(word, False) if word else 0
        return self.counts[node] if node else 0.0

    def __contains__(self, str word):
        return self.get_count(word) > 0

    cdef void _route(self, const Py_UCS4* text, Py_ssize_t start, Py_ssize_t end, double* route,
                     Py_ssize_t* nxt, size_t* nodes) noexcept nogil:
        """The DP on text[start:end]: nxt[k] is where the best path's word starting at k ends, and
        nodes[k] (when nodes is not NULL) that word's node, 0 for an unknown single char."""
        cdef Py_ssize_t k, x, best_x
        cdef double log_total = log(self.total) if self.total > 0 else 0.0
        cdef double best, score
        cdef size_t node, slot, best_node
        cdef uint64_t key
        cdef Py_UCS4 ch
        route[end] = 0.0
        for k in range(end - 1, start - 1, -1):
            best = -INFINITY
            best_x = -1
            best_node = 0
            node = 1
            for x in range(k, end):
                ch = text[x]
                if node == 1 and ch < ROOT_FANOUT:
                    node = self.root_children[ch]
                    if node == 0:
                        break
                else:
                    key = ((<uint64_t>node) << 32) | (<uint64_t>ch)
                    slot = table_find(&self.children, key, mix64(key))
                    if self.children.entries[slot].key != key:
                        break
                    node = self.children.entries[slot].val
                if self.counts[node] > 0:
                    score = (self.log_counts[node] - log_total) + route[x + 1]
                    if best_x < 0 or score >= best:
                        best = score
                        best_x = x
                        best_node = node
            if best_x < 0:
                best = (0.0 - log_total) + route[k + 1]  # log(1): an unknown single char
                best_x = k
            route[k] = best
            nxt[k] = best_x + 1
            if nodes != NULL:
                nodes[k] = best_node

    def cut(self, str text):
        """The words of text along the maximum-probability path."""
        cdef Py_ssize_t n = len(text), k
        cdef list words = []
        if n == 0:
            return words
        cdef Py_UCS4* chars = PyUnicode_AsUCS4Copy(text)
        cdef double* route = <double*>malloc((n + 1) * sizeof(double))
        cdef Py_ssize_t* nxt = <Py_ssize_t*>malloc((n + 1) * sizeof(Py_ssize_t))
        if route == NULL or nxt == NULL:
            PyMem_Free(chars)
            free(route)
            free(nxt)
            raise MemoryError()
        self._route(chars, 0, n, route, nxt, NULL)
        PyMem_Free(chars)
        k = 0
        while k < n:
            words.append(text[k:nxt[k]])
            k = nxt[k]
        free(route)
        free(nxt)
        return words

    cdef str _word_of(self, size_t node):
        """The word whose path through the trie ends at node."""
        cdef size_t size = 0, i, up = node
        while up > 1:
            size += 1
            up = self.parents[up]
        cdef Py_UCS4* chars = <Py_UCS4*>malloc(size * sizeof(Py_UCS4) + 1)
        if chars == NULL:
            raise MemoryError()
        i = size
        while node > 1:
            i -= 1
            chars[i] = self.last_chars[node]
            node = self.parents[node]
        try:
            return PyUnicode_FromKindAndData(PyUnicode_4BYTE_KIND, chars, <Py_ssize_t>size)
        finally:
            free(chars)

    def words(self):
        """{word: count} of every word in the lexicon."""
        cdef size_t node
        return {self._word_of(node): self.counts[node] for node in range(2, self.nodes_used) if self.counts[node] > 0}

    def remove_redundancy(self, list candidates, passes_check, double threshold):
        """Eq. 2.17 over candidates in order (longest first): w stays when
        ln(p_w / ∏ p_i) > threshold for its best split w = i1 i2 ... into the other words (a part
        not in the lexicon counts 1); otherwise, or when its ``passes_check`` is false, its count
        moves to its parts. Returns the score of each candidate that stays."""
        cdef dict scores = {}
        cdef str word
        cdef Py_ssize_t n, k, i
        cdef size_t node
        cdef double count, log_total, score
        cdef Py_UCS4* chars
        cdef double route[MAX_WORD + 1]
        cdef Py_ssize_t nxt[MAX_WORD + 1]
        cdef size_t parts[MAX_WORD + 1]
        for i in range(len(candidates)):
            word = candidates[i]
            n = len(word)
            if n > MAX_WORD:
                raise ValueError(f"a candidate longer than {MAX_WORD} characters: {word!r}")
            node = self._walk(word, False)
            count = self.counts[node] if node else 0.0
            self.set_count(word, 0.0)
            chars = PyUnicode_AsUCS4Copy(word)
            self._route(chars, 0, n, route, nxt, parts)
            PyMem_Free(chars)
            keep = bool(passes_check[i]) and count > 0
            if keep:
                log_total = log(self.total + count)
                score = log(count) - log_total
                k = 0
                while k < n:  # a count below 1 (an unknown single char: node 0) counts 1: log 1 = 0
                    score -= (self.log_counts[parts[k]] if self.counts[parts[k]] > 1.0 else 0.0) - log_total
                    k = nxt[k]
                keep = score > threshold
            if keep:
                self.set_count(word, count)
                scores[word] = score
            elif count > 0:
                k = 0
                while k < n:
                    if parts[k]:
                        self._add_to_node(parts[k], count)
                    else:  # an unknown char, which may occur twice in word: add, not set
                        self.add_count(word[k:nxt[k]], count)
                    k = nxt[k]
        return scores

    cdef void _add_to_node(self, size_t node, double amount) noexcept:
        self.total += amount
        self.counts[node] += amount
        self.log_counts[node] = log(self.counts[node])

    @property
    def tally_size(self):
        """The length of a tally array for ``count_words``."""
        return self.nodes_used

    def count_words(self, const uint16_t[::1] ids, const uint32_t[::1] codepoints, double[::1] tally):
        """Cut every sentence of an encoded corpus chunk (char ids, 0 = a break; ``codepoints``
        maps an id to its character) along the maximum-probability path and add 1 to
        ``tally[word's index]`` for each lexicon word on it (unknown single chars are not counted).
        Runs without the GIL: threads may count chunks at once, each into its own tally."""
        cdef Py_ssize_t n = ids.shape[0], i, start, k
        if tally.shape[0] < <Py_ssize_t>self.nodes_used:
            raise ValueError("tally is shorter than tally_size")
        cdef Py_UCS4* chars = <Py_UCS4*>malloc((n + 1) * sizeof(Py_UCS4))
        cdef double* route = <double*>malloc((n + 1) * sizeof(double))
        cdef Py_ssize_t* nxt = <Py_ssize_t*>malloc((n + 1) * sizeof(Py_ssize_t))
        cdef size_t* nodes = <size_t*>malloc((n + 1) * sizeof(size_t))
        if chars == NULL or route == NULL or nxt == NULL or nodes == NULL:
            free(chars)
            free(route)
            free(nxt)
            free(nodes)
            raise MemoryError()
        with nogil:
            for i in range(n):
                chars[i] = codepoints[ids[i]]
            start = 0
            for i in range(n + 1):
                if i < n and ids[i] != 0:
                    continue
                if i > start:
                    self._route(chars, start, i, route, nxt, nodes)
                    k = start
                    while k < i:
                        tally[nodes[k]] += 1.0
                        k = nxt[k]
                start = i + 1
        tally[0] = 0.0  # node 0: unknown single chars
        free(chars)
        free(route)
        free(nxt)
        free(nodes)

    def tally_words(self, tallies, double min_count=1.0):
        """{word: count} of the tallies filled by ``count_words``, summed, for counts of at least min_count."""
        cdef double[::1] total = array.clone(_pyarray.array("d"), self.nodes_used, zero=True)
        cdef double[::1] tally
        cdef size_t node
        for each in tallies:
            tally = each
            for node in range(min(<size_t>tally.shape[0], self.nodes_used)):
                total[node] += tally[node]
        return {self._word_of(node): total[node] for node in range(2, self.nodes_used)
                if total[node] >= min_count and total[node] > 0}

    cdef Py_ssize_t _jieba_ends(self, const Py_UCS4* text, Py_ssize_t n, double* route, Py_ssize_t* nxt,
                                Py_ssize_t* ends) noexcept:
        """Where each word of ``jieba.lcut(text, HMM=False)`` ends; returns the number of words."""
        cdef Py_ssize_t i = 0, j, k, y, m = 0
        cdef bint in_run
        cdef Py_UCS4 ch
        while i < n:
            ch = text[i]
            if not is_jieba_block_char(ch):
                i += 2 if (ch == u'\r' and i + 1 < n and text[i + 1] == u'\n') else 1
                ends[m] = i
                m += 1
                continue
            j = i + 1
            while j < n and is_jieba_block_char(text[j]):
                j += 1
            self._route(text, i, j, route, nxt, NULL)
            k = i
            in_run = False  # inside a run of single ASCII letters/digits, joined into one word
            while k < j:
                y = nxt[k]
                if y == k + 1 and is_ascii_alnum(text[k]):
                    in_run = True
                else:
                    if in_run:
                        ends[m] = k
                        m += 1
                        in_run = False
                    ends[m] = y
                    m += 1
                k = y
            if in_run:
                ends[m] = j
                m += 1
            i = j
        return m

    cdef Py_ssize_t* _word_ends(self, str text, Py_ssize_t n, Py_ssize_t* count) except NULL:
        """The end of each word of jieba's cut of text (n > 0 characters), in a buffer the caller
        frees; count receives the number of words."""
        cdef Py_UCS4* chars = PyUnicode_AsUCS4Copy(text)
        cdef double* route = <double*>malloc((n + 1) * sizeof(double))
        cdef Py_ssize_t* nxt = <Py_ssize_t*>malloc((n + 1) * sizeof(Py_ssize_t))
        cdef Py_ssize_t* ends = <Py_ssize_t*>malloc(n * sizeof(Py_ssize_t))  # at most one word per char
        if route == NULL or nxt == NULL or ends == NULL:
            PyMem_Free(chars)
            free(route)
            free(nxt)
            free(ends)
            raise MemoryError()
        count[0] = self._jieba_ends(chars, n, route, nxt, ends)
        PyMem_Free(chars)
        free(route)
        free(nxt)
        return ends

    def cut_jieba(self, str text):
        """``jieba.lcut(text, HMM=False)``: the DP inside each run of jieba's block characters
        ([\\u4E00-\\u9FD5a-zA-Z0-9+#&._%-]), where consecutive single ASCII letters or digits
        on the path join into one word; outside the runs every character is a word, except
        that \\r\\n stays together."""
        cdef Py_ssize_t n = len(text), m = 0, w, start = 0
        cdef list words = []
        if n == 0:
            return words
        cdef Py_ssize_t* ends = self._word_ends(text, n, &m)
        for w in range(m):
            words.append(text[start:ends[w]])
            start = ends[w]
        free(ends)
        return words

    def encode_jieba(self, str text, dict pieces, bint offsets=False, bint word_ids=False, object on_missing=None):
        """Cut as ``cut_jieba`` and map each word through ``pieces`` (word -> flat tuple
        ``(id, start, end, id, start, end, ...)``, spans relative to the word).

        Returns (ids, spans, word_indices, missing): spans flat ``[start, end, ...]`` in ``text``
        when ``offsets``, the index of each token's word when ``word_ids`` (else None), and the
        words absent from ``pieces`` (when there are any, the other results are incomplete).
        With ``on_missing``, a word absent from ``pieces`` is passed to it instead, and the flat
        tuple it returns is used (it may add the word to ``pieces``); ``missing`` stays empty.
        """
        cdef Py_ssize_t n = len(text), m = 0, w, j, size, start = 0, end
        cdef list ids = [], missing = []
        cdef list spans = [] if offsets else None
        cdef list indices = [] if word_ids else None
        cdef PyObject* found
        cdef tuple entry
        cdef str word
        if n == 0:
            return ids, spans, indices, missing
        cdef Py_ssize_t* ends = self._word_ends(text, n, &m)
        try:
            for w in range(m):
                end = ends[w]
                word = text[start:end]
                found = PyDict_GetItem(pieces, word)
                if found == NULL and on_missing is None:
                    missing.append(word)
                else:
                    entry = <tuple>found if found != NULL else on_missing(word)
                    size = len(entry)
                    for j in range(0, size, 3):
                        ids.append(entry[j])
                        if offsets:
                            spans.append(start + <Py_ssize_t>entry[j + 1])
                            spans.append(start + <Py_ssize_t>entry[j + 2])
                        if word_ids:
                            indices.append(w)
                start = end
        finally:
            free(ends)
        return ids, spans, indices, missing


cdef inline bint is_ascii_alnum(Py_UCS4 ch) noexcept nogil:
    return (u'0' <= ch <= u'9') or (u'a' <= ch <= u'z') or (u'A' <= ch <= u'Z')


cdef inline bint is_jieba_block_char(Py_UCS4 ch) noexcept nogil:
    return (0x4E00 <= ch <= 0x9FD5 or is_ascii_alnum(ch) or ch == u'+' or ch == u'#' or ch == u'&'
            or ch == u'.' or ch == u'_' or ch == u'%' or ch == u'-')
