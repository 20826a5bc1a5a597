"""Finding a model folder: a path, a name under zhnlp's model folders, or a Hugging Face hub id.

Offline first: a hub id is looked up in the local Hugging Face cache before anything else, and a
download is tried only when ``HF_HUB_OFFLINE`` is not set. When nothing is found the error says
what to download and where to put it, instead of a traceback.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

from .errors import ZhnlpError
from .info import model_search_paths

WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


class ModelNotFoundError(ZhnlpError):
    """No model folder, cached hub snapshot or download for the name given."""


def _missing(folder: Path, required: tuple[str, ...], weights: bool) -> list[str]:
    missing = [name for name in required if not (folder / name).is_file()]
    if weights and not any((folder / name).is_file() for name in WEIGHT_FILES):
        missing.append(" or ".join(WEIGHT_FILES))
    return missing


def _download_hint(name: str, what: str) -> str:
    example = name if _HUB_ID.match(name) else "junnyu/wobert_chinese_plus_base"
    return (f"on a machine with internet run `hf download {example} --local-dir DIR` "
            f"(or `huggingface-cli download`), copy DIR here and pass it as the {what} folder, "
            f"or put it under {model_search_paths()[0]}")


def resolve_model(name_or_path: str | os.PathLike, required: tuple[str, ...] = ("config.json",),
                  weights: bool = False, what: str = "model") -> Path:
    """The folder holding a model: ``name_or_path`` itself, ``<model path>/<name>``, or the
    snapshot of a hub id in the HF cache (downloaded when online). ``required`` files, and one of
    the weight files when ``weights``, must be there."""
    name = str(name_or_path)
    candidates = [Path(name).expanduser()]
    if not os.path.isabs(name):
        candidates += [base / name for base in model_search_paths()]
    for folder in candidates:
        if folder.is_dir():
            missing = _missing(folder, required, weights)
            if missing:
                raise ModelNotFoundError(f"{what} folder {folder} lacks {', '.join(missing)}",
                                         _download_hint(name, what))
            return folder
    if Path(name).exists():
        raise ModelNotFoundError(f"{what} {name} is a file, not a folder", f"pass the folder that holds {required[0]}")
    if _HUB_ID.match(name):
        folder = _hub_snapshot(name, required, weights)
        if folder is not None:
            return folder
    where = ", ".join(str(p) for p in candidates[1:]) or "the model folders"
    raise ModelNotFoundError(f"{what} not found: {name!r} (not a folder here, not in {where}, not in the "
                             f"Hugging Face cache)", _download_hint(name, what))


def _hub_snapshot(repo_id: str, required: tuple[str, ...], weights: bool) -> Path | None:
    try:
        from huggingface_hub import snapshot_download
    except ImportError:
        return None
    patterns = [*required, *(WEIGHT_FILES if weights else ()), "*.json", "*.txt"]
    attempts = [True] if _offline() else [True, False]
    for local_only in attempts:
        try:
            folder = Path(snapshot_download(repo_id, allow_patterns=patterns, local_files_only=local_only))
        except Exception:  # not cached / no network / no such repo: try the next way, then explain
            continue
        if not _missing(folder, required, weights):
            return folder
    return None


def _offline() -> bool:
    return any(os.environ.get(var, "").lower() in ("1", "true", "yes", "on")
               for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))
