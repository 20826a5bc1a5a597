# Included by _kernels.pyx (one extension, one file per structure, as msgpack's _cmsgpack.pyx):
# the cut (当机立断) and piece counting. Its pure-Python twin: pure/pieces.py.

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

    def export(self, uint32_t min_count=1):
        """(hi, lo, counts), three array('Q'): the pieces seen at least min_count times, each packed
        as chars 0..3 and 4..7 left-aligned, in no set order; ``add_counts`` takes them back."""
        cdef size_t i, j = 0, n = 0
        cdef array.array hi, lo, counts
        for i in range(self.table.capacity):
            n += self.table.hi[i] != 0 and self.table.counts[i] >= min_count
        hi, lo = array.clone(_COUNT_TEMPLATE, n, zero=False), array.clone(_COUNT_TEMPLATE, n, zero=False)
        counts = array.clone(_COUNT_TEMPLATE, n, zero=False)
        for i in range(self.table.capacity):
            if self.table.hi[i] != 0 and self.table.counts[i] >= min_count:
                hi.data.as_ulonglongs[j] = self.table.hi[i]
                lo.data.as_ulonglongs[j] = self.table.lo[i]
                counts.data.as_ulonglongs[j] = self.table.counts[i]
                j += 1
        return hi, lo, counts

    def add_counts(self, const uint64_t[::1] hi, const uint64_t[::1] lo, const uint64_t[::1] counts):
        """Add the counts of packed pieces (what ``export`` returns)."""
        cdef Py_ssize_t i, n = hi.shape[0]
        if lo.shape[0] != n or counts.shape[0] != n:
            raise ValueError("hi, lo and counts differ in length")
        for i in range(n):
            if hi[i] == 0 or (lo[i] != 0 and hi[i] & 0xFFFF == 0) or counts[i] > 0xFFFFFFFF:
                raise ValueError(f"not a packed piece and count: {hi[i]:#x} {lo[i]:#x} {counts[i]}")
            ptable_add(&self.table, hi[i], lo[i], <uint32_t>counts[i])
            self.total += counts[i]
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
