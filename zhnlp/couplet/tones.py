"""Level (平) and oblique (仄) tones of characters, from pypinyin's Mandarin readings.

Modern tones 1 and 2 count as level, 3 and 4 as oblique (the common modern convention; the
classical entering tone is not tracked). A character with several readings is judged by its first.
"""
from __future__ import annotations

from functools import lru_cache


@lru_cache(maxsize=None)
def tone_of(char: str) -> int | None:
    """1-4, or None for a character without a reading (punctuation, Latin)."""
    from pypinyin import Style, pinyin

    reading = pinyin(char, style=Style.TONE3, heteronym=False, errors="ignore")
    if not reading or not reading[0]:
        return None
    last = reading[0][0][-1:]
    return int(last) if last in "1234" else None


def is_level_tone(char: str) -> bool:
    return tone_of(char) in (1, 2)


def is_oblique_tone(char: str) -> bool:
    return tone_of(char) in (3, 4)
