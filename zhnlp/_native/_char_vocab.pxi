# Included by _kernels.pyx (one extension, one file per structure, as msgpack's _cmsgpack.pyx):
# characters to 16-bit ids. Its pure-Python twin: pure/char_vocab.py.

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
