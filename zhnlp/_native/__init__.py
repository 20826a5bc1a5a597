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


def pure_python_notice() -> tuple[str, str] | None:
    """(message, fix) when the pure-Python twin is in use, for heavy jobs to say once; else None."""
    if COMPILED:
        return None
    if os.environ.get("ZHNLP_PURE_PYTHON", "") not in ("", "0"):
        return ("running on the pure-Python kernels because ZHNLP_PURE_PYTHON is set (about 100x slower)",
                "unset ZHNLP_PURE_PYTHON to use the compiled extension")
    return ("running on the pure-Python kernels (about 100x slower): the compiled extension was not built",
            "install a C compiler and the Python headers (e.g. apt-get install gcc python3-dev), then reinstall: "
            "pip install --force-reinstall --no-deps zhnlp")


__all__ = ["kernels", "pure", "COMPILED", "pure_python_notice"]
