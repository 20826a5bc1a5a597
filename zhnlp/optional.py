"""Optional dependencies: the core install (`pip install zhnlp`) runs every model-free command and
the couplet CPU path; ``zhnlp[torch]`` adds PyTorch, transformers and what training needs.

``require("torch", "zhnlp train couplet")`` is called where a job first needs such a package, so
that a missing one is a one-line ZhnlpError with the install command instead of a traceback.
"""
from __future__ import annotations

import importlib
import importlib.util
from types import ModuleType

from .errors import ZhnlpError

# package -> (what users call it, the extra that installs it)
EXTRAS = {
    "torch": ("PyTorch", "torch"),
    "transformers": ("transformers", "torch"),
    "gensim": ("gensim", "vectors"),
    "dask": ("Dask", "dask"),
    "rouge": ("the rouge package", "title"),
    "nltk": ("nltk", "title"),
}


class MissingDependencyError(ZhnlpError):
    """A job needs a package of an optional extra that is not installed."""


def available(package: str) -> bool:
    """Whether ``package`` can be imported, without importing it."""
    try:
        return importlib.util.find_spec(package) is not None
    except (ImportError, ValueError):
        return False


def require(package: str, feature: str) -> ModuleType:
    """Import ``package`` for ``feature`` (a command or function name), or raise
    MissingDependencyError naming the extra that installs it."""
    name, extra = EXTRAS.get(package, (package, package))
    if not available(package):
        raise MissingDependencyError(f"{feature} needs {name}", f'pip install "zhnlp[{extra}]"')
    return importlib.import_module(package)
