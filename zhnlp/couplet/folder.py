"""A couplet model folder: config.json, model.safetensors and vocab.txt, read without torch.

Shared by the PyTorch model (training, CUDA) and the numpy runtime (fast CPU inference).
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InputError

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
VOCAB_FILE = "vocab.txt"
PAD, UNK = "[PAD]", "[UNK]"


@dataclass
class CoupletConfig:
    vocab_size: int = 0
    embedding_dim: int = 128  # as the post; also the channel width of every convolution
    dilations: tuple[int, ...] = (1, 1, 1, 1, 1, 1)  # six plain convolutions, as the post's code
    kernel_size: int = 3
    dropout: float = 0.25  # after the embedding, as the post
    max_length: int = 64  # longest line the model accepts (the data's longest is 34)
    model_type: str = field(default="zhnlp-couplet-cnn")

    @classmethod
    def from_dict(cls, data: dict) -> "CoupletConfig":
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        if "dilations" in known:
            known["dilations"] = tuple(known["dilations"])
        return cls(**known)


def read_folder(directory: str | os.PathLike) -> tuple[CoupletConfig, list[str]]:
    """The config and vocabulary of a model folder, or an InputError saying what is missing."""
    directory = Path(directory)
    missing = [n for n in (CONFIG_FILE, WEIGHTS_FILE, VOCAB_FILE) if not (directory / n).is_file()]
    if missing:
        raise InputError(f"couplet model folder {directory} lacks {', '.join(missing)}",
                         "train one: zhnlp train couplet --data ../shared/data/couplet -o DIR")
    try:
        config = CoupletConfig.from_dict(json.loads((directory / CONFIG_FILE).read_text(encoding="utf-8")))
    except (json.JSONDecodeError, TypeError, AttributeError) as exc:
        raise InputError(f"{directory / CONFIG_FILE}: not a couplet model config ({exc})",
                         "give a folder written by zhnlp train couplet") from None
    vocab = (directory / VOCAB_FILE).read_text(encoding="utf-8").split("\n")[:config.vocab_size]
    if len(vocab) != config.vocab_size:
        raise InputError(f"{directory / VOCAB_FILE} has {len(vocab)} entries; config.json says {config.vocab_size}",
                         "give a folder written by zhnlp train couplet")
    return config, vocab
