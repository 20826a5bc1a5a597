"""Finding a model folder: a path, a name under zhnlp's model folders, or a Hugging Face hub id.

Every ``--model`` and every ``from_pretrained`` goes through :func:`resolve_model`. Offline first: a
hub id is looked up in the local Hugging Face cache before anything else, and a download is tried
only when ``HF_HUB_OFFLINE`` is not set. When nothing is found the error says what to download and
where to put it, instead of a traceback.

Every folder has a type, the ``model_type`` of its ``config.json``: zhnlp's own folders say
``couplet``, ``title``, ``triples`` or ``classifier``; Hugging Face BERT folders say ``bert`` (which
transformers needs), and count as ``wobert`` when their tokenizer is WoBERT's. ``expected=`` refuses
a folder of another type with a message naming both, before any weight is read.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

from .errors import InputError
from .info import model_search_paths

WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
ZHNLP_MODEL_TYPES = ("couplet", "title", "triples", "classifier", "vectors")
LEGACY_MODEL_TYPES = {"zhnlp-couplet-cnn": "couplet"}  # what folders of zhnlp 0.1 said
WOBERT_TOKENIZERS = ("WoBertTokenizer", "WoBertTokenizerFast")
# how to get a folder of each type, for the message that refuses another
MAKE = {"couplet": "zhnlp train couplet --data ../shared/data/couplet -o DIR (or leave out --model: the shipped one)",
        "title": "zhnlp train title --data PAIRS.tsv -o DIR (or leave out --model: the shipped one)",
        "triples": "zhnlp train triples --data ../shared/data/triples -o DIR (or leave out --model: the shipped one)",
        "classifier": "zhnlp train classifier --data DIR -o MODEL",
        "vectors": "zhnlp vectors train CORPUS --vocab VOCAB -o DIR",
        "bert": "give a char-level BERT folder (transformers format: config.json with model_type bert)",
        "wobert": "give a WoBERT folder (zhnlp wobert init / pretrain, or a WoBERT port)"}
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


class ModelNotFoundError(InputError):
    """No model folder, cached hub snapshot or download for the name given."""


class WrongModelTypeError(ModelNotFoundError):
    """A model folder of another type than the job needs (a WoBERT given to couplets, say)."""


def _missing(folder: Path, required: tuple[str, ...], weights: bool) -> list[str]:
    missing = [name for name in required if not (folder / name).is_file()]
    if weights and not any((folder / name).is_file() for name in WEIGHT_FILES):
        missing.append(" or ".join(WEIGHT_FILES))
    return missing


def _download_hint(name: str, what: str, example: str | None = None) -> str:
    example = name if _HUB_ID.match(name) else example or "junnyu/wobert_chinese_plus_base"
    return (f"on a machine with internet run `hf download {example} --local-dir DIR` "
            f"(or `huggingface-cli download`), copy DIR here and pass it as the {what} folder, "
            f"or put it under {model_search_paths()[0]}")


def model_type_of(folder: str | os.PathLike) -> str | None:
    """The type of a model folder (see the module docstring), or None when its config.json names none."""
    import json

    folder = Path(folder)
    try:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    kind = config.get("model_type") if isinstance(config, dict) else None
    if not isinstance(kind, str):
        return None
    kind = LEGACY_MODEL_TYPES.get(kind, kind)
    if kind == "bert" and isinstance(config.get("zhnlp_task"), str):  # a transformers folder zhnlp trained for a task
        return config["zhnlp_task"]
    if kind == "bert":
        try:
            tokenizer = json.loads((folder / "tokenizer_config.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            tokenizer = {}
        if isinstance(tokenizer, dict) and tokenizer.get("tokenizer_class") in WOBERT_TOKENIZERS:
            return "wobert"
    return kind


def check_model_type(folder: Path, name: str, expected: str | tuple[str, ...]) -> str:
    """The folder's type, or a ModelNotFoundError when it is not one of ``expected``."""
    accepted = (expected,) if isinstance(expected, str) else tuple(expected)
    found = model_type_of(folder)
    if found in accepted:
        return found
    wanted = " or ".join(accepted)
    shown = name if name.endswith("/") else f"{name}/"
    if found is None:
        raise WrongModelTypeError(f"{shown} is not a {wanted} model folder: its config.json has no model_type",
                                  MAKE.get(accepted[0], f"give a {wanted} model folder"))
    raise WrongModelTypeError(f"{shown} holds a{'n' if found[0] in 'aeiou' else ''} {found} model, not a {wanted} model",
                              MAKE.get(accepted[0], f"give a {wanted} model folder"))


def resolve_model_or_shipped(name_or_path: str | os.PathLike | None, model_type: str, required: tuple[str, ...],
                             what: str, train_hint: str) -> Path:
    """The folder for a task's ``--model``: None is the model shipped with zhnlp (data/models/TYPE),
    anything else goes through ``resolve_model`` and must hold a ``model_type`` model."""
    if name_or_path is None:
        from .info import shipped_model_dir

        folder = shipped_model_dir(model_type)
        if not folder.is_dir():
            raise ModelNotFoundError(f"no {what} folder: {folder}", f"{train_hint}, then pass --model DIR")
        return folder
    return resolve_model(name_or_path, required=required, what=what, expected=model_type)


def resolve_model(name_or_path: str | os.PathLike, required: tuple[str, ...] = ("config.json",),
                  weights: bool = False, what: str = "model",
                  expected: str | tuple[str, ...] | None = None, example: str | None = None) -> Path:
    """The folder holding a model: ``name_or_path`` itself, ``<model path>/<name>``, or the
    snapshot of a hub id in the HF cache (downloaded when online). ``required`` files, and one of
    the weight files when ``weights``, must be there; with ``expected`` (a type or several), the
    folder's type must be one of them. ``example``: the hub id the "not found" hint suggests."""
    name = str(name_or_path)
    accepted = (expected,) if isinstance(expected, str) else expected
    ours = bool(accepted) and accepted[0] in ZHNLP_MODEL_TYPES
    hint = MAKE[accepted[0]] if ours else _download_hint(name, what, example)
    candidates = [Path(name).expanduser()]
    if not os.path.isabs(name):
        candidates += [base / name for base in model_search_paths()]
    for folder in candidates:
        if folder.is_dir():
            # the type first (another kind of folder lacks other files), unless a required config.json is missing
            if accepted and ((folder / "config.json").is_file() or "config.json" not in required):
                check_model_type(folder, name, accepted)
            missing = _missing(folder, required, weights)
            if missing:
                raise ModelNotFoundError(f"{what} folder {folder} lacks {', '.join(missing)}", hint)
            return folder
    if Path(name).exists():
        raise ModelNotFoundError(f"{what} {name} is a file, not a folder", f"pass the folder that holds {required[0]}")
    if _HUB_ID.match(name):
        folder = _hub_snapshot(name, required, weights)
        if folder is not None:
            if accepted:
                check_model_type(folder, name, accepted)
            return folder
    where = ", ".join(str(p) for p in candidates[1:]) or "the model folders"
    raise ModelNotFoundError(f"{what} not found: {name!r} (not a folder here, not in {where}"
                             f", not in the Hugging Face cache)", hint)


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


def write_model_folder(directory: str | os.PathLike, config, vocab: list[str], weights: dict,
                       training: dict | None = None) -> Path:
    """A zhnlp model folder: config.json (the config dataclass, zhnlp's version and, when given, the
    training record), model.safetensors (numpy arrays) and vocab.txt, each written atomically."""
    import json
    from dataclasses import asdict

    import numpy as np
    from safetensors.numpy import save_file

    from . import __version__
    from .outputs import atomic_path, write_text

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    with atomic_path(directory / "model.safetensors") as tmp:
        save_file({k: np.ascontiguousarray(v) for k, v in weights.items()}, str(tmp))
    write_text(directory / "vocab.txt", "\n".join(vocab) + "\n")
    document = {**asdict(config), "zhnlp_version": __version__}
    if training is not None:
        document["training"] = training
    write_text(directory / "config.json", json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    return directory


def config_from_dict(cls, data: dict, model_type: str):
    """A model config dataclass from a config.json's fields: unknown keys dropped (a newer or an
    HF-style file), lists back to tuples where the field's default is a tuple, ``model_type`` set."""
    known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
    for name, value in known.items():
        if isinstance(value, list) and isinstance(cls.__dataclass_fields__[name].default, tuple):
            known[name] = tuple(value)
    known["model_type"] = model_type
    return cls(**known)
