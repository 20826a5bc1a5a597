"""Packages that import nothing until a name is used (so that `zhnlp --help` and the model-free
commands stay fast): ``__getattr__ = lazy_names(globals(), {"Name": "module.path", ...})``."""
from __future__ import annotations

import importlib


def lazy_names(namespace: dict, names: dict[str, str]):
    """A module ``__getattr__`` that imports ``names[name]`` (a module path; relative ones start with
    '.') on first use of ``name``, and keeps the value in ``namespace``."""
    package = namespace["__name__"]

    def __getattr__(name: str):
        if name not in names:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(names[name], package), name)
        namespace[name] = value
        return value

    return __getattr__
