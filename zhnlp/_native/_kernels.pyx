# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Compiled kernels: character encoding, n-gram counting, the cohesion cut and the unigram DP.

`zhnlp._native.pure` is the pure-Python twin of this module: same names, same results
(tests/test_native_parity.py proves it). Read it first: it is the specification, this is the
same logic in C-speed Cython. One extension, one file per structure (as msgpack's _cmsgpack.pyx
includes _packer.pyx and _unpacker.pyx): this file holds what they share, each ``_*.pxi`` below one
structure, beside its twin ``pure/*.py``.

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
import os as _os
import struct as _struct

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


include "_hash_table.pxi"
include "_char_vocab.pxi"
include "_ngrams.pxi"
include "_pieces.pxi"
include "_lattice.pxi"
include "_templates.pxi"
include "_assignments.pxi"
