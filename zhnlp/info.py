"""What this installation of zhnlp has: version, compiled kernels, torch, CUDA, model folders.

torch is looked up without importing it unless ``check_cuda`` is asked for, so `zhnlp info`
without CUDA checks stays fast.
"""
from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import platform
import sys
from pathlib import Path


def model_search_paths() -> list[Path]:
    """Folders searched, in order, for a model given by name: $ZHNLP_MODELS (os.pathsep-separated),
    then $ZHNLP_HOME/models (default ~/.cache/zhnlp/models)."""
    paths = [Path(p) for p in os.environ.get("ZHNLP_MODELS", "").split(os.pathsep) if p]
    home = Path(os.environ.get("ZHNLP_HOME", Path.home() / ".cache" / "zhnlp"))
    paths.append(home / "models")
    return paths


def cache_dir() -> Path:
    """zhnlp's cache folder: $ZHNLP_HOME/cache (default ~/.cache/zhnlp/cache); safe to delete."""
    return Path(os.environ.get("ZHNLP_HOME", Path.home() / ".cache" / "zhnlp")) / "cache"


def shipped_model_dir(name: str) -> Path:
    """The folder of a default model shipped with the package (data/models/NAME, installed as
    zhnlp/data/models/NAME; in a source checkout, the repository's data/models/NAME)."""
    from importlib import resources

    try:
        packaged = Path(str(resources.files("zhnlp.data"))) / "models" / name
        if packaged.is_dir():
            return packaged
    except (ModuleNotFoundError, TypeError):
        pass
    return Path(__file__).resolve().parents[1] / "data" / "models" / name


def shipped_models() -> dict[str, str]:
    """Default models shipped with the package: name -> folder."""
    root = shipped_model_dir("couplet").parent
    if not root.is_dir():
        return {}
    return {folder.name: str(folder) for folder in sorted(root.iterdir()) if (folder / "config.json").is_file()}


def environment_info(check_cuda: bool = True) -> dict:
    from . import __version__
    from ._native import COMPILED

    torch_version = None
    cuda_available = False
    if importlib.util.find_spec("torch") is not None:
        try:
            torch_version = importlib.metadata.version("torch")
        except importlib.metadata.PackageNotFoundError:
            torch_version = "unknown"
        if check_cuda:
            try:
                import torch

                cuda_available = bool(torch.cuda.is_available())
            except Exception:  # a broken torch install must not break `zhnlp info`
                cuda_available = False
    return {
        "version": __version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "compiled_extension": COMPILED,
        "pure_python_forced": os.environ.get("ZHNLP_PURE_PYTHON", "") not in ("", "0"),
        "torch": torch_version,
        "cuda_available": cuda_available,
        "model_paths": [str(p) for p in model_search_paths()],
        "shipped_models": shipped_models(),
    }
