"""The hot loops: compiled Cython kernels, with a pure-Python twin of each.

``kernels`` is the compiled module ``_kernels`` when it was built by ``pip install`` and
``ZHNLP_PURE_PYTHON`` is not set to 1; otherwise it is ``pure``. Both expose the same names:
``CharVocab``, ``NgramCounter``, ``NgramSet``, ``PieceCounter``, ``WordLattice``.
"""
from __future__ import annotations

import os
from types import ModuleType

from . import pure


def _load() -> tuple[ModuleType, bool]:
    if os.environ.get("ZHNLP_PURE_PYTHON", "") not in ("", "0"):
        return pure, False
    try:
        from . import _kernels
    except ImportError:
        return pure, False
    return _kernels, True


kernels, COMPILED = _load()

__all__ = ["kernels", "pure", "COMPILED"]
