"""The pure-Python twin of _common.pxi: what every structure shares: word characters, hashing, n-gram keys."""
from __future__ import annotations


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


def unpack_key(key: int) -> tuple:
    """The ids of a packed key, up to its first empty 16-bit field."""
    ids = []
    for k in range(4):
        c = (key >> (48 - 16 * k)) & 0xFFFF
        if not c:
            break
        ids.append(c)
    return tuple(ids)


def partition_of(ngram: tuple, nparts: int) -> int:
    return (mix64(pack_ids(ngram)) & 0xFFFFFFFF) % nparts


def pair_partition(a: int, b: int, nparts: int) -> int:
    """Partition of a word pair, keyed as a << 32 | b."""
    return (mix64((a << 32) | b) & 0xFFFFFFFF) % nparts
