"""Pure-Python twin of the compiled kernels (``_kernels.pyx``): same names, same results.

Used when the extension is missing or ``ZHNLP_PURE_PYTHON=1``; tests/test_native_parity.py
checks that both agree on random input. It is also the readable statement of what the kernels
compute: the Cython file does the same with C hash tables and without the GIL. One module per
structure, as the Cython file has one include per structure (``_*.pxi`` beside ``pure/*.py``).
"""
from __future__ import annotations

from .common import MAX_CHAR_ID, _MASK64, is_word_char, mix64, pack_ids, pair_partition, partition_of  # noqa: F401
from .char_vocab import CharVocab, _sentences  # noqa: F401
from .ngrams import NgramCounter, NgramSet  # noqa: F401
from .pieces import PieceCounter  # noqa: F401
from .lattice import WordLattice, _ASCII_ALNUM, _JIEBA_BLOCK, _JIEBA_OTHER  # noqa: F401
from .templates import (SLOT, TemplateCounter, TemplateMatcher, _check_template, _merge, _useful, sentence_templates)  # noqa: F401
from .assignments import best_assignments  # noqa: F401
