# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Compiled kernels: character encoding, n-gram counting, the cohesion cut and the unigram DP.

`zhnlp._native.pure` is the pure-Python twin of this module: same names, same results
(tests/test_native_parity.py proves it). Read that file first: it is the specification, this
one is the same logic in C-speed Cython.

Data layout shared by both:
- a corpus chunk is encoded to an ``array('H')`` of character ids, 0 marking a sentence break;
- an n-gram of up to 4 ids is packed left-aligned into one uint64 (16 bits an id), so keys of
  different orders never collide and a prefix/suffix is a mask/shift away;
- the counter is split into ``nparts`` hash partitions so that ``nparts`` threads can count
  the same chunk at once, each into its own table, without locks or a merge.
"""
from cpython cimport array
from cpython.dict cimport PyDict_GetItem
from cpython.mem cimport PyMem_Free
from cpython.ref cimport PyObject
from libc.math cimport log, INFINITY
from libc.stdint cimport int32_t, int64_t, uint8_t, uint16_t, uint32_t, uint64_t
from libc.stdlib cimport calloc, free, malloc, realloc
from libc.string cimport memcmp, memcpy, memset

import array as _pyarray

from .pure import _check_template  # the same validation for both twins

cdef size_t MIN_CAPACITY = 1024
cdef size_t HUGE_PAGE = 2 << 20
DEF BATCH = 32  # n-grams whose slots are prefetched together before they are counted
cdef uint16_t SEPARATOR = 0xFFFF
cdef size_t MAX_CHAR_ID = 65534  # ids are 16 bits; 0 and 0xFFFF are reserved


cdef inline bint is_word_char(Py_UCS4 ch) noexcept nogil:
    """CJK ideographs (URO, extensions A to H, compatibility) and 〇: what words are made of."""
    return ((0x4E00 <= ch <= 0x9FFF) or (0x3400 <= ch <= 0x4DBF) or (0x20000 <= ch <= 0x323AF)
            or (0xF900 <= ch <= 0xFAFF) or ch == 0x3007)


cdef uint64_t pack_ids(ngram) except? 0:
    cdef uint64_t key = 0
    cdef int k = 0
    for c in ngram:
        if not (1 <= c <= 65534):
            raise ValueError(f"char id out of range: {c}")
        key |= (<uint64_t>c) << (48 - 16 * k)
        k += 1
    return key


cdef inline int key_order(uint64_t key) noexcept nogil:
    cdef int n = 0
    while n < 4 and (key >> (48 - 16 * n)) & 0xFFFF:
        n += 1
    return n


cdef tuple unpack_key(uint64_t key):
    return tuple([(key >> (48 - 16 * k)) & 0xFFFF for k in range(key_order(key))])


cdef str decode_key(uint64_t key, list chars):
    return ''.join([chars[(key >> (48 - 16 * k)) & 0xFFFF] for k in range(key_order(key))])

# ---------------------------------------------------------------------------------------------
# open-addressing hash table: uint64 key (0 = empty) -> uint32 value, linear probing
# ---------------------------------------------------------------------------------------------
cdef packed struct Entry:
    uint64_t key
    uint32_t val


cdef extern from *:
    """
    #include <sys/mman.h>
    #ifdef MADV_HUGEPAGE
    #define ZHNLP_ADVISE_HUGE(p, n) madvise((p), (n), MADV_HUGEPAGE)
    #else
    #define ZHNLP_ADVISE_HUGE(p, n) 0
    #endif
    #define ZHNLP_PREFETCH(p) __builtin_prefetch((p), 1, 1)
    /* slot of a hash in a table of any size (Lemire's fastrange): tables are sized to their
       contents instead of the next power of two */
    #define ZHNLP_SLOT(h, cap) ((size_t)(((unsigned __int128)(h) * (unsigned __int128)(cap)) >> 64))
    """
    size_t ZHNLP_SLOT(uint64_t h, size_t cap) nogil
    int ZHNLP_ADVISE_HUGE(void* p, size_t n) nogil
    void ZHNLP_PREFETCH(const void* p) nogil


cdef extern from "Python.h":
    Py_UCS4* PyUnicode_AsUCS4Copy(object text) except NULL
    object PyUnicode_FromKindAndData(int kind, const void* buffer, Py_ssize_t size)
    int PyUnicode_4BYTE_KIND


cdef extern from "stdlib.h" nogil:
    int posix_memalign(void** memptr, size_t alignment, size_t size)


cdef struct Table:
    Entry* entries  # one 12-byte slot a key: a probe touches one cache line, not two arrays
    size_t capacity
    size_t size
    uint64_t salt  # mixed into the hash: a table filled by walking another must not share its order
    int failed  # set when an allocation failed in nogil code


cdef inline uint64_t mix64(uint64_t x) noexcept nogil:
    # splitmix64 finaliser: slot from the high bits, partition from the low bits
    x ^= x >> 30
    x *= <uint64_t>0xbf58476d1ce4e5b9
    x ^= x >> 27
    x *= <uint64_t>0x94d049bb133111eb
    x ^= x >> 31
    return x


cdef inline uint32_t partition_of(uint64_t h, uint32_t nparts) noexcept nogil:
    # low bits: the slot comes from the high bits (ZHNLP_SLOT), and the two must not correlate
    return <uint32_t>((h & <uint64_t>0xFFFFFFFF) % nparts)


cdef inline uint64_t table_hash(const Table* t, uint64_t key) noexcept nogil:
    return mix64(key ^ t.salt)


cdef int table_init(Table* t, size_t capacity, uint64_t salt=0) noexcept nogil:
    cdef size_t cap = capacity if capacity > MIN_CAPACITY else MIN_CAPACITY
    t.salt = salt
    cdef void* memory = NULL
    cdef size_t nbytes = cap * sizeof(Entry)
    t.capacity = cap
    t.size = 0
    t.failed = 0
    t.entries = NULL
    if nbytes >= HUGE_PAGE:
        # large tables are probed at random: 2 MB pages spare most TLB misses
        if posix_memalign(&memory, HUGE_PAGE, nbytes) != 0:
            memory = NULL
        if memory != NULL:
            ZHNLP_ADVISE_HUGE(memory, nbytes)
            memset(memory, 0, nbytes)
    else:
        memory = calloc(cap, sizeof(Entry))
    if memory == NULL:
        t.failed = 1
        return -1
    t.entries = <Entry*>memory
    return 0


cdef void table_free(Table* t) noexcept nogil:
    free(t.entries)
    t.entries = NULL
    t.capacity = 0
    t.size = 0


cdef inline size_t table_find(const Table* t, uint64_t key, uint64_t h) noexcept nogil:
    """Slot holding key, or the empty slot where it would go."""
    cdef size_t i = ZHNLP_SLOT(h, t.capacity)
    while t.entries[i].key != 0 and t.entries[i].key != key:
        i += 1
        if i == t.capacity:
            i = 0
    return i


cdef inline uint32_t table_get(const Table* t, uint64_t key) noexcept nogil:
    cdef size_t i = table_find(t, key, table_hash(t, key))
    return t.entries[i].val if t.entries[i].key == key else 0


cdef int table_rehash(Table* t, size_t new_capacity) noexcept nogil:
    cdef Table fresh
    cdef size_t i, j
    if table_init(&fresh, new_capacity, t.salt) != 0:
        t.failed = 1
        return -1
    for i in range(t.capacity):
        if t.entries[i].key != 0:
            j = table_find(&fresh, t.entries[i].key, table_hash(t, t.entries[i].key))
            fresh.entries[j].key = t.entries[i].key
            fresh.entries[j].val = t.entries[i].val
    fresh.size = t.size
    table_free(t)
    t[0] = fresh
    return 0


cdef inline int table_add(Table* t, uint64_t key, uint64_t h, uint32_t amount) noexcept nogil:
    """Add amount to key's value; returns 1 when the key was new."""
    cdef size_t i = table_find(t, key, h)
    if t.entries[i].key == key:
        t.entries[i].val += amount
        return 0
    t.entries[i].key = key
    t.entries[i].val = amount
    t.size += 1
    if t.size * 4 > t.capacity * 3:
        table_rehash(t, t.capacity * 2)
    return 1


cdef size_t table_prune(Table* t, uint32_t floor) noexcept nogil:
    """Drop every entry whose value is below floor; returns how many remain."""
    cdef size_t i, j = 0, n
    cdef uint64_t* keep_keys
    cdef uint32_t* keep_vals
    for i in range(t.capacity):
        if t.entries[i].key != 0 and t.entries[i].val >= floor:
            j += 1
    n = j
    keep_keys = <uint64_t*>malloc((n + 1) * sizeof(uint64_t))
    keep_vals = <uint32_t*>malloc((n + 1) * sizeof(uint32_t))
    if keep_keys == NULL or keep_vals == NULL:
        free(keep_keys)
        free(keep_vals)
        t.failed = 1
        return t.size
    j = 0
    for i in range(t.capacity):
        if t.entries[i].key != 0 and t.entries[i].val >= floor:
            keep_keys[j] = t.entries[i].key
            keep_vals[j] = t.entries[i].val
            j += 1
    memset(t.entries, 0, t.capacity * sizeof(Entry))
    for j in range(n):
        i = table_find(t, keep_keys[j], table_hash(t, keep_keys[j]))
        t.entries[i].key = keep_keys[j]
        t.entries[i].val = keep_vals[j]
    t.size = n
    free(keep_keys)
    free(keep_vals)
    return n


# ---------------------------------------------------------------------------------------------
# characters -> ids
# ---------------------------------------------------------------------------------------------
cdef class CharVocab:
    """Maps word characters (CJK ideographs) to dense ids 1..65534; everything else to 0."""

    cdef uint16_t* table  # code point -> id; 0 = not seen yet, SEPARATOR = not a word char
    cdef public list chars  # id -> character; chars[0] is ''

    def __cinit__(self):
        self.table = <uint16_t*>calloc(0x110000, sizeof(uint16_t))
        if self.table == NULL:
            raise MemoryError()
        self.chars = ['']

    def __dealloc__(self):
        free(self.table)

    def __len__(self):
        return len(self.chars) - 1

    cdef uint16_t _assign(self, Py_UCS4 ch):
        cdef uint16_t new_id
        if not is_word_char(ch) or len(self.chars) > MAX_CHAR_ID:
            self.table[ch] = SEPARATOR
            return SEPARATOR
        new_id = <uint16_t>len(self.chars)
        self.chars.append(chr(ch))
        self.table[ch] = new_id
        return new_id

    def encode(self, str text):
        """ids of text's characters, 0 for every non-word character, plus a closing 0."""
        cdef Py_ssize_t n = len(text), i
        cdef array.array out = array.clone(_ID_TEMPLATE, n + 1, zero=False)
        cdef uint16_t* dst = out.data.as_ushorts
        cdef uint16_t cid
        cdef Py_UCS4 ch
        for i in range(n):
            ch = text[i]
            cid = self.table[ch]
            if cid == 0:
                cid = self._assign(ch)
            dst[i] = 0 if cid == SEPARATOR else cid
        dst[n] = 0
        return out

    def id_of(self, str ch):
        cdef uint16_t cid = self.table[ord(ch)]
        return 0 if cid == SEPARATOR else cid


cdef array.array _ID_TEMPLATE = _pyarray.array('H')


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
        self.unigrams = <uint64_t*>calloc(65536, sizeof(uint64_t))
        self.tables = <Table*>calloc(nparts, sizeof(Table))
        if self.unigrams == NULL or self.tables == NULL:
            raise MemoryError()
        for p in range(nparts):
            if table_init(&self.tables[p], (expected_entries // nparts) * 4 // 3 + 1) != 0:
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
        cdef uint64_t h = mix64(key)
        if self.nparts > 1 and partition_of(h, <uint32_t>self.nparts) != <uint32_t>part:
            return True
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

    cdef uint64_t _get(self, uint64_t key, int n) noexcept nogil:
        cdef uint64_t h
        if n == 1:
            return self.unigrams[key >> 48]
        h = mix64(key)
        return table_get(&self.tables[partition_of(h, self.nparts)], key)

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
        return table_get(&self.tables[partition_of(mix64(key), self.nparts)], key)

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

    def to_set(self):
        cdef size_t i
        return {unpack_key(self.table.entries[i].key) for i in range(self.table.capacity) if self.table.entries[i].key}


# ---------------------------------------------------------------------------------------------
# the cut ("当机立断") and piece counting
# ---------------------------------------------------------------------------------------------
cdef struct PieceTable:
    uint64_t* hi  # chars 0..3, left-aligned
    uint64_t* lo  # chars 4..7, left-aligned
    uint32_t* counts
    size_t capacity
    size_t size
    int failed


cdef inline uint64_t piece_hash(uint64_t hi, uint64_t lo) noexcept nogil:
    return mix64(hi ^ mix64(lo + <uint64_t>0x9E3779B97F4A7C15))


cdef int ptable_init(PieceTable* t, size_t capacity) noexcept nogil:
    cdef size_t cap = MIN_CAPACITY
    while cap < capacity:
        cap <<= 1
    t.hi = <uint64_t*>calloc(cap, sizeof(uint64_t))
    t.lo = <uint64_t*>calloc(cap, sizeof(uint64_t))
    t.counts = <uint32_t*>calloc(cap, sizeof(uint32_t))
    t.capacity = cap
    t.size = 0
    t.failed = 0
    if t.hi == NULL or t.lo == NULL or t.counts == NULL:
        free(t.hi)
        free(t.lo)
        free(t.counts)
        t.hi = NULL
        t.lo = NULL
        t.counts = NULL
        t.failed = 1
        return -1
    return 0


cdef void ptable_free(PieceTable* t) noexcept nogil:
    free(t.hi)
    free(t.lo)
    free(t.counts)
    t.hi = NULL
    t.lo = NULL
    t.counts = NULL


cdef inline size_t ptable_find(const PieceTable* t, uint64_t hi, uint64_t lo) noexcept nogil:
    cdef size_t mask = t.capacity - 1
    cdef size_t i = piece_hash(hi, lo) & mask
    while t.hi[i] != 0 and (t.hi[i] != hi or t.lo[i] != lo):
        i = (i + 1) & mask
    return i


cdef void ptable_add(PieceTable* t, uint64_t hi, uint64_t lo, uint32_t amount) noexcept nogil:
    cdef size_t i = ptable_find(t, hi, lo), j
    cdef PieceTable fresh
    if t.hi[i] != 0:
        t.counts[i] += amount
        return
    t.hi[i] = hi
    t.lo[i] = lo
    t.counts[i] = amount
    t.size += 1
    if t.size * 4 > t.capacity * 3:
        if ptable_init(&fresh, t.capacity * 2) != 0:
            t.failed = 1
            return
        for i in range(t.capacity):
            if t.hi[i] != 0:
                j = ptable_find(&fresh, t.hi[i], t.lo[i])
                fresh.hi[j] = t.hi[i]
                fresh.lo[j] = t.lo[i]
                fresh.counts[j] = t.counts[i]
        fresh.size = t.size
        ptable_free(t)
        t[0] = fresh


cdef class PieceCounter:
    """Counts the pieces (candidate words, 1..max_len chars) that the cut leaves."""

    cdef PieceTable table
    cdef readonly int max_len
    cdef readonly uint64_t total  # piece occurrences counted

    def __cinit__(self, int max_len=6):
        if max_len < 1 or max_len > 8:
            raise ValueError(f"max_len must be 1..8, got {max_len}")
        self.max_len = max_len
        self.total = 0
        if ptable_init(&self.table, MIN_CAPACITY) != 0:
            raise MemoryError()

    def __dealloc__(self):
        ptable_free(&self.table)

    def __len__(self):
        return self.table.size

    cdef void _emit(self, const uint16_t* s, Py_ssize_t length) noexcept nogil:
        cdef uint64_t hi = 0, lo = 0
        cdef Py_ssize_t k
        for k in range(length):
            if k < 4:
                hi |= (<uint64_t>s[k]) << (48 - 16 * k)
            else:
                lo |= (<uint64_t>s[k]) << (48 - 16 * (k - 4))
        ptable_add(&self.table, hi, lo, 1)
        self.total += 1

    def cut_and_count(self, const uint16_t[::1] ids, NgramSet cohesive, NgramCounter counts):
        """Cut every sentence of ids between characters that no cohesive n-gram spans, then
        count the pieces. A piece longer than max_len is cut again at its weakest link (lowest
        bigram PMI) until every part fits. The GIL is released."""
        cdef Py_ssize_t n = ids.shape[0], start = 0, end, i, k, b, length
        cdef unsigned char* joined = NULL
        cdef Py_ssize_t* stack = NULL
        cdef Py_ssize_t top, lo_, hi_, weakest
        cdef uint64_t key
        cdef double log_total = log(<double>counts.total_chars) if counts.total_chars else 0.0
        cdef double worst, pmi
        cdef int order = counts.order
        cdef int max_len = self.max_len
        cdef double* links = NULL
        cdef uint64_t* queue = NULL
        cdef Py_ssize_t queue_size = 0, queued = 0, q
        joined = <unsigned char*>malloc(n + 1)
        stack = <Py_ssize_t*>malloc((2 * n + 2) * sizeof(Py_ssize_t))
        links = <double*>malloc((n + 1) * sizeof(double))
        if joined == NULL or stack == NULL or links == NULL:
            free(joined)
            free(stack)
            free(links)
            raise MemoryError()
        with nogil:
            while start < n:
                if ids[start] == 0:
                    start += 1
                    continue
                end = start
                while end < n and ids[end] != 0:
                    end += 1
                length = end - start
                memset(joined, 0, length + 1)
                if length * 6 > queue_size:  # up to 3 n-grams a position, 2 slots each
                    free(queue)
                    queue_size = length * 8
                    queue = <uint64_t*>malloc(queue_size * sizeof(uint64_t))
                    if queue == NULL:
                        self.table.failed = 1
                        break
                # first every n-gram's key, its slot prefetched; then the lookups, which now hit
                # the cache: the set is too large for L2 and the lookups are independent
                queued = 0
                for i in range(length):
                    key = (<uint64_t>ids[start + i]) << 48
                    for k in range(1, order):
                        if i + k >= length:
                            break
                        key |= (<uint64_t>ids[start + i + k]) << (48 - 16 * k)
                        queue[queued] = key
                        queue[queued + 1] = (<uint64_t>i << 8) | <uint64_t>k
                        ZHNLP_PREFETCH(&cohesive.table.entries[ZHNLP_SLOT(table_hash(&cohesive.table, key),
                                                                            cohesive.table.capacity)])
                        queued += 2
                for q in range(0, queued, 2):
                    if cohesive._has(queue[q]):
                        i = <Py_ssize_t>(queue[q + 1] >> 8)
                        k = <Py_ssize_t>(queue[q + 1] & 0xFF)
                        for b in range(i + 1, i + k + 1):
                            joined[b] = 1
                # pieces between the cuts; overlong ones split at their weakest link
                lo_ = 0
                for b in range(1, length + 1):
                    if b < length and joined[b]:
                        continue
                    if b - lo_ > max_len:  # the links of an overlong piece, looked up once
                        for k in range(lo_ + 1, b):
                            links[k] = counts.link_pmi(ids[start + k - 1], ids[start + k], log_total)
                    top = 0
                    stack[0] = lo_
                    stack[1] = b
                    top = 2
                    while top > 0:
                        hi_ = stack[top - 1]
                        i = stack[top - 2]
                        top -= 2
                        if hi_ - i <= max_len:
                            self._emit(&ids[start + i], hi_ - i)
                            continue
                        weakest = i + 1
                        worst = INFINITY
                        for k in range(i + 1, hi_):
                            pmi = links[k]
                            if pmi < worst:
                                worst = pmi
                                weakest = k
                        # right part first on the stack so the left part is emitted first
                        stack[top] = weakest
                        stack[top + 1] = hi_
                        stack[top + 2] = i
                        stack[top + 3] = weakest
                        top += 4
                    lo_ = b
                start = end
        free(joined)
        free(stack)
        free(links)
        free(queue)
        if self.table.failed:
            raise MemoryError("out of memory while counting candidate words")

    def merge(self, PieceCounter other):
        cdef size_t i
        for i in range(other.table.capacity):
            if other.table.hi[i] != 0:
                ptable_add(&self.table, other.table.hi[i], other.table.lo[i], other.table.counts[i])
        self.total += other.total
        if self.table.failed:
            raise MemoryError()

    def items(self, list chars, uint32_t min_count=1):
        """[(piece as str, count)] for pieces seen at least min_count times, in no set order."""
        cdef list out = []
        cdef size_t i
        for i in range(self.table.capacity):
            if self.table.hi[i] != 0 and self.table.counts[i] >= min_count:
                out.append((decode_key(self.table.hi[i], chars) + decode_key(self.table.lo[i], chars),
                            self.table.counts[i]))
        return out


# ---------------------------------------------------------------------------------------------
# unigram segmentation: best path through the DAG of lexicon words (jieba's HMM-free DP)
# ---------------------------------------------------------------------------------------------
cdef size_t ROOT_FANOUT = 0x10000
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



# ---------------------------------------------------------------- couplet decoding: the exact n-best search

cdef struct SearchNode:
    double score
    int64_t token  # the id chosen at depth - 1
    int32_t parent  # -1 for the root
    int32_t depth  # groups assigned
    int32_t index  # position of `token` in its group's candidate list


cdef struct QueueEntry:
    double key  # -bound
    int64_t sequence  # push order: ties pop first-in first-out, as the twin's heapq tuples
    int32_t node


cdef inline bint _queue_less(QueueEntry a, QueueEntry b) noexcept nogil:
    return a.key < b.key or (a.key == b.key and a.sequence < b.sequence)


cdef inline void _queue_push(QueueEntry* queue, Py_ssize_t* size, QueueEntry entry) noexcept nogil:
    cdef Py_ssize_t i = size[0], parent
    size[0] += 1
    while i > 0:
        parent = (i - 1) >> 1
        if not _queue_less(entry, queue[parent]):
            break
        queue[i] = queue[parent]
        i = parent
    queue[i] = entry


cdef inline QueueEntry _queue_pop(QueueEntry* queue, Py_ssize_t* size) noexcept nogil:
    cdef QueueEntry top = queue[0], last
    cdef Py_ssize_t i = 0, child
    size[0] -= 1
    last = queue[size[0]]
    while True:
        child = 2 * i + 1
        if child >= size[0]:
            break
        if child + 1 < size[0] and _queue_less(queue[child + 1], queue[child]):
            child += 1
        if not _queue_less(queue[child], last):
            break
        queue[i] = queue[child]
        i = child
    queue[i] = last
    return top


cdef inline int32_t _next_free(const int64_t[:, ::1] ids, Py_ssize_t group, int32_t start, int32_t length,
                               SearchNode* nodes, int32_t node) noexcept nogil:
    """The first position from ``start`` in the group's list whose id is not chosen on ``node``'s path."""
    cdef int32_t walk
    cdef bint taken
    while start < length:
        taken = False
        walk = node
        while nodes[walk].depth > 0:
            if nodes[walk].token == ids[group, start]:
                taken = True
                break
            walk = nodes[walk].parent
        if not taken:
            return start
        start += 1
    return start


def best_assignments(const int64_t[:, ::1] ids, const double[:, ::1] scores, int n=1,
                     int max_expansions=100_000):
    """Twin of pure.best_assignments: the same search on arrays, without the GIL."""
    cdef Py_ssize_t groups = ids.shape[0], width = ids.shape[1], g, h, d, key_a, key_b
    cdef int32_t* lengths = <int32_t*>malloc((groups + 1) * sizeof(int32_t))
    cdef Py_ssize_t* order = <Py_ssize_t*>malloc((groups + 1) * sizeof(Py_ssize_t))
    cdef double* rest = <double*>malloc((groups + 1) * sizeof(double))
    cdef int* unique_first = <int*>malloc((groups + 1) * sizeof(int))
    cdef Py_ssize_t capacity = 256, queue_size = 0, node_count = 0, found_count = 0
    cdef SearchNode* nodes = <SearchNode*>malloc(capacity * sizeof(SearchNode))
    cdef QueueEntry* queue = <QueueEntry*>malloc(capacity * sizeof(QueueEntry))
    cdef int32_t* found = <int32_t*>malloc((n + 1) * sizeof(int32_t))
    cdef int64_t pushed = 1
    cdef QueueEntry entry
    cdef int32_t node, child, sibling, index, parent, depth, walk
    cdef double score, new_score
    cdef bint empty = False, out_of_memory = False
    cdef void* grown
    if not (lengths and order and rest and unique_first and nodes and queue and found):
        free(lengths); free(order); free(rest); free(unique_first); free(nodes); free(queue); free(found)
        raise MemoryError()
    try:
        with nogil:
            for g in range(groups):
                lengths[g] = 0
                while lengths[g] < width and scores[g, lengths[g]] > -INFINITY:
                    lengths[g] += 1
                if lengths[g] == 0:
                    empty = True
            if not empty:
                for g in range(groups):
                    unique_first[g] = 1
                    for h in range(groups):
                        if h != g and ids[h, 0] == ids[g, 0]:
                            unique_first[g] = 0
                # a stable insertion sort by (best id unique, -best score): the twin's sorted()
                for g in range(groups):
                    h = g
                    while h > 0:
                        key_a = order[h - 1]
                        if unique_first[key_a] > unique_first[g] or (
                                unique_first[key_a] == unique_first[g] and -scores[key_a, 0] > -scores[g, 0]):
                            order[h] = key_a
                            h -= 1
                        else:
                            break
                    order[h] = g
                rest[groups] = 0.0
                for d in range(groups - 1, -1, -1):
                    rest[d] = rest[d + 1] + scores[order[d], 0]
                nodes[0].score = 0.0
                nodes[0].token = -1
                nodes[0].parent = -1
                nodes[0].depth = 0
                nodes[0].index = -1
                node_count = 1
                entry.key = -rest[0]
                entry.sequence = 0
                entry.node = 0
                _queue_push(queue, &queue_size, entry)
                while queue_size and found_count < n and pushed < max_expansions:
                    if node_count + 2 > capacity:  # room for this pop's two pushes
                        capacity *= 2
                        grown = realloc(nodes, capacity * sizeof(SearchNode))
                        if grown == NULL:
                            out_of_memory = True
                            break
                        nodes = <SearchNode*>grown
                        grown = realloc(queue, capacity * sizeof(QueueEntry))
                        if grown == NULL:
                            out_of_memory = True
                            break
                        queue = <QueueEntry*>grown
                    entry = _queue_pop(queue, &queue_size)
                    node = entry.node
                    score = nodes[node].score
                    depth = nodes[node].depth
                    index = nodes[node].index
                    if depth == groups:
                        found[found_count] = node
                        found_count += 1
                    else:  # the best free child
                        g = order[depth]
                        child = _next_free(ids, g, 0, lengths[g], nodes, node)
                        if child < lengths[g]:
                            new_score = score + scores[g, child]
                            nodes[node_count].score = new_score
                            nodes[node_count].token = ids[g, child]
                            nodes[node_count].parent = node
                            nodes[node_count].depth = depth + 1
                            nodes[node_count].index = child
                            entry.key = -(new_score + rest[depth + 1])
                            entry.sequence = pushed
                            entry.node = <int32_t>node_count
                            _queue_push(queue, &queue_size, entry)
                            node_count += 1
                            pushed += 1
                    if depth:  # the next free sibling: same parent, the next id for the last group
                        g = order[depth - 1]
                        parent = nodes[node].parent
                        sibling = _next_free(ids, g, index + 1, lengths[g], nodes, parent)
                        if sibling < lengths[g]:
                            new_score = score - scores[g, index] + scores[g, sibling]
                            nodes[node_count].score = new_score
                            nodes[node_count].token = ids[g, sibling]
                            nodes[node_count].parent = parent
                            nodes[node_count].depth = depth
                            nodes[node_count].index = sibling
                            entry.key = -(new_score + rest[depth])
                            entry.sequence = pushed
                            entry.node = <int32_t>node_count
                            _queue_push(queue, &queue_size, entry)
                            node_count += 1
                            pushed += 1
        if out_of_memory:
            raise MemoryError()
        if empty:
            return []
        results = []
        for h in range(found_count):
            tokens = [0] * groups
            walk = found[h]
            while nodes[walk].depth > 0:
                tokens[order[nodes[walk].depth - 1]] = nodes[walk].token
                walk = nodes[walk].parent
            results.append((nodes[found[h]].score, tokens))
        return results
    finally:
        free(lengths); free(order); free(rest); free(unique_first); free(nodes); free(queue); free(found)
