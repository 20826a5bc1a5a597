"""What counts as a Chinese character, and as a sentence, in every model-free job (discovery,
segmentation, templates, parsing, couplets): one definition, here.

Chinese: the CJK Unified Ideographs with extensions A to H (U+3400-U+4DBF, U+4E00-U+9FFF,
U+20000-U+323AF), the compatibility ideographs (U+F900-U+FAFF) and 〇 (U+3007). A sentence is a
run of Chinese characters, Latin letters and digits (ASCII and full width); anything else
(punctuation, spaces, line breaks) ends it, as nlp-zero's filter does. The WoBERT tokenizer keeps
BERT's own, narrower test (``wobert.vocab.is_cjk``), since the published models were trained with it.
"""
from __future__ import annotations

import re

HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3007\U00020000-\U000323af"  # a character class body
LATIN_AND_DIGITS = "0-9A-Za-z\uff10-\uff19\uff21-\uff3a\uff41-\uff5a"

HAN_CHAR = re.compile(f"[{HAN}]")
SENTENCE = re.compile(f"[{HAN}{LATIN_AND_DIGITS}]+")


def has_han(text: str) -> bool:
    return HAN_CHAR.search(text) is not None


def sentences(text: str) -> list[str]:
    """The sentences of ``text``: its runs of Chinese characters, Latin letters and digits."""
    return SENTENCE.findall(text)
