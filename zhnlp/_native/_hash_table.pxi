# Included by _kernels.pyx (one extension, one file per structure, as msgpack's _cmsgpack.pyx):
# the open-addressing hash table every counter uses. Its pure-Python twin: pure/hash_table.py.

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
