# Included by _kernels.pyx (one extension, one file per structure, as msgpack's _cmsgpack.pyx):
# n-gram counting and the cohesive set. Its pure-Python twin: pure/ngrams.py.

# ---------------------------------------------------------------------------------------------
# n-gram counting
# ---------------------------------------------------------------------------------------------
cdef inline uint64_t prefix_key(uint64_t key, int n) noexcept nogil:
    return key & ~((<uint64_t>0xFFFFFFFFFFFFFFFF) >> (16 * n))


cdef class NgramCounter:
    """Counts 1..order-grams of character ids; n-grams of 2+ chars live in nparts hash tables.

    When ``max_entries`` is set and the tables together would hold more than that many distinct
    n-grams, the rarest are pruned (see ``prune_floor``): memory stays bounded on any corpus, at
    the price of undercounting n-grams that were pruned before they became frequent.
    """

    cdef Table* tables
    cdef uint64_t* unigrams
    cdef readonly int order
    cdef readonly int nparts
    cdef readonly uint64_t total_chars
    cdef readonly uint64_t total_pairs
    cdef readonly size_t max_entries
    cdef readonly uint32_t prune_floor  # entries below this value were dropped at some point (1: none)
    # mixed into every hash: a counter filled from another's export (slot order, i.e. hash order)
    # would otherwise fill its growing table from one end and probe quadratically
    cdef uint64_t salt

    def __cinit__(self, int order=4, int nparts=1, size_t max_entries=0, size_t expected_entries=0):
        cdef int p
        if order < 1 or order > 4:
            raise ValueError(f"order must be 1..4, got {order}")
        if nparts < 1 or nparts > 64:
            raise ValueError(f"nparts must be 1..64, got {nparts}")
        self.order = order
        self.nparts = nparts
        self.max_entries = max_entries
        self.prune_floor = 1
        self.total_chars = 0
        self.total_pairs = 0
        self.salt = int.from_bytes(_os.urandom(8), "little")
        self.unigrams = <uint64_t*>calloc(65536, sizeof(uint64_t))
        self.tables = <Table*>calloc(nparts, sizeof(Table))
        if self.unigrams == NULL or self.tables == NULL:
            raise MemoryError()
        for p in range(nparts):
            if table_init(&self.tables[p], (expected_entries // nparts) * 4 // 3 + 1, self.salt) != 0:
                raise MemoryError("cannot allocate the n-gram table")

    def __dealloc__(self):
        cdef int p
        if self.tables != NULL:
            for p in range(self.nparts):
                table_free(&self.tables[p])
        free(self.tables)
        free(self.unigrams)

    def __len__(self):
        cdef size_t n = 0
        cdef int p
        for p in range(self.nparts):
            n += self.tables[p].size
        return n

    @property
    def memory_bytes(self):
        cdef size_t n = 65536 * 8
        cdef int p
        for p in range(self.nparts):
            n += self.tables[p].capacity * sizeof(Entry)
        return n

    def count(self, const uint16_t[::1] ids, int part=0):
        """Count the n-grams of ids that fall in partition `part` (part 0 also counts unigrams).

        Threads may call this at once with different parts: the GIL is released.
        """
        cdef Table* t = &self.tables[part]
        cdef Py_ssize_t n = ids.shape[0], i, k
        cdef uint64_t key, c
        cdef size_t limit = self.max_entries // self.nparts if self.max_entries else 0
        cdef int order = self.order
        cdef uint64_t added_chars = 0
        cdef uint64_t batch_keys[BATCH]
        cdef uint64_t batch_hashes[BATCH]
        cdef int queued = 0
        if part < 0 or part >= self.nparts:
            raise ValueError(f"part must be 0..{self.nparts - 1}")
        with nogil:
            for i in range(n):
                c = ids[i]
                if c == 0:
                    continue
                if part == 0:
                    self.unigrams[c] += 1
                    added_chars += 1
                key = c << 48
                for k in range(1, order):
                    if i + k >= n or ids[i + k] == 0:
                        break
                    key |= (<uint64_t>ids[i + k]) << (48 - 16 * k)
                    if not self._enqueue(t, key, part, batch_keys, batch_hashes, &queued, limit):
                        break
                if t.failed:
                    break
            if queued and not t.failed:
                self._count_batch(t, batch_keys, batch_hashes, queued, limit)
        if part == 0:
            self.total_chars += added_chars
        if t.failed:
            raise MemoryError("out of memory while counting n-grams; lower --max-ngrams")

    cdef inline bint _enqueue(self, Table* t, uint64_t key, int part, uint64_t* keys, uint64_t* hashes,
                              int* queued, size_t limit) noexcept nogil:
        """Queue key if it falls in partition `part`, prefetching its slot; count the queue when it
        is full, so BATCH cache misses are in flight at once instead of one. False: out of memory."""
        cdef uint64_t h
        if self.nparts > 1 and partition_of(mix64(key), <uint32_t>self.nparts) != <uint32_t>part:
            return True
        h = table_hash(t, key)
        keys[queued[0]] = key
        hashes[queued[0]] = h
        ZHNLP_PREFETCH(&t.entries[ZHNLP_SLOT(h, t.capacity)])
        queued[0] += 1
        if queued[0] == BATCH:
            self._count_batch(t, keys, hashes, queued[0], limit)
            queued[0] = 0
        return not t.failed

    cdef void _count_batch(self, Table* t, const uint64_t* keys, const uint64_t* hashes, int count,
                           size_t limit) noexcept nogil:
        cdef int j
        cdef uint32_t floor
        for j in range(count):
            if table_add(t, keys[j], hashes[j], 1) and limit and t.size > limit:
                floor = self.prune_floor
                while t.size > limit // 2:
                    floor = floor * 2
                    table_prune(t, floor)
                if floor > self.prune_floor:
                    self.prune_floor = floor
            if t.failed:
                return

    cdef inline Table* _table_of(self, uint64_t key) noexcept nogil:
        """The partition of a key: from its unsalted hash, so that it is the pure twin's (pruning
        is per partition); the slot inside comes from the salted one (table_hash)."""
        if self.nparts == 1:
            return &self.tables[0]
        return &self.tables[partition_of(mix64(key), <uint32_t>self.nparts)]

    cdef uint64_t _get(self, uint64_t key, int n) noexcept nogil:
        if n == 1:
            return self.unigrams[key >> 48]
        return table_get(self._table_of(key), key)

    def get(self, ngram):
        """Count of an n-gram given as a sequence of char ids."""
        cdef int n = len(ngram)
        if n < 1 or n > self.order:
            return 0
        return self._get(pack_ids(ngram), n)

    def to_dict(self):
        """{tuple of ids: count} for every counted n-gram (unigrams included)."""
        cdef dict out = {}
        cdef int p
        cdef size_t i
        cdef Table* t
        for i in range(1, 65536):
            if self.unigrams[i]:
                out[(i,)] = self.unigrams[i]
        for p in range(self.nparts):
            t = &self.tables[p]
            for i in range(t.capacity):
                if t.entries[i].key != 0:
                    out[unpack_key(t.entries[i].key)] = t.entries[i].val
        return out

    def export(self, uint64_t min_count=1):
        """(keys, counts), two array('Q'): every n-gram (unigrams included) seen at least min_count
        times, as packed keys, in no set order. ``add_counts`` takes them back: this is how the
        counts of a byte range travel to the workers that sum them (discovery on Dask)."""
        cdef size_t i, n = 0, j = 0
        cdef int p
        cdef Table* t
        cdef array.array keys, counts
        cdef unsigned long long* out_keys
        cdef unsigned long long* out_counts
        if min_count < 1:
            min_count = 1
        for i in range(1, 65536):
            n += self.unigrams[i] >= min_count
        for p in range(self.nparts):
            t = &self.tables[p]
            for i in range(t.capacity):
                n += t.entries[i].key != 0 and t.entries[i].val >= min_count
        keys = array.clone(_COUNT_TEMPLATE, n, zero=False)
        counts = array.clone(_COUNT_TEMPLATE, n, zero=False)
        out_keys, out_counts = keys.data.as_ulonglongs, counts.data.as_ulonglongs
        for i in range(1, 65536):
            if self.unigrams[i] >= min_count:
                out_keys[j], out_counts[j] = (<uint64_t>i) << 48, self.unigrams[i]
                j += 1
        for p in range(self.nparts):
            t = &self.tables[p]
            for i in range(t.capacity):
                if t.entries[i].key != 0 and t.entries[i].val >= min_count:
                    out_keys[j], out_counts[j] = t.entries[i].key, t.entries[i].val
                    j += 1
        return keys, counts

    def add_counts(self, const uint64_t[::1] keys, const uint64_t[::1] counts):
        """Add counts given as packed keys (what ``export`` returns): a unigram's to its count and to
        total_chars, an n-gram's to its partition. Never prunes."""
        cdef Py_ssize_t i, n = keys.shape[0]
        cdef uint64_t key, h
        cdef int order
        cdef Table* t
        cdef size_t wanted
        cdef int p
        if counts.shape[0] != n:
            raise ValueError(f"{n} keys but {counts.shape[0]} counts")
        for p in range(self.nparts):  # room for all of them at once: growing step by step rehashes often
            wanted = (self.tables[p].size + n // self.nparts + 1) * 4 // 3 + 1
            if self.tables[p].capacity < wanted and table_rehash(&self.tables[p], wanted) != 0:
                raise MemoryError("out of memory while adding n-gram counts")
        cdef uint64_t batch_keys[BATCH]
        cdef uint64_t batch_hashes[BATCH]
        cdef uint32_t batch_counts[BATCH]
        cdef Table* batch_tables[BATCH]
        cdef int queued = 0, j
        for i in range(n + 1):
            if i < n:
                key = keys[i]
                order = key_order(key)
                if order == 0 or order > self.order or (order < 4 and key & ((<uint64_t>1 << (64 - 16 * order)) - 1)):
                    raise ValueError(f"not a packed n-gram of 1..{self.order} chars: {key:#x}")
                if counts[i] > 0xFFFFFFFF:
                    raise ValueError(f"a count over 2**32 - 1: {counts[i]}")
                if order == 1:
                    self.unigrams[key >> 48] += counts[i]
                    self.total_chars += counts[i]
                    continue
                t = self._table_of(key)
                h = table_hash(t, key)
                ZHNLP_PREFETCH(&t.entries[ZHNLP_SLOT(h, t.capacity)])  # BATCH cache misses in flight at once
                batch_keys[queued], batch_hashes[queued] = key, h
                batch_counts[queued], batch_tables[queued] = <uint32_t>counts[i], t
                queued += 1
            if queued == BATCH or (i == n and queued):
                for j in range(queued):
                    table_add(batch_tables[j], batch_keys[j], batch_hashes[j], batch_counts[j])
                    if batch_tables[j].failed:
                        raise MemoryError("out of memory while adding n-gram counts")
                queued = 0

    cdef double _pmi(self, uint64_t key, int n, int split, double log_total, uint64_t count) noexcept nogil:
        cdef uint64_t left = self._get(prefix_key(key, split), split)
        cdef uint64_t right = self._get(key << (16 * split), n - split)
        if left == 0 or right == 0:
            return -INFINITY
        return log(<double>count) + log_total - log(<double>left) - log(<double>right)

    def cohesive(self, uint32_t min_count, thresholds):
        """The n-grams (n >= 2) seen at least min_count times whose weakest binary split still has
        ln(N f(w) / (f(a) f(b))) >= thresholds[n]. Returns (NgramSet, {n: how many kept})."""
        cdef double thr[5]
        cdef int n, split, p
        cdef size_t i
        cdef uint64_t key
        cdef double log_total, worst, pmi
        cdef Table* t
        cdef NgramSet kept = NgramSet()
        cdef size_t kept_by_order[5]
        memset(kept_by_order, 0, sizeof(kept_by_order))
        for n in range(5):
            thr[n] = INFINITY
        for n in range(2, self.order + 1):
            thr[n] = float(thresholds[n])
        log_total = log(<double>self.total_chars) if self.total_chars else 0.0
        for p in range(self.nparts):
            t = &self.tables[p]
            for i in range(t.capacity):
                key = t.entries[i].key
                if key == 0 or t.entries[i].val < min_count:
                    continue
                n = key_order(key)
                worst = INFINITY
                for split in range(1, n):
                    pmi = self._pmi(key, n, split, log_total, t.entries[i].val)
                    if pmi < worst:
                        worst = pmi
                if worst >= thr[n]:
                    kept._add(key)
                    kept_by_order[n] += 1
        if kept.table.failed:
            raise MemoryError()
        return kept, {n: kept_by_order[n] for n in range(2, self.order + 1)}

    # -- word pairs (最小熵原理(三)): a counter holds either char n-grams or word pairs, not both --

    def count_pairs(self, const uint32_t[::1] ids, int window, const uint8_t[::1] eligible, int part=0):
        """Count ordered word pairs (a, b), b at most `window` words after a in one sentence.

        ids are word ids (0 = sentence break), keyed a << 32 | b in the same partitioned tables as
        n-grams. Only pairs of two eligible words (eligible[id] != 0) are stored; ``total_pairs``
        (part 0) counts every pair, stored or not. Threads may count different parts at once.
        """
        cdef Table* t
        cdef Py_ssize_t n = ids.shape[0], i, j, stop, sent_end = 0
        cdef Py_ssize_t n_eligible = eligible.shape[0]
        cdef uint64_t a, b, seen = 0
        cdef uint64_t batch_keys[BATCH]
        cdef uint64_t batch_hashes[BATCH]
        cdef int queued = 0
        if part < 0 or part >= self.nparts:
            raise ValueError(f"part must be 0..{self.nparts - 1}")
        if window < 1:
            raise ValueError(f"window must be at least 1, got {window}")
        t = &self.tables[part]
        with nogil:
            for i in range(n):
                a = ids[i]
                if a == 0:
                    continue
                if sent_end <= i:
                    sent_end = i
                    while sent_end < n and ids[sent_end] != 0:
                        sent_end += 1
                stop = i + 1 + window
                if stop > sent_end:
                    stop = sent_end
                seen += stop - i - 1
                if <Py_ssize_t>a >= n_eligible or not eligible[a]:
                    continue
                for j in range(i + 1, stop):
                    b = ids[j]
                    if <Py_ssize_t>b >= n_eligible or not eligible[b]:
                        continue
                    if not self._enqueue(t, (a << 32) | b, part, batch_keys, batch_hashes, &queued, 0):
                        break
                if t.failed:
                    break
            if queued and not t.failed:
                self._count_batch(t, batch_keys, batch_hashes, queued, 0)
        if part == 0:
            self.total_pairs += seen
        if t.failed:
            raise MemoryError("out of memory while counting word pairs")

    def get_pair(self, uint32_t a, uint32_t b):
        cdef uint64_t key = ((<uint64_t>a) << 32) | b
        return table_get(self._table_of(key), key)

    def strong_pairs(self, const uint64_t[::1] word_counts, double total_words, double min_prob,
                     double min_pmi):
        """The counted pairs with p_ab > min_prob and ln(p_ab / (p_a p_b)) > min_pmi, where
        p_ab = count / total_pairs and p_a = word_counts[a] / total_words. Returns an NgramSet."""
        cdef NgramSet kept = NgramSet()
        cdef double log_pairs, log_words, log_min, log_p
        cdef int p
        cdef size_t i
        cdef uint64_t key, a, b
        cdef Table* t
        if self.total_pairs == 0 or total_words <= 0:
            return kept
        cdef size_t n_counts = word_counts.shape[0]
        log_pairs = log(<double>self.total_pairs)
        log_words = log(total_words)
        log_min = log(min_prob)
        for p in range(self.nparts):
            t = &self.tables[p]
            for i in range(t.capacity):
                key = t.entries[i].key
                if key == 0:
                    continue
                log_p = log(<double>t.entries[i].val) - log_pairs
                if log_p <= log_min:
                    continue
                a = key >> 32
                b = key & 0xFFFFFFFF
                if a >= n_counts or b >= n_counts:
                    raise ValueError(f"word_counts has no entry for word id {max(a, b)}")
                if (log_p - (log(<double>word_counts[a]) - log_words)
                        - (log(<double>word_counts[b]) - log_words)) > min_pmi:
                    kept._add(key)
        if kept.table.failed:
            raise MemoryError()
        return kept

    cdef double link_pmi(self, uint16_t a, uint16_t b, double log_total) noexcept nogil:
        cdef uint64_t key = ((<uint64_t>a) << 48) | ((<uint64_t>b) << 32)
        cdef uint64_t ab = self._get(key, 2)
        if ab == 0 or self.unigrams[a] == 0 or self.unigrams[b] == 0:
            return -INFINITY
        return log(<double>ab) + log_total - log(<double>self.unigrams[a]) - log(<double>self.unigrams[b])


cdef array.array _COUNT_TEMPLATE = _pyarray.array('Q')


cdef class NgramSet:
    """A set of packed n-gram keys (the cohesive n-grams)."""

    cdef Table table

    def __cinit__(self):
        if table_init(&self.table, MIN_CAPACITY, <uint64_t>0x5851F42D4C957F2D) != 0:
            raise MemoryError()

    def __dealloc__(self):
        table_free(&self.table)

    cdef inline void _add(self, uint64_t key) noexcept nogil:
        table_add(&self.table, key, table_hash(&self.table, key), 1)

    cdef inline bint _has(self, uint64_t key) noexcept nogil:
        return table_get(&self.table, key) != 0

    def add(self, ngram):
        self._add(pack_ids(ngram))

    def add_pair(self, uint32_t a, uint32_t b):
        self._add(((<uint64_t>a) << 32) | b)

    def has_pair(self, uint32_t a, uint32_t b):
        return self._has(((<uint64_t>a) << 32) | b)

    def __contains__(self, ngram):
        return len(ngram) >= 1 and len(ngram) <= 4 and self._has(pack_ids(ngram))

    def covers(self, list words, CharVocab vocab, int low, int high):
        """For each word: is every substring of low..high chars of it in the set (the check back of
        discovery)? Words shorter than low pass."""
        cdef list result = []
        cdef str word
        cdef Py_ssize_t n, i, k, size
        cdef uint64_t key
        cdef uint16_t ids[8]
        cdef bint ok
        if high > 4:
            raise ValueError("n-grams have at most 4 chars")
        for word in words:
            size = len(word)
            if size > 8:
                raise ValueError(f"a word longer than 8 characters: {word!r}")
            ok = True
            for i in range(size):
                ids[i] = vocab.table[<Py_UCS4>word[i]]
                if ids[i] == SEPARATOR or ids[i] == 0:  # a non-word or unseen character is in no n-gram,
                    ok = size < low  # so neither is a substring holding it (0 would end a shorter n-gram's key)
            for n in range(low, min(size, high) + 1 if ok else 0):
                for i in range(size - n + 1):
                    key = 0
                    for k in range(n):
                        key |= (<uint64_t>ids[i + k]) << (48 - 16 * k)
                    if not self._has(key):
                        ok = False
                        break
                if not ok:
                    break
            result.append(ok)
        return result

    def __len__(self):
        return self.table.size

    def keys(self):
        """The packed n-gram keys (a set of n-grams, not of pairs), an array('Q') in no set order;
        ``add_keys`` of another set takes them back."""
        cdef size_t i, j = 0
        cdef array.array out = array.clone(_COUNT_TEMPLATE, self.table.size, zero=False)
        for i in range(self.table.capacity):
            if self.table.entries[i].key:
                out.data.as_ulonglongs[j] = self.table.entries[i].key
                j += 1
        return out

    def add_keys(self, const uint64_t[::1] keys):
        """Add packed keys (what ``keys`` returns). The table first makes room for all of them: keys
        from a set of the same salt come in slot order, which a growing table would probe quadratically."""
        cdef Py_ssize_t i
        cdef size_t wanted = (self.table.size + keys.shape[0] + 1) * 4 // 3 + 1
        if self.table.capacity < wanted and table_rehash(&self.table, wanted) != 0:
            raise MemoryError()
        for i in range(keys.shape[0]):
            if keys[i] == 0:
                raise ValueError("0 is not a packed key")
            self._add(keys[i])
        if self.table.failed:
            raise MemoryError()

    def to_set(self):
        cdef size_t i
        return {unpack_key(self.table.entries[i].key) for i in range(self.table.capacity) if self.table.entries[i].key}
